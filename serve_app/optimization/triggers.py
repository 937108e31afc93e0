"""Recomputing a block's recommendations when the twin crosses a risk threshold there, besides the
daily schedule and an officer's request: the risk desk's alerts (raised or escalated) of the
causes the LPs can act on (stock, money, risk, a cascade) mark their block; a marked block is
re-solved alone once its alerts have settled (`settle_s` without a new one: a burst of alerts
becomes one run), and at most once every `debounce_s`. The run supersedes the block's older
pending recommendations, as any run does.

One follower per twin (a named actor beside the shards, or a task of an in-process twin): API
replicas each following the alerts would re-solve every block once per replica."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable

from twin.ports import StreamBroker

log = logging.getLogger(__name__)

# the alert causes a stock transfer, a delivery or an advance can answer
RISK_CAUSES = frozenset({"risk_high", "stock_low", "no_meal_streak", "cascade_warning", "funds_exhausted",
                         "funds_low"})
RunBlock = Callable[[str, str], Awaitable[dict]]  # (district, block) -> the run's summary


class RiskTriggeredRuns:
    def __init__(self, run_block: RunBlock, settle_s: float, debounce_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._run_block = run_block
        self._settle_s, self._debounce_s = settle_s, debounce_s
        self._clock = clock
        self._crossed: dict[tuple[str, str], float] = {}  # block -> when its latest alert came
        self._ran: dict[tuple[str, str], float] = {}  # block -> when it was last re-solved

    def noticed(self, message: dict) -> bool:
        """Take one message of an alerts topic; True when it marks a block to re-solve."""
        if message.get("kind") != "alert" or message.get("change") != "raised":
            return False
        district, block = message.get("district"), message.get("block")
        if message.get("alert_type") not in RISK_CAUSES or not district or not block:
            return False  # a district's own funds alert has no block: its blocks' alerts mark them
        self._crossed[(district, block)] = self._clock()
        return True

    def due(self) -> list[tuple[str, str]]:
        """Marked blocks whose alerts have settled and that were not re-solved within `debounce_s`."""
        now = self._clock()
        return sorted(key for key, at in self._crossed.items()
                      if now - at >= self._settle_s and now - self._ran.get(key, -math.inf) >= self._debounce_s)

    async def step(self) -> list[dict]:
        """Re-solve every due block; the summaries of the runs that succeeded."""
        done = []
        for key in self.due():
            del self._crossed[key]
            self._ran[key] = self._clock()
            try:
                done.append(await self._run_block(*key))
            except Exception:  # noqa: BLE001 - the block's next crossing, or the schedule, tries again
                log.warning("re-solving %s/%s after its risk alerts failed", *key, exc_info=True)
        return done

    async def follow(self, broker: StreamBroker, topics: list[str], read_block_s: float = 1.0) -> None:
        """Follow `topics` (the alerts topics of every district) from now on, forever."""
        cursors = {topic: (await broker.bounds(topic))[1] for topic in topics}
        while True:
            for topic, seq, message in await broker.read(cursors, read_block_s):
                cursors[topic] = max(cursors[topic], seq)
                self.noticed(message)
            await self.step()
