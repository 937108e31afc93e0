"""The twin's streams on Redis on a cluster: `mealtwin up --ray-address` on a two-node Ray cluster
(Ray's own `ray start`) with a Redis of the test's own configured. No embedded `stream-broker`
actor is started; the shards on both nodes publish their deltas to Redis Streams under the
twin's prefix, and a school's WebSocket through the twin's HTTP port gets its change from there."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import time

import httpx
import pytest
import redis
import websockets

from tests.actors.test_cluster_up import _feed_key_and_batches, _probe, _send
from tests.fixtures.mealtwin_up import MealtwinUp
from tests.fixtures.private_servers import private_redis  # noqa: F401 - fixture
from tests.fixtures.ray_nodes import RayCluster, node_env

pytestmark = pytest.mark.ray  # Ray processes of its own: never beside others' under xdist

PREFIX = "mealtwin-cluster-test:"


@pytest.mark.timeout(600)
def test_mealtwin_up_on_a_cluster_streams_through_redis(tmp_path, private_redis):
    up = MealtwinUp(tmp_path, env={"MEALTWIN_SERVE_REPLICAS": "2", "MEALTWIN_PLACEMENT__MODE": "packed",
                                   "MEALTWIN_PLACEMENT__SHARDS": "4", "MEALTWIN_REDIS_URL": private_redis.url,
                                   "MEALTWIN_STREAMS__REDIS_PREFIX": PREFIX})
    cluster = RayCluster(node_env({k: v for k, v in up.env.items() if k.startswith("MEALTWIN_")}))
    up.env.update(cluster.auth_env)
    try:
        cluster.start_head(num_cpus=1)
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes(2)
        up.start("--ray-address", cluster.address, "--no-feed")
        up.wait_for(r"mealtwin ready in", 300)
        placed = _probe(cluster, up, "status")
        assert len({s["node"] for s in placed["shards"]}) == 2, placed  # shards on both nodes
        assert placed["singletons"]["stream-broker"] is None, placed  # Redis is the broker

        key, batches = _feed_key_and_batches(up)
        school = next(e["school_id"] for e in batches[0] if e.get("school_id"))
        heard = asyncio.run(_school_stream_after_posting(up, key, batches[:3], school))
        assert heard["type"] == "delta" and heard["data"]["school_id"] == school

        streams = redis.Redis.from_url(private_redis.url)
        with sqlite3.connect(up.data_dir / "twin.db") as db:  # the districts of the events logged
            touched = {d for (d,) in db.execute("SELECT DISTINCT district FROM events WHERE school_id IS NOT NULL")}
        assert len(touched) > 1
        published = {int(k.decode().rsplit(":", 1)[1]) for k in streams.scan_iter(f"{PREFIX}stream:schools:*")
                     if streams.xlen(k) > 0}
        assert touched <= published  # every district the events touched, whichever node its shard is on
        streams.close()

        os.kill(up.proc.pid, signal.SIGTERM)
        assert up.wait_exit(120) == 0, up.output
    finally:
        up.kill_everything()
        cluster.stop()


async def _school_stream_after_posting(up: MealtwinUp, key: str, batches: list[list[dict]], school: str) -> dict:
    """Open `school`'s stream, post the batches, and return the first delta heard."""
    from benchmarks.credentials import bench_token
    from configs import Settings

    token = bench_token(Settings(data_dir=str(up.data_dir), database_url=up.env["MEALTWIN_DATABASE_URL"]))
    base = f"127.0.0.1:{up.port}"
    async with websockets.connect(f"ws://{base}/api/v1/ws/schools/{school}?access_token={token}",
                                  open_timeout=60) as ws:
        snapshot = json.loads(await asyncio.wait_for(ws.recv(), 60))
        assert snapshot["type"] == "snapshot", snapshot
        with httpx.Client(base_url=f"http://{base}", timeout=60, headers={"X-API-Key": key}) as client:
            for batch in batches:
                await asyncio.to_thread(_send, client, batch, [])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 60))
            if frame["type"] == "delta":
                return frame
    raise AssertionError("no delta of the school within 60 s")

