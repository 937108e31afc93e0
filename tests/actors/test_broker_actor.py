"""The embedded broker as the named Ray actor `stream-broker`, through the `RayBroker` port."""

import asyncio

import pytest

from actors.broker import RayBroker, start_broker_actor

pytestmark = pytest.mark.ray


async def test_the_broker_actor_serves_publish_read_resume_and_blocking_reads(ray_session):
    import ray

    actor = start_broker_actor(10, 300.0)
    try:
        broker = RayBroker()  # found by name, as a shard or a replica finds it
        seqs = await broker.publish_many([("t", {"n": n}) for n in range(25)])
        first = seqs[0]
        assert seqs == list(range(first, first + 25))
        assert await broker.bounds("t") == (first + 15, first + 24)  # the ring keeps the latest 10
        assert [p["n"] for _, _, p in await broker.read({"t": first}, 0)] == list(range(15, 25))
        waiting = asyncio.create_task(broker.read({"t": first + 24}, 10))
        await asyncio.sleep(0.3)
        assert not waiting.done()
        assert await broker.publish("t", {"n": 25}) == first + 25
        assert await asyncio.wait_for(waiting, 5) == [("t", first + 25, {"n": 25})]

        ray.kill(actor, no_restart=False)  # a crash: Ray restarts it, empty
        await _until_restarted_empty(broker, "t")
        restarted = await broker.publish("t", {"n": 0})
        assert restarted > first + 25  # numbering carries on above, so readers are not stuck
        assert await broker.bounds("t") == (restarted, restarted)
    finally:
        ray.kill(actor, no_restart=True)


async def test_clients_of_a_broker_actor_that_restarted_empty_are_told_to_read_again(ray_session):
    import ray

    from configs.settings import Streams
    from serve_app.streams.hub import BROKER_BACK, BROKER_UNREACHABLE, StreamHub

    actor = start_broker_actor(100, 300.0)
    hub = StreamHub(RayBroker(actor), Streams(read_block_s=0.2))
    heard, notices, seqs = [], [], []
    try:
        with hub.client(heard.append):
            follow, _ = await hub.follow("t", lambda seq, payload: seqs.append(seq), None, notify=notices.append)
            follow.release()
            first = await RayBroker(actor).publish("t", {"n": 1})
            for _ in range(100):
                if seqs:
                    break
                await asyncio.sleep(0.1)
            assert seqs == [first]

            ray.kill(actor, no_restart=False)  # its process dies; Ray starts it again, empty
            await _until_restarted_empty(RayBroker(actor), "t")
            restarted = await RayBroker(actor).publish("t", {"n": 2})
            for _ in range(100):
                if len(seqs) == 2:
                    break
                await asyncio.sleep(0.1)
            assert seqs == [first, restarted]
            # never silently empty: the topic's followers are told what was lost and to read again
            assert [(n["after_seq"], n["next_seq"]) for n in notices] == [(first, restarted)]
            assert heard in ([], [BROKER_UNREACHABLE, BROKER_BACK])  # a read may or may not have hit the restart
    finally:
        await hub.close()
        ray.kill(actor, no_restart=True)


async def _until_restarted_empty(broker: RayBroker, topic: str) -> None:
    """Wait for a killed broker actor to be running again, empty. `ray.kill` returns before the
    process is gone: a message published at once may reach the old actor and number on."""
    import ray

    for _ in range(300):
        try:
            if await broker.bounds(topic) == (1, 0):
                return
        except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError):
            pass
        await asyncio.sleep(0.1)
    pytest.fail("the broker actor did not come back")
