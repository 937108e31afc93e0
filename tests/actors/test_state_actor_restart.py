"""The state actor killed under load: Ray restarts it empty, it asks every shard for its roll-ups,
and once caught up it holds exactly what the shards hold, the batch folded meanwhile included."""

import asyncio

import pytest
import ray

from actors.remote import TwinCluster
from actors.state_twin import StateTwin
from configs import Settings
from startup.actor_ports import open_shard_ports, shard_ports_opener
from tests.actors.test_district_shard import _append
from tests.fixtures.events import random_events

pytestmark = pytest.mark.ray
PLACEMENT = [[0], [1, 2]]


async def _state_when(cluster: TwinCluster, done, timeout_s: float = 60) -> dict:  # noqa: ANN001
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        try:
            state = await asyncio.wait_for(cluster.twin_state(), 10)
            if done(state):
                return state
        except Exception:  # noqa: BLE001 - the actor is restarting
            pass
        assert asyncio.get_running_loop().time() < deadline, "the state actor did not catch up"
        await asyncio.sleep(0.2)


async def test_a_killed_state_actor_comes_back_caught_up(ray_session, sqlite_seeded):
    ports = await open_shard_ports(sqlite_seeded)
    cluster = TwinCluster.start(PLACEMENT, shard_ports_opener(Settings(database_url=sqlite_seeded)),
                                snapshot_every_events=500, snapshot_every_seconds=3600)
    try:
        await cluster.wait_ready(120)
        router = cluster.router()
        for seed in range(2):
            batch, after, upto = await _append(ports, random_events(ports.directory, 300, seed=seed))
            await router.apply(batch, after, upto)
        await _state_when(cluster, lambda s: s["applied_seq_min"] == upto)

        ray.kill(cluster.state, no_restart=False)  # a crash: Ray restarts it
        batch, after, upto = await _append(ports, random_events(ports.directory, 300, seed=9))
        await router.apply(batch, after, upto, timeout_s=120)  # the shards fold on meanwhile
        restarted = await _state_when(cluster, lambda s: s["applied_seq_min"] == upto)

        reference = StateTwin(PLACEMENT)
        for k, shard in enumerate(cluster.shards):
            reference.update(k, await shard.district_rows.remote())
        assert restarted == reference.state()
    finally:
        cluster.kill()
        await ports.close()
