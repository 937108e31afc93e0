"""The `stream-broker` actor with its journal: killed, Ray restarts it with its history, and its
followers and resuming clients carry on with nothing lost and no `missed` notice; restarted where
its journal is gone (another node), it starts empty and its followers are told."""

import asyncio
import shutil

import pytest

from actors.broker import RayBroker, start_broker_actor
from configs.settings import Streams
from serve_app.streams.hub import StreamHub
from tests.actors.test_broker_actor import _until_restarted_empty

pytestmark = pytest.mark.ray


async def _until(check, what: str) -> None:
    """Wait for `check()` (a bool, or a coroutine of one) to be true."""
    for _ in range(300):
        done = check()
        if await done if asyncio.iscoroutine(done) else done:
            return
        await asyncio.sleep(0.1)
    pytest.fail(f"{what} did not happen")


async def _restarted_with_history(broker: RayBroker) -> bool:
    import ray

    try:
        return await broker._actor.restored_messages.remote() > 0
    except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError):
        return False


async def test_a_killed_broker_actor_comes_back_with_its_history(ray_session, tmp_path):
    import ray

    journal = tmp_path / "broker"
    actor = start_broker_actor(100, 300.0, str(journal))
    broker = RayBroker(actor)
    hub = StreamHub(broker, Streams(read_block_s=0.2))
    seqs, notices = [], []
    try:
        with hub.client():
            follow, _ = await hub.follow("t", lambda seq, payload: seqs.append(seq), None, notify=notices.append)
            follow.release()
            published = await broker.publish_many([("t", {"n": n}) for n in range(3)])
            await _until(lambda: len(seqs) == 3, "the follower hearing 3 messages")

            ray.kill(actor, no_restart=False)  # a crash: Ray restarts it, on the same node, with its journal
            await _until(lambda: _restarted_with_history(broker), "the broker's restart with its history")
            after = await broker.publish("t", {"n": 3})
            assert after == published[-1] + 1  # numbered on, not above
            await _until(lambda: len(seqs) == 4, "the follower hearing the 4th message")
            assert seqs == [*published, after] and notices == []  # nothing lost, nothing to tell

            # a client that was away resumes from its last seq: what it missed is still there
            resumed, backlog = await hub.follow("t", lambda seq, payload: None, published[0])
            resumed.release()
            assert not backlog.too_old
            assert [seq for seq, _ in backlog.messages] == [*published[1:], after]
            assert [p["n"] for _, p in backlog.messages] == [1, 2, 3]

            shutil.rmtree(journal)  # as if restarted on a node without its files
            ray.kill(actor, no_restart=False)
            await _until_restarted_empty(broker, "t")
            restarted = await broker.publish("t", {"n": 4})
            await _until(lambda: len(seqs) == 5, "the follower hearing the restarted broker")
            assert restarted > after + 1
            assert [(n["after_seq"], n["next_seq"]) for n in notices] == [(after, restarted)]  # told: read again
    finally:
        await hub.close()
        ray.kill(actor, no_restart=True)
