"""The embedded stream broker: ring buffers of messages per topic (`MemoryBroker`), run as the
named Ray actor `stream-broker` when there is no Redis, so every shard and API replica of one node
shares it. `RayBroker` is the `StreamBroker` port over that actor.

A plain class wrapped by `ray.remote` in one place: tests use `MemoryBroker` in-process as is.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from collections.abc import Callable, Sequence

import orjson
import ray

from actors.names import BROKER_ACTOR, NAMESPACE
from actors.node_placement import singleton_options

_READ_LIMIT = 1_000  # messages per topic in one read: bounds one answer's size
PUBLISH_PART = 1_000  # messages per call to the broker actor (see `RayBroker.publish_many`)


def first_seq_now() -> int:
    """Where a topic that a broker has never seen starts numbering: a thousand per millisecond of
    the clock. A broker that lost its state (the actor restarted, Redis was flushed) so numbers
    on above every seq it gave before, and a client's old seq reads as too old instead of as news
    from the future. About 1.8e15: an exact integer in JSON's doubles (below 2**53) for centuries."""
    return int(time.time() * 1000) * 1000


class MemoryBroker:
    """`twin.ports.StreamBroker` in memory. State is lost when the process ends (see `first_seq_now`).

    A message is kept as JSON and decoded once, by its first read: a reader gets what JSON would
    give (a tuple comes back a list), as from Redis. Decoded on every read, the WebSocket fan-out
    of `bench api` measured 1.2-3.0 s at p99 (median of 11 runs 2.1 s); and most messages (the
    school deltas of districts no one watches) are never read, so decoding each when published
    cost the broker about 2 µs of CPU an ingested event. A topic keeps its last `history` messages
    and none older than `history_s`: the live feed publishes a message per district every few
    seconds, and by count alone the history would grow for hours."""

    def __init__(self, history: int = 10_000, history_s: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._history, self._history_s, self._clock = history, history_s, clock
        self._topics: dict[str, deque[list]] = {}  # [seq, payload (JSON bytes until first read), time]
        self._last: dict[str, int] = {}
        self._news: asyncio.Condition | None = None  # made in the loop that first needs it

    def _condition(self) -> asyncio.Condition:
        if self._news is None:
            self._news = asyncio.Condition()
        return self._news

    async def publish(self, topic: str, payload: dict | bytes) -> int:
        return (await self.publish_many([(topic, payload)]))[0]

    async def publish_many(self, messages: Sequence[tuple[str, dict | bytes]]) -> list[int]:
        seqs = []
        now = self._clock()
        for topic, payload in messages:
            seq = self._last[topic] + 1 if topic in self._last else first_seq_now()
            self._last[topic] = seq
            kept = self._topics.setdefault(topic, deque(maxlen=self._history))
            kept.append([seq, as_json(payload), now])
            while kept[0][2] < now - self._history_s:  # the newest is never too old
                kept.popleft()
            seqs.append(seq)
        if seqs:
            async with self._condition():
                self._condition().notify_all()
        return seqs

    def _collect(self, cursors: dict[str, int]) -> list[tuple[str, int, dict]]:
        out = []
        for topic, after in cursors.items():
            kept = self._topics.get(topic)
            if not kept or kept[-1][0] <= after:
                continue
            skip = max(0, after - kept[0][0] + 1)  # seqs in a topic are consecutive
            out.extend((topic, message[0], _decoded(message))
                       for message in itertools.islice(kept, skip, skip + _READ_LIMIT))
        return out

    async def read(self, cursors: dict[str, int], block_s: float) -> list[tuple[str, int, dict]]:
        found = self._collect(cursors)
        if found or block_s <= 0:
            return found
        news = self._condition()
        try:
            async with news:
                await asyncio.wait_for(news.wait_for(lambda: bool(self._collect_any(cursors))), block_s)
        except TimeoutError:
            return []
        return self._collect(cursors)

    def _collect_any(self, cursors: dict[str, int]) -> bool:
        return any(self._last.get(t, 0) > after for t, after in cursors.items())

    async def bounds(self, topic: str) -> tuple[int, int]:
        kept = self._topics.get(topic)
        last = self._last.get(topic, 0)
        return (kept[0][0] if kept else last + 1), last

    async def close(self) -> None:
        pass


def _decoded(message: list) -> dict:
    if isinstance(message[1], bytes):
        message[1] = orjson.loads(message[1])
    return message[1]


def as_json(payload: dict | bytes) -> bytes:
    """A message's payload as JSON (a payload may come encoded already)."""
    return payload if isinstance(payload, bytes) else orjson.dumps(payload)


def start_broker_actor(history: int, history_s: float):  # noqa: ANN201 - a Ray actor handle
    """Create (or find) the `stream-broker` actor, on the singletons' node (see
    `actors.node_placement`). Restarted by Ray if it dies, empty; its seqs then start above the old
    ones (`first_seq_now`), so readers carry on, resumes are too old, and the clients following a
    topic are told that its messages were lost (`serve_app.streams.hub`)."""
    return ray.remote(num_cpus=0, max_restarts=-1, max_concurrency=1000)(MemoryBroker).options(
        name=BROKER_ACTOR, namespace=NAMESPACE, get_if_exists=True, **singleton_options()).remote(history, history_s)


class RayBroker:
    """`twin.ports.StreamBroker` over the `stream-broker` actor (found by name)."""

    def __init__(self, actor=None) -> None:  # noqa: ANN001
        self._actor = actor or ray.get_actor(BROKER_ACTOR, namespace=NAMESPACE)

    async def publish(self, topic: str, payload: dict | bytes) -> int:
        return await self._actor.publish.remote(topic, payload)

    async def publish_many(self, messages: Sequence[tuple[str, dict | bytes]]) -> list[int]:
        # In parts: the actor unpickles and keeps a whole call before it answers anyone else. A
        # risk round of 86,086 alerts (a twin started without stock) held it ~3 s in one call,
        # and every school's live delta behind it; between parts, other publishers get their turn.
        messages = list(messages)
        seqs: list[int] = []
        for start in range(0, len(messages), PUBLISH_PART):
            seqs += await self._actor.publish_many.remote(messages[start : start + PUBLISH_PART])
        return seqs

    async def read(self, cursors: dict[str, int], block_s: float) -> list[tuple[str, int, dict]]:
        return await self._actor.read.remote(cursors, block_s)

    async def bounds(self, topic: str) -> tuple[int, int]:
        return tuple(await self._actor.bounds.remote(topic))

    async def close(self) -> None:
        pass
