"""A progress line for a long step: said at every tenth, with the time left estimated from the pace
measured so far, so that an estimate is never a constant that a bigger twin or a busier machine
makes false."""

from __future__ import annotations

import time
from collections.abc import Callable


class ProgressLine:
    """`progress(done, total)` that says how far a long step is at every tenth of it, with the time
    left estimated from the pace so far (a busy machine's estimate grows honestly)."""

    def __init__(self, what: str, say: Callable[[str], None], clock: Callable[[], float] = time.monotonic) -> None:
        self._what, self._say, self._clock = what, say, clock
        self._started = clock()
        self._tenths = 1  # the next tenth to say

    def __call__(self, done: int, total: int) -> None:
        if total <= 0 or done * 10 < self._tenths * total:
            return
        while done * 10 >= self._tenths * total:
            self._tenths += 1
        elapsed = self._clock() - self._started
        left = elapsed * (total - done) / done
        self._say(f"{self._what}: {done:,} of {total:,} ({done / total:.0%}) in {elapsed:.0f} s"
                  + (f", about {left:.0f} s left" if done < total else ", done"))
