"""`StreamHub`: one per API replica, between the broker (or the twin) and the replica's clients.

One background loop reads the broker for every topic some client here follows, from one cursor
per topic, and hands each message to those clients' sinks, which only filter and enqueue: a slow
client never holds the loop up. Dashboards are not on the broker: a poller per watched scope reads
the twin at most once per `dashboard_interval_s` and passes the view on only when the scope's
applied seq moved, so a thousand dashboards of one district cost one read a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from configs.settings import Streams
from twin.deltas import school_delta
from twin.ports import StreamBroker

log = logging.getLogger(__name__)

Sink = Callable[[int, Any], None]  # (seq, payload): must not block


class Follow:
    """One client's interest in one topic. Messages wait in `held` until `release`, so that a
    backlog read from history can go to the client first, in seq order."""

    def __init__(self, sink: Sink, school_id: str | None = None) -> None:
        self._sink = sink
        self.school_id = school_id  # only this school's entry of a `schools:` message
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

    # -- clients ----------------------------------------------------------------------------------
    def connected_clients(self) -> int:
        """Open WebSocket streams on this replica (a gauge for the metrics)."""
        return self._clients

    @contextlib.contextmanager
    def client(self):  # noqa: ANN201
        self._clients += 1
        try:
            yield
        finally:
            self._clients -= 1

    # -- broker topics ----------------------------------------------------------------------------
    async def follow(self, topic: str, sink: Sink, after_seq: int | None,
                     school_id: str | None = None) -> tuple[Follow, Backlog]:
        """Start handing `topic`'s new messages to `sink` (held until `Follow.release`), and read
        what came after `after_seq` (None: nothing, the client starts from now). With `school_id`,
        `sink` gets only that school's delta from each message that has one."""
        first, latest = await self.broker.bounds(topic)
        follow = Follow(sink, school_id)
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
                log.exception("reading the stream broker failed; retrying")
                await asyncio.sleep(1.0)
                continue
            for topic, seq, payload in got:
                if seq <= self._cursors.get(topic, seq):
                    continue  # nobody follows it any more, or already handed out
                self._cursors[topic] = seq
                by_school = None
                for follow in list(self._follows.get(topic, ())):
                    if follow.school_id is None:
                        follow.deliver(seq, payload)
                        continue
                    if by_school is None:  # once per message, however many school clients
                        by_school = {school: k for k, school in enumerate(payload.get("school_ids", ()))}
                    if follow.school_id in by_school:
                        follow.deliver(seq, school_delta(payload, by_school[follow.school_id]))

    # -- dashboard scopes -------------------------------------------------------------------------
    async def watch(self, key: str, read: Callable[[], Awaitable[tuple[int, Any]]], sink: Sink) -> tuple[Follow, tuple[int, Any]]:
        """Hand `sink` the scope's view whenever its seq moves; returns the view as of now (read
        afresh unless the scope's poller has one), for the client's snapshot."""
        scope = self._scopes.get(key)
        if scope is None:
            scope = self._scopes[key] = _Scope(read)
        current = scope.latest or await read()
        scope = self._scopes.setdefault(key, scope)  # its poller may have ended while we read
        scope.latest = scope.latest or current
        follow = Follow(sink)
        follow.release()  # views supersede each other: nothing to hold back
        scope.follows.add(follow)
        if scope.task is None or scope.task.done():
            scope.task = asyncio.get_running_loop().create_task(self._poll(key, scope))
        return follow, current

    def unwatch(self, key: str, follow: Follow) -> None:
        scope = self._scopes.get(key)
        if scope is not None:
            scope.follows.discard(follow)

    async def _poll(self, key: str, scope: _Scope) -> None:
        while scope.follows:
            await asyncio.sleep(self._config.dashboard_interval_s)
            try:
                seq, view = await scope.read()
            except Exception:  # noqa: BLE001 - a shard restarting: try again next interval
                log.warning("reading dashboard scope %s failed", key, exc_info=True)
                continue
            if scope.latest is None or seq != scope.latest[0]:
                scope.latest = (seq, view)
                for follow in list(scope.follows):
                    follow.deliver(seq, view)
        self._scopes.pop(key, None)  # nobody watches: the next watcher reads afresh

    async def close(self) -> None:
        tasks = [t for t in [self._reader, *(s.task for s in self._scopes.values())] if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.broker.close()


def _pick(payload: dict, school_id: str) -> dict | None:
    ids = payload.get("school_ids", [])
    return school_delta(payload, ids.index(school_id)) if school_id in ids else None
