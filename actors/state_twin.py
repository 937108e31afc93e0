"""`StateTwin`: the state-level twin. Aggregates the district roll-ups that shards push to it and
keeps the placement (which shard hosts which district) for anyone who needs to find a twin."""

from __future__ import annotations

import numpy as np

from twin import geography
from twin.norms import day_date
from twin.metrics import METRICS, summarise_totals


class StateTwin:
    def __init__(self, placement: list[list[int]]) -> None:
        self.placement = placement
        n = len(geography.district_names())
        self._rows = np.zeros((n, len(METRICS)))
        self._views: dict[int, dict] = {}
        self._today = -1
        self._applied_seq: dict[int, int] = {}  # per shard
        self._shard_pids: dict[int, int] = {}
        self._restarts: dict[int, int] = {}

    def shard_started(self, shard: int, pid: int) -> None:
        """A shard actor came up; a second start of the same shard is a restart (crash, kill -9)."""
        if shard in self._shard_pids and self._shard_pids[shard] != pid:
            self._restarts[shard] = self._restarts.get(shard, 0) + 1
        self._shard_pids[shard] = pid

    def restarts(self) -> dict[int, int]:
        """Restarts per shard since this state twin started."""
        return {k: self._restarts.get(k, 0) for k in range(len(self.placement))}

    def update(self, shard: int, rolled: dict) -> None:
        """A shard's latest district roll-ups (`DistrictShard.district_rows`)."""
        for i, d in enumerate(rolled["districts"]):
            self._rows[d] = rolled["rows"][i]
            self._views[d] = rolled["views"][i]
        self._today = max(self._today, rolled["today"])
        self._applied_seq[shard] = rolled["applied_seq"]

    def applied_seq(self, shard: int) -> int | None:
        """The log seq a shard had folded to at its last roll-up (None: none since this twin started)."""
        return self._applied_seq.get(shard)

    @property
    def today(self) -> int:
        """The latest twin day any shard has seen (-1: none yet)."""
        return self._today

    def get_placement(self) -> list[list[int]]:
        return self.placement

    def district(self, district: int) -> dict | None:
        view = self._views.get(district)
        if view is None:
            return None
        return {"district": geography.district_names()[district], **view}

    def state(self) -> dict:
        """State-wide totals, with each district's headline figures."""
        names = geography.district_names()
        out = summarise_totals(self._rows)
        out["today"] = day_date(self._today).isoformat() if self._today >= 0 else None
        out["districts_reporting"] = len(self._views)
        # a shard not heard from since this twin started has applied nothing as far as it knows
        out["applied_seq_min"] = min((self._applied_seq.get(k, 0) for k in range(len(self.placement))), default=0)
        out["districts"] = [
            {"district": names[d], "schools": v["schools"], "meals_today": v["meals_today"],
             "stale": v["stale"], "stock_days": v["stock_days"]}
            for d, v in sorted(self._views.items())
        ]
        return out
