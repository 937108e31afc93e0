"""`StreamHub`: one per API replica, between the broker (or the twin) and the replica's clients.

One background loop reads the broker for every topic some client here follows, from one cursor
per topic, and hands each message to those clients' sinks, which only filter and enqueue: a slow
client never holds the loop up. Dashboards are not on the broker: a poller per watched scope reads
the twin's view of it and passes the view on only when the scope's applied seq moved, so a thousand
dashboards of one district cost one poller. The poller follows its districts' `schools:` topics as
news: a shard's message that it folded a batch (with the batch's seq) gets the scope read at once,
and read again every `dashboard_news_gap_s` while the view does not hold that seq yet (the state's
roll-ups reach the state twin a moment after the shard's news, seconds on a loaded machine), for at
most `dashboard_chase_s` (at least `dashboard_interval_s`).
Without news, the scope is read every `dashboard_interval_s` (the risk summary moves on its own).
A poller only decides when its scope is due: the dashboards' reads (`serve_app.streams.kinds`) go
through `TwinReader.scope_view`, which gathers the scopes due at one moment (every scope of a
district when its shard's news arrives, and those chasing it together) into one call per shard and
one to the state twin, so a shard's news costs the replica one read of each shard, not one per scope.

Every follower of a message gets the same payload object, a `Shared` (`serve_app.streams.shared`):
a topic's message, a school's delta (cut once per message and school, however many clients follow
the school), a scope's view; so each is encoded to JSON once, not once per client.

The clients are told when the stream is degraded: every client of the replica gets a notice when
the broker stops answering (Redis down, the broker actor restarting) and another when it answers
again; and a client following a topic gets a notice to read the current state again when the
topic's seqs jump (a topic's seqs are consecutive: a jump means messages the hub never read are
gone, as when the broker came back without its history), rather than a stream that silently
skipped them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from configs.settings import Streams
from serve_app.streams.pacer import Pacer
from serve_app.streams.shared import shared
from twin.deltas import school_delta
from twin.ports import StreamBroker

log = logging.getLogger(__name__)

Sink = Callable[[int, Any], None]  # (seq, payload): must not block
Notify = Callable[[dict], None]  # a notice's data for the client: must not block

BROKER_UNREACHABLE = {"degraded": True, "broker": "unreachable",
                      "message": "live updates are paused: the stream broker does not answer; reads still work"}
BROKER_BACK = {"degraded": False, "broker": "back", "message": "live updates resumed"}


class Follow:
    """One client's interest in one topic. Messages wait in `held` until `release`, so that a
    backlog read from history can go to the client first, in seq order."""

    def __init__(self, sink: Sink, school_id: str | None = None, notify: Notify | None = None) -> None:
        self._sink = sink
        self.school_id = school_id  # only this school's entry of a `schools:` message
        self.notify = notify  # told when the topic's messages were lost (see `missed`)
        self._held: list[tuple[int, Any]] | None = []

    def deliver(self, seq: int, payload: Any) -> None:
        if self._held is not None:
            self._held.append((seq, payload))
        else:
            self._sink(seq, payload)

    def release(self) -> None:
        held, self._held = self._held or [], None
        for seq, payload in held:
            self._sink(seq, payload)


def missed(after_seq: int, next_seq: int) -> dict:
    """The notice that a topic's messages after `after_seq` and before `next_seq` are gone."""
    return {"missed": True, "after_seq": after_seq, "next_seq": next_seq,
            "message": "the stream broker lost messages (it restarted without its history): read the current "
                       "state again; updates continue from next_seq"}


@dataclass
class Backlog:
    """What a client missed: `messages` after its seq, `too_old` when some are no longer kept (or the
    seq is from the future: the broker started afresh), and the topic's `latest_seq` at that time."""

    messages: list[tuple[int, Any]]
    too_old: bool
    latest_seq: int


@dataclass
class _Scope:
    read: Callable[[], Awaitable[tuple[int, Any]]]
    follows: set[Follow] = field(default_factory=set)
    latest: tuple[int, Any] | None = None
    task: asyncio.Task | None = None
    news_seq: int = -1  # the highest batch seq a shard of the scope said it folded
    news: asyncio.Event = field(default_factory=asyncio.Event)
    news_follows: list[tuple[str, Follow]] = field(default_factory=list)
    chasing_since: float | None = None  # when the view was first seen not holding the news

    def heard(self, payload: Any) -> None:
        """A sink of the scope's news topics: note the folded batch's seq and wake the poller."""
        seq = payload.get("seq") if isinstance(payload, dict) else None
        if isinstance(seq, int) and seq > self.news_seq:
            self.news_seq = seq
            self.news.set()

    def holds_news(self) -> bool:
        return self.latest is not None and self.latest[0] >= self.news_seq


