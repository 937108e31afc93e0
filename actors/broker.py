"""The embedded stream broker: ring buffers of messages per topic (`MemoryBroker`), run as the
named Ray actor `stream-broker` when there is no Redis, so every shard and API replica of one node
shares it. `RayBroker` is the `StreamBroker` port over that actor.

A plain class wrapped by `ray.remote` in one place: tests use `MemoryBroker` in-process as is.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence

import orjson
import ray

from actors.broker_journal import BrokerJournal, Loaded, Record
from actors.names import BROKER_ACTOR, NAMESPACE
from actors.node_placement import singleton_options

log = logging.getLogger(__name__)

_READ_LIMIT = 1_000  # messages per topic in one read: bounds one answer's size
PUBLISH_PART = 1_000  # messages per call to the broker actor (see `RayBroker.publish_many`)
# The journal is rewritten as a snapshot of what is kept once it has grown by this much, or by
# twice the last snapshot if more: the files stay within a few times the history's size, and a
# busy broker does not rewrite its whole history every few seconds.
REWRITE_AFTER_BYTES = 16 * 1024 * 1024


def first_seq_now() -> int:
    """Where a topic that a broker has never seen starts numbering: a thousand per millisecond of
    the clock. A broker that lost its state (the actor restarted, Redis was flushed) so numbers
    on above every seq it gave before, and a client's old seq reads as too old instead of as news
    from the future. About 1.8e15: an exact integer in JSON's doubles (below 2**53) for centuries."""
    return int(time.time() * 1000) * 1000


