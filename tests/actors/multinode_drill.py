"""The twin on a two-node Ray cluster, losing a node mid-ingest: run as a program of its own
(`python -m tests.actors.multinode_drill WORKDIR`), because a process holds one Ray connection
and the test session's shared Ray is not this cluster. It writes what it saw to
`WORKDIR/drill.json` for `test_multinode` to judge.

Both nodes are real Ray nodes (a raylet, object store and workers each, one GCS), started by
Ray's own `ray.cluster_utils.Cluster` on this machine. The node dies as a machine would: its
raylet gets SIGKILL, its workers (the shards it hosted) go with it, and the GCS declares it dead
after missed health checks (made quick here, so that the drill takes seconds, not a minute).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import sys
import time
from pathlib import Path

import numpy as np
import orjson

SHARDS = [[0], [1], [2], [3]]  # four districts, one shard each: two per node
BATCHES, EVENTS_PER_BATCH, KILL_AFTER_BATCH = 12, 200, 4
PACE_AFTER_KILL_S = 1.0  # the batches after the kill span the node's death and its shards' restart
NODE_CPUS = 1  # equal nodes: the shards split two and two
FAST_DEATH = {"health_check_period_ms": 1000, "health_check_timeout_ms": 2000, "health_check_failure_threshold": 5}


async def drill(workdir: Path) -> dict:
    import ray
    from ray.cluster_utils import Cluster

    from actors.remote import TwinCluster, start_ray
    from configs import Settings
    from db.engine import create_engine
    from db.migrate import upgrade_async
    from db.school_repository import SchoolRepository
    from serve_app.twin.ingest import IngestService
    from startup.actor_ports import open_shard_ports, shard_ports_opener
    from tests.fixtures.builders import small_directory
    from tests.fixtures.events import random_events
    from tests.fixtures.schools import school_rows
    from twin.placement import shard_loads

    report: dict = {"timings": {}}
    clock = time.monotonic()
    url = f"sqlite+aiosqlite:///{workdir}/twin.db"
    await upgrade_async(url)
    engine = create_engine(url)
    await SchoolRepository(engine).insert_many(school_rows(*small_directory(districts=(0, 1, 2, 3))))
    await engine.dispose()

    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": NODE_CPUS, "object_store_memory": 100 * 1024 * 1024, "include_dashboard": False,
        "_system_config": FAST_DEATH})
    worker = cluster.add_node(num_cpus=NODE_CPUS, object_store_memory=100 * 1024 * 1024)
    # joined as `RAY_ADDRESS=... mealtwin up` joins a cluster
    os.environ["RAY_ADDRESS"] = cluster.address
    report["joined_not_started"] = not start_ray(None).started_here
    report["head"], report["worker"] = cluster.head_node.node_id, worker.node_id
    report["timings"]["cluster_s"] = round(time.monotonic() - clock, 1)

    ports = await open_shard_ports(url)
    settings = Settings(database_url=url)
    twin = TwinCluster.start(SHARDS, shard_ports_opener(settings), snapshot_every_events=300,
                             snapshot_every_seconds=3600, stream_history=1000,
                             shard_loads=shard_loads(SHARDS, ports.directory.school_district, 38))
    try:
        before = await twin.wait_ready(180)
        report["before"] = [{"node": s["node"], "pid": s["pid"]} for s in before]
        report["timings"]["shards_s"] = round(time.monotonic() - clock, 1)
        report["replica_nodes"] = _serve_api(settings)
        report["timings"]["serve_s"] = round(time.monotonic() - clock, 1)

        ingest = IngestService(ports.event_log, ports.directory, twin.router(), max_events=10_000,
                               apply_timeout_s=120)
        acked: list[tuple[str, int]] = []
        killed_at: list[float] = []
        for k in range(BATCHES):
            if killed_at:
                await asyncio.sleep(PACE_AFTER_KILL_S)
            body = orjson.dumps({"events": random_events(ports.directory, EVENTS_PER_BATCH, seed=k, prefix="m")})
            answer = await ingest.ingest(body)
            acked += [(r["event_id"], r["seq"]) for r in answer["results"] if r["status"] in ("accepted", "correction")]
            if k + 1 == KILL_AFTER_BATCH:
                # the next batches go in while the node dies and its shards are restarted elsewhere
                os.kill(worker.all_processes["raylet"][0].process.pid, signal.SIGKILL)
                killed_at.append(time.monotonic())
        report["acked"] = acked
        report["timings"]["ingest_s"] = round(time.monotonic() - killed_at[0], 1) if killed_at else None

        after = await _after_recovery(twin, {s["pid"] for s in before if s["node"] == worker.node_id})
        report["after"] = [{"node": s["node"], "pid": s["pid"], "applied_seq": s["applied_seq"],
                            "replayed": s["replayed"]} for s in after]
        report["node_alive"] = {n["NodeID"]: n["Alive"] for n in ray.nodes()}
        report["timings"]["recovered_s"] = round(time.monotonic() - killed_at[0], 1)

        with sqlite3.connect(workdir / "twin.db") as db:
            report["log"] = db.execute("SELECT event_id, seq FROM events").fetchall()
            report["snapshot_seqs"] = dict(db.execute("SELECT district, MAX(seq) FROM snapshots GROUP BY district"))
        report["equal_to_fresh_fold"] = await _equal_to_fresh_fold(twin, ports)
    finally:
        twin.kill()
        await ports.close()
        ray.shutdown()
        cluster.shutdown()
    report["timings"]["total_s"] = round(time.monotonic() - clock, 1)
    return report


def _serve_api(settings) -> list[str]:  # noqa: ANN001
    """Deploy the twin's API (two replicas) as `mealtwin up` does; the nodes its replicas run on.
    One HTTP proxy, on the head: the nodes share this machine's ports."""
    from ray import serve
    # Ray's own actor table: its state API would need a dashboard
    from ray._private.state import actors

    from startup.deployment import build_app
    from tests.fixtures.ports import free_port

    serve.start(proxy_location="HeadOnly", http_options={"host": "127.0.0.1", "port": free_port()})
    serve.run(build_app(settings.model_copy(update={"serve_replicas": 2})), name="mealtwin", route_prefix="/")
    return sorted(a["Address"]["NodeID"] for a in actors().values()
                  if a["ActorClassName"].startswith("ServeReplica:mealtwin") and a["State"] == "ALIVE")


