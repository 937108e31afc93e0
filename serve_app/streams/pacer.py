"""`Pacer`: one loop a replica that keeps its stream clients' time, so that a client costs no
timer and no task per frame.

A client's sender writes each frame straight to its socket, noting when the write began; a write
that does not finish waits on the socket (a peer that stopped reading). Every tick (a second, or a
quarter of `heartbeat_s` or `send_timeout_s` if shorter) the pacer looks at each paced client once
(`Paced.tick`): a write waiting longer than `send_timeout_s` is cut short (the client is closed as
too slow), expired credentials close the stream, and a client idle for `heartbeat_s` is handed a
heartbeat. So each deadline is as exact as a tick, and they cost a few attribute reads per client
per tick, however many frames are sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Protocol

from configs.settings import Streams


class Paced(Protocol):
    def tick(self, now: float, wall: float) -> None:
        """`now`: the event loop's clock; `wall`: Unix time (credentials expire in it)."""
        ...


class Pacer:
    def __init__(self, config: Streams) -> None:
        self.tick_s = min(1.0, config.heartbeat_s / 4, config.send_timeout_s / 4)
        self._paced: set[Paced] = set()
        self._task: asyncio.Task | None = None

    def __len__(self) -> int:
        return len(self._paced)

    def add(self, client: Paced) -> None:
        self._paced.add(client)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    def discard(self, client: Paced) -> None:
        self._paced.discard(client)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while self._paced:
            await asyncio.sleep(self.tick_s)
            now, wall = loop.time(), time.time()
            for client in list(self._paced):
                client.tick(now, wall)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