class StreamHub:
    def __init__(self, broker: StreamBroker, config: Streams) -> None:
        self.broker = broker
        self._config = config
        self._cursors: dict[str, int] = {}  # topic -> last seq handed out
        self._follows: dict[str, set[Follow]] = {}
        self._wake = asyncio.Event()
        self._reader: asyncio.Task | None = None
        self._scopes: dict[str, _Scope] = {}
        self._clients = 0
        self._notified: set[Notify] = set()  # the clients told of the broker's state
        self.pacer = Pacer(config)  # every client's heartbeats and deadlines, in one loop
        self.broker_unreachable = False

    # -- clients ----------------------------------------------------------------------------------
    def connected_clients(self) -> int:
        """Open WebSocket streams on this replica (a gauge for the metrics)."""
        return self._clients

    @contextlib.contextmanager
    def client(self, notify: Notify | None = None):  # noqa: ANN201
        """One open stream; `notify` hears when the broker stops and starts answering (told at
        once if it does not answer now)."""
        self._clients += 1
        if notify is not None:
            self._notified.add(notify)
            if self.broker_unreachable:
                notify(BROKER_UNREACHABLE)
        try:
            yield
        finally:
            self._clients -= 1
            self._notified.discard(notify)

    def _broker_answered(self, answered: bool) -> None:
        if answered == (not self.broker_unreachable):
            return
        self.broker_unreachable = not answered
        for notify in list(self._notified):
            notify(BROKER_BACK if answered else BROKER_UNREACHABLE)

    # -- broker topics ----------------------------------------------------------------------------
    async def follow(self, topic: str, sink: Sink, after_seq: int | None,
                     school_id: str | None = None, notify: Notify | None = None) -> tuple[Follow, Backlog]:
        """Start handing `topic`'s new messages to `sink` (held until `Follow.release`), and read
        what came after `after_seq` (None: nothing, the client starts from now). With `school_id`,
        `sink` gets only that school's delta from each message that has one. `notify` hears when
        messages of the topic were lost."""
        first, latest = await self.broker.bounds(topic)
        follow = Follow(sink, school_id, notify)
        if topic not in self._cursors:
            self._cursors[topic] = latest
        self._follows.setdefault(topic, set()).add(follow)
        upto = self._cursors[topic]  # later messages reach `follow` live
        self._ensure_reader()
        if after_seq is None:
            return follow, Backlog([], False, latest)
        too_old = after_seq > latest or after_seq + 1 < first
        cursor = first - 1 if too_old else after_seq
        messages: list[tuple[int, Any]] = []
        while cursor < upto:
            got = [(seq, p) for _, seq, p in await self.broker.read({topic: cursor}, 0) if seq <= upto]
            if not got:
                break
            cursor = got[-1][0]
            for seq, payload in got:
                picked = _pick(payload, school_id) if school_id else payload
                if picked is not None:
                    messages.append((seq, picked))
        return follow, Backlog(messages, too_old, latest)

    def unfollow(self, topic: str, follow: Follow) -> None:
        follows = self._follows.get(topic)
        if follows is None:
            return
        follows.discard(follow)
        if not follows:
            del self._follows[topic]
            self._cursors.pop(topic, None)

    def _ensure_reader(self) -> None:
        self._wake.set()
        if self._reader is None or self._reader.done():
            self._reader = asyncio.get_running_loop().create_task(self._read_loop())

    async def _read_loop(self) -> None:
        while True:
            if not self._cursors:
                self._wake.clear()
                await self._wake.wait()
                continue
            try:
                got = await self.broker.read(dict(self._cursors), self._config.read_block_s)
            except Exception:  # noqa: BLE001 - the broker may come back; the clients stay
                if not self.broker_unreachable:
                    log.exception("reading the stream broker failed; retrying")
                self._broker_answered(False)
                await asyncio.sleep(1.0)
                continue
            self._broker_answered(True)
            for topic, seq, payload in got:
                if seq <= self._cursors.get(topic, seq):
                    continue  # nobody follows it any more, or already handed out
                last = self._cursors[topic]
                if 0 < last < seq - 1:  # 0: the topic had no message when followed, nothing to miss
                    for follow in list(self._follows.get(topic, ())):
                        if follow.notify is not None:
                            follow.notify(missed(last, seq))
                self._cursors[topic] = seq
                whole = shared(payload)
                by_school = None
                deltas: dict[str, Any] = {}  # school id -> its delta, cut once for all its clients
                for follow in list(self._follows.get(topic, ())):
                    if follow.school_id is None:
                        follow.deliver(seq, whole)
                        continue
                    if by_school is None:  # once per message, however many school clients
                        by_school = {school: k for k, school in enumerate(payload.get("school_ids", ()))}
                    k = by_school.get(follow.school_id)
                    if k is None:
                        continue
                    delta = deltas.get(follow.school_id)
                    if delta is None:
                        delta = deltas[follow.school_id] = shared(school_delta(payload, k))
                    follow.deliver(seq, delta)

    # -- dashboard scopes -------------------------------------------------------------------------
    async def watch(self, key: str, read: Callable[[], Awaitable[tuple[int, Any]]], sink: Sink,
                    news_topics: tuple[str, ...] = ()) -> tuple[Follow, tuple[int, Any]]:
        """Hand `sink` the scope's view whenever its seq moves; returns the view as of now (read
        afresh unless the scope's poller has one), for the client's snapshot. `news_topics`: the
        broker topics whose messages say a batch of the scope was folded (`schools:<district>`)."""
        scope = self._scopes.get(key)
        if scope is None:
            scope = self._scopes[key] = _Scope(read)
        current = scope.latest or _shared_view(await read())
        scope = self._scopes.setdefault(key, scope)  # its poller may have ended while we read
        scope.latest = scope.latest or current
        follow = Follow(sink)
        follow.release()  # views supersede each other: nothing to hold back
        scope.follows.add(follow)
        if scope.task is None or scope.task.done():
            scope.task = asyncio.get_running_loop().create_task(self._poll(key, scope, news_topics))
        return follow, current

    def unwatch(self, key: str, follow: Follow) -> None:
        scope = self._scopes.get(key)
        if scope is not None:
            scope.follows.discard(follow)

    async def _poll(self, key: str, scope: _Scope, news_topics: tuple[str, ...]) -> None:
        try:
            for topic in news_topics:
                news, _ = await self.follow(topic, lambda _seq, payload: scope.heard(payload), None)
                news.release()
                scope.news_follows.append((topic, news))
        except Exception:  # noqa: BLE001 - without news the scope is still read every interval
            log.warning("dashboard scope %s follows no news; read every %.1fs", key,
                        self._config.dashboard_interval_s, exc_info=True)
        try:
            last_read = asyncio.get_running_loop().time()
            while scope.follows:
                await self._until_due(scope, last_read)
                if not scope.follows:
                    break
                last_read = asyncio.get_running_loop().time()
                try:
                    seq, view = await scope.read()
                except Exception:  # noqa: BLE001 - a shard restarting: try again next interval
                    log.warning("reading dashboard scope %s failed", key, exc_info=True)
                    await asyncio.sleep(self._config.dashboard_interval_s)
                    continue
                if scope.latest is None or seq != scope.latest[0]:
                    view = shared(view)
                    scope.latest = (seq, view)
                    for follow in list(scope.follows):
                        follow.deliver(seq, view)
        finally:
            for topic, news in scope.news_follows:
                self.unfollow(topic, news)
            scope.news_follows.clear()
            if self._scopes.get(key) is scope:
                self._scopes.pop(key, None)  # nobody watches: the next watcher reads afresh

    async def _until_due(self, scope: _Scope, last_read: float) -> None:
        """Wait for the scope's next read: `dashboard_news_gap_s` after the last read when a shard's
        news is not yet in the view (so news a moment old is read at once), else the interval."""
        loop = asyncio.get_running_loop()
        interval, gap = self._config.dashboard_interval_s, self._config.dashboard_news_gap_s
        chase = max(self._config.dashboard_chase_s, interval)  # past it, the regular interval will do
        while scope.follows:
            now = loop.time()
            if now >= last_read + interval:
                return
            if scope.holds_news():
                scope.chasing_since = None
            else:
                if scope.chasing_since is None:
                    scope.chasing_since = now
                if now - scope.chasing_since < chase:
                    await asyncio.sleep(max(0.0, last_read + gap - now))
                    return
            scope.news.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(last_read + interval - now):  # a timer, not a task per wait
                    await scope.news.wait()

    async def close(self) -> None:
        tasks = [t for t in [self._reader, *(s.task for s in self._scopes.values())] if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.pacer.close()
        await self.broker.close()


def _shared_view(read: tuple[int, Any]) -> tuple[int, Any]:
    seq, view = read
    return seq, shared(view)


def _pick(payload: dict, school_id: str) -> dict | None:
    ids = payload.get("school_ids", [])
    return school_delta(payload, ids.index(school_id)) if school_id in ids else None