async def _after_recovery(twin, lost_pids: set[int], timeout_s: float = 90.0) -> list[dict]:  # noqa: ANN001
    """Every shard's status once none answers from a process of the dead node and all have
    folded the whole log."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            statuses = await asyncio.wait_for(asyncio.gather(*(s.status.remote() for s in twin.shards)), 10)
            seqs = {s["applied_seq"] for s in statuses}
            if not lost_pids & {s["pid"] for s in statuses} and len(seqs) == 1:
                return list(statuses)
        except Exception:  # noqa: BLE001 - a shard is restarting
            pass
        if time.monotonic() > deadline:
            raise TimeoutError("the shards of the dead node did not come back")
        await asyncio.sleep(0.5)


async def _equal_to_fresh_fold(twin, ports) -> list[bool]:  # noqa: ANN001
    """Per shard, whether its roll-ups and applied seq are those of a shard folded afresh, in this
    process, from the whole log (no snapshot)."""
    from actors.district_shard import DistrictShard

    out = []
    for handle, districts in zip(twin.shards, twin.placement):
        reference = DistrictShard(districts, ports.directory, ports.enrolment, ports.event_log, _NoSnapshots())
        await reference.recover()
        live = await handle.district_rows.remote()
        fresh = reference.district_rows()
        out.append(bool(live["applied_seq"] == reference.applied_seq
                        and np.allclose(live["rows"], fresh["rows"], rtol=1e-9, atol=1e-9, equal_nan=True)))
    return out


class _NoSnapshots:
    async def latest(self, district):  # noqa: ANN001, ANN201
        return None


def main() -> None:
    workdir = Path(sys.argv[1])
    report = asyncio.run(drill(workdir))
    (workdir / "drill.json").write_text(json.dumps(report))


if __name__ == "__main__":
    main()
