"""`ClientQueue`: what waits to be sent to one WebSocket client; bounded, and never blocks the hub.

When more than `limit` messages wait, the client is not keeping up: its deltas are conflated to
the latest per key (per school, per dashboard scope), and it is sent a notice that it fell behind.
Messages without a key (alerts) are kept, the oldest dropped if they alone overflow. A queue of
such messages only (an alerts stream) that is full already drops its oldest message for each new
one in constant time, not by conflating the whole queue again: a storm of alerts (tens of thousands
at once, as when every school turns stale) is put a thousand at a time into each alerts client's
queue, and conflating 256 messages for each of them took ~80 µs, a minute of a replica's CPU.

The client's sender waits on the queue without a timer or a task of its own: `put` (or `wake`,
when the session has something else to do, as when the client left) ends the wait. Heartbeats and
deadlines are the `serve_app.streams.pacer.Pacer`'s, one loop for every client of the replica.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Outgoing:
    topic: str  # as the client sees it, e.g. "school:33010100101"
    seq: int  # 0 for notices and heartbeats: the sender stamps the client's last seq of the topic
    type: str  # snapshot | delta | alert | notice | heartbeat
    data: Any
    key: Any = None  # messages with the same key supersede each other when conflated


class ClientQueue:
    __slots__ = ("_behind", "_items", "_keyed", "_limit", "_waiter", "conflations")

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._items: deque[Outgoing] = deque()
        self._keyed = 0  # waiting messages with a key
        self._behind: Outgoing | None = None  # the fell-behind notice heading the queue, once conflated
        self._waiter: asyncio.Future | None = None
        self.conflations = 0

    def __len__(self) -> int:
        return len(self._items)

    def put(self, message: Outgoing) -> None:
        self._items.append(message)
        self._keyed += message.key is not None
        if len(self._items) > self._limit:
            if self._behind is not None and not self._keyed:
                del self._items[1]  # the oldest after the notice: what conflating again would drop
                self._behind.data["conflated"] += 1
            else:
                self._conflate()
        self.wake()

    def wake(self) -> None:
        """End the sender's wait, with or without messages."""
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _conflate(self) -> None:
        self.conflations += 1
        items = [m for m in self._items if not (m.type == "notice" and m.data.get("fell_behind"))]
        latest = {m.key: i for i, m in enumerate(items) if m.key is not None}
        kept = [m for i, m in enumerate(items) if m.key is None or latest[m.key] == i]
        dropped = len(items) - len(kept)
        unkeyed = [i for i, m in enumerate(kept) if m.key is None]
        overflow = len(kept) + 1 - self._limit
        if overflow > 0:  # still too many: the oldest un-conflatable ones go
            gone = set(unkeyed[:overflow])
            kept = [m for i, m in enumerate(kept) if i not in gone]
            dropped += len(gone)
        topic = items[-1].topic
        dropped += self._behind.data["conflated"] if self._behind is not None else 0  # since the last send
        notice = Outgoing(topic, 0, "notice", {"fell_behind": True, "conflated": dropped,
                                               "message": "you fell behind: older deltas were conflated to the latest"})
        self._items = deque([notice, *kept])
        self._behind = notice
        self._keyed = sum(m.key is not None for m in kept)

    async def get(self) -> list[Outgoing]:
        """Everything waiting; once something is put, or [] when woken (`wake`) with nothing."""
        if not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        out = list(self._items)
        self._items.clear()
        self._keyed, self._behind = 0, None
        return out
