"""Rate limits: at most `limit` hits per `window_s` seconds for a key (an IP, an account, an API key).

The count is a sliding-window estimate from two fixed windows: the hits of the current window plus
the previous window's hits weighted by how much of it still overlaps the sliding window. A plain
fixed window lets a client spend its limit at the end of one window and again at the start of the
next, twice the limit in a moment; here the first burst still counts at the start of the next
window and is let go gradually, at `limit` hits per window as it ages. The estimate needs two
counters per key whatever the limit, where an exact log of every hit (a sorted set) grows with the
limit, and keys such as an API key's event writes have large limits. The price: the estimate
assumes the previous window's hits were spread evenly, so over an unlucky window-length span (a
burst at the very end of one window, then steady hits through the next) up to about twice the
limit can pass, but never as a burst.

Refused hits are not counted, so a client that keeps retrying is let in again as the window slides.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from serve_app.auth.errors import TooManyRequests

_SWEEP_EVERY_S = 60.0


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    retry_after_s: int  # 0 when allowed


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: int, window_s: int) -> Verdict:
        """Count one hit on `key` if it is within `limit` hits per `window_s` seconds."""


async def enforce(limiter: RateLimiter, key: str, limit: int, window_s: int, refusal: str) -> None:
    """Count a hit on `key`; over the limit, refuse with `refusal` and when to try again (429)."""
    verdict = await limiter.hit(key, limit, window_s)
    if not verdict.allowed:
        raise TooManyRequests(f"{refusal}; try again in {verdict.retry_after_s} s", verdict.retry_after_s)


def estimate(previous: int, current: int, elapsed_s: float, window_s: int) -> float:
    """Hits in the sliding window ending `elapsed_s` into the current fixed window."""
    return previous * (window_s - elapsed_s) / window_s + current


def verdict(allowed: bool, previous: int, current: int, elapsed_s: float, limit: int, window_s: int) -> Verdict:
    """The verdict on a hit, given the counts after it was (or was not) counted."""
    if allowed:
        remaining = max(0, math.floor(limit - estimate(previous, current, elapsed_s, window_s)))
        return Verdict(True, limit, remaining, 0)
    # The estimate falls to `limit` after `_wait_s` and below it (when a hit passes) just after; the
    # epsilon keeps a wait of exactly n seconds, computed as n minus a rounding error, from reading n.
    wait_s = _wait_s(previous, current, elapsed_s, limit, window_s)
    return Verdict(False, limit, 0, max(1, math.floor(wait_s + 1e-9) + 1))


def check_arguments(limit: int, window_s: int) -> None:
    if limit < 1 or window_s < 1:
        raise ValueError("a rate limit needs limit >= 1 and window_s >= 1")


def _wait_s(previous: int, current: int, elapsed_s: float, limit: int, window_s: int) -> float:
    """How long until the estimate falls to `limit`, with no further hits counted."""
    if current < limit:
        # Within this window: the previous window's weight must fall until it fits.
        return window_s * (1 - (limit - current) / previous) - elapsed_s
    # This window alone is full: wait for the next one, where this window's hits decay in turn.
    return (window_s - elapsed_s) + window_s * (1 - limit / current)


class MemoryRateLimiter:
    """One process's limiter: for tests and a single replica. Memory stays bounded: keys whose
    windows have passed are dropped."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._counts: dict[tuple[str, int], tuple[int, int, int]] = {}  # -> (window index, previous, current)
        self._next_sweep = clock() + _SWEEP_EVERY_S

    async def hit(self, key: str, limit: int, window_s: int) -> Verdict:
        check_arguments(limit, window_s)
        now = self._clock()
        self._sweep(now)
        index = int(now // window_s)
        stored_index, previous, current = self._counts.get((key, window_s), (index, 0, 0))
        if stored_index == index - 1:
            previous, current = current, 0
        elif stored_index != index:
            previous, current = 0, 0
        elapsed = now - index * window_s
        allowed = estimate(previous, current, elapsed, window_s) < limit
        if allowed:
            current += 1
        self._counts[(key, window_s)] = (index, previous, current)
        return verdict(allowed, previous, current, elapsed, limit, window_s)

    def __len__(self) -> int:
        """How many keys are held (for checking that memory stays bounded)."""
        return len(self._counts)

    def _sweep(self, now: float) -> None:
        if now < self._next_sweep:
            return
        self._next_sweep = now + _SWEEP_EVERY_S
        # A key two windows old counts nothing any more.
        stale = [k for k, (index, _, _) in self._counts.items() if index < int(now // k[1]) - 1]
        for key in stale:
            del self._counts[key]
