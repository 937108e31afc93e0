"""`RangeFunds`: the money moved within a range of dates, as a shard folds it (`twin.funds_range`).

Its own module, free of the kernels, since API replicas receive and merge it without folding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RangeFunds:
    """What moved in the range, for the schools and offices of the folded districts (INR)."""

    school_ids: np.ndarray  # int64 [n] UDISE codes
    funds: np.ndarray  # float64 [n, 3] released to the school, meal cost accrued, other utilised
    block_global: np.ndarray  # int64 [nb]
    block_funds: np.ndarray  # float64 [nb, 2] received from the district, passed down to schools
    district_global: np.ndarray  # int64 [nd]
    district_funds: np.ndarray  # float64 [nd, 2] received from the state, passed down to blocks

    def school_funds(self, ids: np.ndarray) -> np.ndarray:
        """float64 [len(ids), 3]: the range's funds of the schools `ids` (zeros for one not folded)."""
        order = np.argsort(self.school_ids, kind="stable")
        ordered = self.school_ids[order]
        pos = np.clip(np.searchsorted(ordered, ids), 0, max(len(ordered) - 1, 0))
        found = (ordered[pos] == ids) if len(ordered) else np.zeros(len(ids), bool)
        out = np.zeros((len(ids), 3))
        out[found] = self.funds[order[pos[found]]]
        return out

    @staticmethod
    def concat(parts: list[RangeFunds]) -> RangeFunds:
        """One `RangeFunds` of several shards' (their schools and offices are disjoint)."""
        return RangeFunds(*(np.concatenate([getattr(p, name) for p in parts])
                            for name in ("school_ids", "funds", "block_global", "block_funds", "district_global",
                                         "district_funds")))
