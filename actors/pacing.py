"""How often a shard's whole-state work runs: the roll-ups and risk features it pushes cost time in
proportion to its schools (~10 ms for a district of Tamil Nadu, ~1 s for 1.08 M schools on one
shard), so a fixed period that suits the state would spend most of a core at India scale and
starve the folding of events. The period stretches to keep that work within a share of a core."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable

PUSH_CPU_SHARE = 0.1  # of one core, at most, for the pushes (the folding and the reads get the rest)
# of one core, at most, for the state actor's risk rounds: each scores, re-levels and reconciles the
# alerts of every school (O(schools): ~0.6 s of CPU at 1.08 M schools), so shards' news arriving
# back to back would keep a core busy
EVALUATE_CPU_SHARE = 0.15


def push_period(spent_s: float, floor_s: float, share: float = PUSH_CPU_SHARE) -> float:
    """Seconds between pushes after one that took `spent_s`: `floor_s`, or longer so that pushes
    take at most `share` of the time."""
    if not 0 < share <= 1:
        raise ValueError("share must be in (0, 1]")
    return max(floor_s, spent_s / share)


class PacedPush:
    """Runs `push` (a coroutine function returning the CPU seconds it took) when told there is news:
    at once when its last run is `floor_s` old, else when it is; one run at a time, and news that
    comes while one is due joins it. A run that cost more spaces the next so that runs take at most
    `share` of a core."""

    def __init__(self, push: Callable[[], Awaitable[float]], floor_s: float, share: float = PUSH_CPU_SHARE) -> None:
        self._push, self._floor_s, self._share = push, floor_s, share
        self._period = floor_s
        self._last = -math.inf
        self._due: asyncio.TimerHandle | None = None
        self._one_at_a_time = asyncio.Lock()
        self._task: asyncio.Task | None = None  # the timed run, held so that it is not collected

    @property
    def period_s(self) -> float:
        """Seconds from one run to the next at the current pacing."""
        return self._period

    def news(self) -> None:
        if self._due is not None:
            return  # the run already due will see it
        wait = max(0.0, self._last + self._period - time.monotonic())
        self._due = asyncio.get_running_loop().call_later(wait, self._start)

    def _start(self) -> None:
        self._due = None
        self._task = asyncio.ensure_future(self.now())

    async def now(self) -> None:
        """Run at once (after the run in progress, if any), whatever the pacing."""
        async with self._one_at_a_time:
            self._last = time.monotonic()
            self._period = push_period(await self._push(), self._floor_s, self._share)