class MemoryBroker:
    """`twin.ports.StreamBroker` in memory. Without a journal, state is lost when the process ends
    (see `first_seq_now`).

    A message is kept as JSON and decoded once, by its first read: a reader gets what JSON would
    give (a tuple comes back a list), as from Redis. Decoded on every read, the WebSocket fan-out
    of `bench api` measured 1.2-3.0 s at p99 (median of 11 runs 2.1 s); and most messages (the
    school deltas of districts no one watches) are never read, so decoding each when published
    cost the broker about 2 µs of CPU an ingested event. A topic keeps its last `history` messages
    and none older than `history_s`: the live feed publishes a message per district every few
    seconds, and by count alone the history would grow for hours.

    With `journal_dir`, every message is also written there (`actors.broker_journal`) and a broker
    started again on that directory comes back with its history and numbers on from it: its
    followers and resuming clients lose nothing. A journal that cannot be read whole (the
    machine stopped mid-write) is not used: the broker starts empty, as without one."""

    def __init__(self, history: int = 10_000, history_s: float = 300.0,
                 clock: Callable[[], float] = time.monotonic, journal_dir: str | None = None,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self._history, self._history_s, self._clock, self._wall = history, history_s, clock, wall_clock
        self._topics: dict[str, deque[list]] = {}  # [seq, payload (JSON bytes until first read), time]
        self._last: dict[str, int] = {}
        self._news: asyncio.Condition | None = None  # made in the loop that first needs it
        self._journal: BrokerJournal | None = None
        self._rewriting: asyncio.Future | None = None
        self._snapshot_bytes = 0
        self.restored = 0  # messages brought back from the journal
        if journal_dir is not None:
            try:
                self._journal = BrokerJournal(journal_dir)
                if not self._restore(self._journal.load()):  # files that cannot be numbered on from
                    self._journal.rewrite([], self._journal.start_rewrite())
            except OSError as exc:  # a node without the twin's data folder: a broker without history on disk
                log.warning("the stream broker keeps no journal in %s: %s", journal_dir, exc)
                self._journal = None

    def _restore(self, loaded: Loaded) -> bool:
        """Take back the journal's messages, unless some are missing (then start empty: a topic's
        seqs must stay consecutive, and numbering on above lost ones tells followers so)."""
        if not loaded.complete:
            return False
        topics: dict[str, deque[list]] = {}
        last: dict[str, int] = {}
        now, wall_now = self._clock(), self._wall()
        for topic, seq, wall, payload in loaded.records:
            if topic in last and seq <= last[topic]:
                continue  # in the snapshot and in a segment it covered (a rewrite cut short)
            if topic in last and seq != last[topic] + 1:
                log.warning("the stream broker's journal skips seqs of %s: starting empty", topic)
                return False
            last[topic] = seq
            topics.setdefault(topic, deque(maxlen=self._history)).append([seq, payload, now - (wall_now - wall)])
        for kept in topics.values():
            while len(kept) > 1 and kept[0][2] < now - self._history_s:
                kept.popleft()
        self._topics, self._last = topics, last
        self.restored = sum(len(kept) for kept in topics.values())
        return True

    def _condition(self) -> asyncio.Condition:
        if self._news is None:
            self._news = asyncio.Condition()
        return self._news

    async def publish(self, topic: str, payload: dict | bytes) -> int:
        return (await self.publish_many([(topic, payload)]))[0]

    async def publish_many(self, messages: Sequence[tuple[str, dict | bytes]]) -> list[int]:
        seqs = []
        now = self._clock()
        written: list[Record] = []
        wall = self._wall() if self._journal is not None else 0.0
        for topic, payload in messages:
            seq = self._last[topic] + 1 if topic in self._last else first_seq_now()
            self._last[topic] = seq
            kept = self._topics.setdefault(topic, deque(maxlen=self._history))
            data = as_json(payload)
            kept.append([seq, data, now])
            while kept[0][2] < now - self._history_s:  # the newest is never too old
                kept.popleft()
            seqs.append(seq)
            written.append((topic, seq, wall, data))
        if self._journal is not None and written:
            self._write_down(written)
        if seqs:
            async with self._condition():
                self._condition().notify_all()
        return seqs

    def _write_down(self, records: list[Record]) -> None:
        """Journal the messages just kept (before any reader can see them), and start a rewrite
        of the journal when it has grown enough. A journal that cannot be written (a full disk)
        is removed and no longer kept: a restart would otherwise number on from its last message
        and give out seqs again."""
        try:
            self._journal.append(records)
        except OSError as exc:
            log.error("the stream broker's journal cannot be written (%s): removed; a restart starts empty", exc)
            self._journal.discard()
            self._journal = None
            return
        grown = self._journal.bytes_since_rewrite
        if grown > max(REWRITE_AFTER_BYTES, 2 * self._snapshot_bytes) and (
                self._rewriting is None or self._rewriting.done()):
            covered = self._journal.start_rewrite()
            now, wall = self._clock(), self._wall()
            kept = [(topic, m[0], wall - (now - m[2]), m[1]) for topic, ring in self._topics.items() for m in ring]
            self._rewriting = asyncio.get_running_loop().run_in_executor(None, self._rewrite, kept, covered)

    def _rewrite(self, kept: list[tuple[str, int, float, bytes | dict]], covered: int) -> None:
        try:
            records: list[Record] = [(t, seq, wall, p if isinstance(p, bytes) else orjson.dumps(p))
                                     for t, seq, wall, p in kept]
            self._snapshot_bytes = self._journal.rewrite(records, covered)
        except Exception:  # noqa: BLE001 - the segments stay; the next rewrite covers them
            log.exception("rewriting the stream broker's journal failed")

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

    async def restored_messages(self) -> int:
        """How many messages this broker took back from its journal when it started."""
        return self.restored

    async def close(self) -> None:
        if self._rewriting is not None:
            await asyncio.gather(self._rewriting, return_exceptions=True)
        if self._journal is not None:
            self._journal.close()


def _decoded(message: list) -> dict:
    if isinstance(message[1], bytes):
        message[1] = orjson.loads(message[1])
    return message[1]


def as_json(payload: dict | bytes) -> bytes:
    """A message's payload as JSON (a payload may come encoded already)."""
    return payload if isinstance(payload, bytes) else orjson.dumps(payload)


def start_broker_actor(history: int, history_s: float, journal_dir: str | None = None):  # noqa: ANN201 - a Ray actor handle
    """Create (or find) the `stream-broker` actor, on the singletons' node (see
    `actors.node_placement`). Restarted by Ray if it dies: with its history from `journal_dir`
    when it can read it there (restarted on the same node), so readers and resuming clients carry
    on as if nothing happened; else empty, its seqs then starting above the old ones
    (`first_seq_now`), so readers carry on, resumes are too old, and the clients following a
    topic are told that its messages were lost (`serve_app.streams.hub`)."""
    return ray.remote(num_cpus=0, max_restarts=-1, max_concurrency=1000)(MemoryBroker).options(
        name=BROKER_ACTOR, namespace=NAMESPACE, get_if_exists=True, **singleton_options()).remote(
            history, history_s, journal_dir=journal_dir)


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
