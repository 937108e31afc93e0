"""A shard killed with SIGKILL replays, once restarted, the events appended while it was down; a
stream follower of its districts hears of them as of any folded batch, and of nothing it heard
before the kill a second time."""

import asyncio
import os
import signal

import numpy as np
import pytest

from actors.broker import RayBroker
from actors.remote import TwinCluster
from actors.shard_publisher import schools_topic
from configs import Settings
from configs.settings import Streams
from serve_app.streams.hub import StreamHub
from startup.actor_ports import open_shard_ports, shard_ports_opener
from tests.actors.test_district_shard import _append
from tests.actors.test_ray_cluster import _wait_for_new_pid
from tests.fixtures.events import random_events

pytestmark = pytest.mark.ray

_DISTRICTS = [1, 2]  # shard 1's


async def _heard(heard: list, schools: set[str], after_seq: int, timeout_s: float = 60) -> list[dict]:
    """The messages heard after log seq `after_seq`, once they name every one of `schools`."""
    for _ in range(int(timeout_s * 10)):
        later = [payload for _, payload in heard if payload["seq"] > after_seq]
        if schools <= {school for payload in later for school in payload["school_ids"]}:
            return later
        await asyncio.sleep(0.1)
    pytest.fail(f"the stream did not name the schools changed after log seq {after_seq} within {timeout_s}s")


def _schools_of(ports, batch) -> set[str]:
    ours = np.isin(batch.district, _DISTRICTS) & (batch.school >= 0)
    return {f"{int(ports.directory.school_ids[i]):011d}" for i in batch.school[ours].tolist()}


async def test_a_restarted_shard_publishes_what_it_replays_from_its_outage(ray_session, seeded_url):
    settings = Settings(database_url=seeded_url)
    ports = await open_shard_ports(seeded_url)
    cluster = TwinCluster.start([[0], _DISTRICTS], shard_ports_opener(settings), snapshot_every_events=500,
                                snapshot_every_seconds=3600)
    hub = StreamHub(RayBroker(cluster.broker), Streams(read_block_s=0.2))
    heard: list[tuple[int, dict]] = []
    try:
        await cluster.wait_ready(120)
        router = cluster.router()
        with hub.client():
            for d in _DISTRICTS:
                follow, _ = await hub.follow(schools_topic(d), lambda seq, p: heard.append((seq, p)), None)
                follow.release()
            for seed in range(3):
                batch, after, before_kill = await _append(ports, random_events(ports.directory, 300, seed=seed))
                await router.apply(batch, after, before_kill)
            await _heard(heard, _schools_of(ports, batch), after)
            heard_before = len(heard)
            old = await cluster.shards[1].status.remote()

            os.kill(old["pid"], signal.SIGKILL)
            # appended while the shard is down: its restart folds them from the log, and the
            # delivery retried on the new incarnation finds them folded already
            batch, after, upto = await _append(ports, random_events(ports.directory, 300, seed=99))
            await router.apply(batch, after, upto, timeout_s=120)
            new = await _wait_for_new_pid(cluster, 1, old["pid"])
            assert new["applied_seq"] == upto and new["replayed"] > 0

            expected = _schools_of(ports, batch)
            assert expected
            await _heard(heard, expected, before_kill)  # every school the outage's events changed
            assert all(payload["seq"] > before_kill for _, payload in heard[heard_before:])  # nothing sent again
    finally:
        await hub.close()
        cluster.kill()
        await ports.close()
