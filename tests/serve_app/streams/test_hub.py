"""The hub tells its clients what the broker's trouble means for them: live updates paused while
the broker does not answer and resumed when it does, and which messages of a topic are gone when
the broker came back without its history (never a stream that silently skipped them)."""

from __future__ import annotations

import asyncio

from actors.broker import MemoryBroker
from configs.settings import Streams
from serve_app.streams.hub import BROKER_BACK, BROKER_UNREACHABLE, StreamHub


class _Switchable:
    """A broker that can be made to fail (as Redis stopped) and replaced (as an actor restarted empty)."""

    def __init__(self) -> None:
        self.inner = MemoryBroker()
        self.down = False

    def __getattr__(self, name: str):  # noqa: ANN204
        method = getattr(self.inner, name)

        async def call(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            if self.down:
                raise ConnectionError("the broker does not answer")
            return await method(*args, **kwargs)

        return call


async def _until(predicate, timeout_s: float = 5.0) -> None:  # noqa: ANN001
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.02)


async def test_clients_are_told_when_the_broker_stops_and_starts_answering():
    broker = _Switchable()
    hub = StreamHub(broker, Streams(read_block_s=0.05))
    heard, messages, late = [], [], []
    with hub.client(heard.append):
        follow, _ = await hub.follow("t", lambda seq, payload: messages.append(seq), None)
        follow.release()
        first = await broker.publish("t", {"n": 1})
        await _until(lambda: messages == [first])

        broker.down = True
        await _until(lambda: heard == [BROKER_UNREACHABLE])
        with hub.client(late.append):  # a client that opens its stream meanwhile is told at once
            assert late == [BROKER_UNREACHABLE]
        broker.down = False
        second = await broker.publish("t", {"n": 2})
        await _until(lambda: messages == [first, second])
        assert heard == [BROKER_UNREACHABLE, BROKER_BACK]  # once each, however many reads failed
    await hub.close()


async def test_a_topic_whose_messages_were_lost_tells_its_followers_to_read_again():
    broker = _Switchable()
    hub = StreamHub(broker, Streams(read_block_s=0.05))
    notices, other_notices, messages = [], [], []
    follow, _ = await hub.follow("t", lambda seq, payload: messages.append(seq), None, notify=notices.append)
    follow.release()
    other, _ = await hub.follow("u", lambda seq, payload: None, None, notify=other_notices.append)
    other.release()
    first = await broker.publish("t", {"n": 1})
    await _until(lambda: messages == [first])

    # the broker restarts empty (whatever it held and the hub had not read is gone): its seqs go on above
    broker.down = True
    await asyncio.sleep(0.1)
    broker.inner = MemoryBroker()
    await asyncio.sleep(0.002)  # seqs of a new broker count from the clock: a later one starts higher
    broker.down = False
    after = await broker.publish("t", {"n": 3})
    await _until(lambda: messages == [first, after])
    assert [(n["missed"], n["after_seq"], n["next_seq"]) for n in notices] == [(True, first, after)]
    assert other_notices == []  # a topic that lost nothing is not told

    # consecutive seqs are no news
    await broker.publish("t", {"n": 4})
    await _until(lambda: len(messages) == 3)
    assert len(notices) == 1
    await hub.close()
