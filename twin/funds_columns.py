"""The money columns of a shard's schools as the finance reads need them: a small, picklable
extract (a few numbers a school) instead of a copy of the whole shard state, which holds 35 days of
reports a school and took most of a state-wide read's time.

`funds_columns` selects the active schools of a shard (all, a district, a block or one school, by
global index) and returns their ids, places, enrolment, funds and the year's allocation, plus the
meal cost of each day of the kept report window summed over them (the burn needs only the sum).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from twin.norms import cost_table
from twin.state import HISTORY_DAYS, NO_DAY, ShardState

_COST_DAYS, _COST_RATES = cost_table()


@dataclass
class FundsColumns:
    """n selected schools, aligned; amounts INR, float64."""

    ids: np.ndarray  # int64 [n] UDISE codes
    block: np.ndarray  # int64 [n] global block index
    district: np.ndarray  # int64 [n] global district index
    enrolment: np.ndarray  # float64 [n, 3] children by band
    funds: np.ndarray  # float64 [n, 3] released, meal cost accrued, other utilised
    allocation: np.ndarray  # float64 [n, 2] the year's recorded allocation: Centre's, State's
    spent_by_day: np.ndarray  # float64 [HISTORY_DAYS] meal cost of each day ending on `today`, summed over the n
    block_global: np.ndarray  # int64 [nb] the shard's blocks ...
    block_funds: np.ndarray  # float64 [nb, 2] ... their offices: received, passed down
    district_global: np.ndarray  # int64 [nd] the shard's districts ...
    district_funds: np.ndarray  # float64 [nd, 2] ... their offices: received, passed down

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def take(self, rows: np.ndarray) -> FundsColumns:
        """The schools `rows` (the offices and the day sums unchanged)."""
        return FundsColumns(**{f.name: (getattr(self, f.name)[rows] if f.name in _PER_SCHOOL else getattr(self, f.name))
                               for f in fields(FundsColumns)})

    @classmethod
    def concat(cls, parts: list[FundsColumns]) -> FundsColumns:
        if not parts:
            return empty_columns()
        out = {name: np.concatenate([getattr(p, name) for p in parts]) for name in _PER_SCHOOL + _OFFICES}
        out["spent_by_day"] = np.sum([p.spent_by_day for p in parts], axis=0)
        return cls(**out)


_PER_SCHOOL = ("ids", "block", "district", "enrolment", "funds", "allocation")
_OFFICES = ("block_global", "block_funds", "district_global", "district_funds")


def empty_columns() -> FundsColumns:
    z = np.zeros(0, np.int64)
    return FundsColumns(z, z, z, np.zeros((0, 3)), np.zeros((0, 3)), np.zeros((0, 2)), np.zeros(HISTORY_DAYS),
                        z, np.zeros((0, 2)), z, np.zeros((0, 2)))


def meal_rates(days: np.ndarray) -> np.ndarray:
    """[..., 3] cost per meal by band in force on each day number (the earliest norm before its own
    start), exactly as the kernel that accrues meal cost picks it."""
    k = np.clip(np.searchsorted(_COST_DAYS, days, side="right") - 1, 0, len(_COST_DAYS) - 1)
    return _COST_RATES[k]


def funds_columns(state: ShardState, year: int, today: int, district: int | None = None, block: int | None = None,
                  school: int | None = None) -> FundsColumns:
    """The active schools of `state` (of `district`, `block` or `school` when given: global indices)
    with financial year `year`'s allocation, and the meal cost of each of the `HISTORY_DAYS` days
    ending on `today` summed over them (zeros when `today` is NO_DAY)."""
    school_block = state.block_global[state.school_block].astype(np.int64)
    school_district = state.district_global[state.block_district[state.school_block]].astype(np.int64)
    keep = state.active.copy()
    if district is not None:
        keep &= school_district == district
    if block is not None:
        keep &= school_block == block
    if school is not None:
        local = int(state.school_local[school]) if 0 <= school < len(state.school_local) else -1
        only = np.zeros_like(keep)
        if local >= 0:
            only[local] = True
        keep &= only
    rows = np.flatnonzero(keep)
    spent = np.zeros(HISTORY_DAYS)
    if today != NO_DAY and len(rows):
        from twin.kernels import window_meals  # numba: loaded in the shard, not in every API replica

        days = np.arange(today - HISTORY_DAYS + 1, today + 1)
        meals = window_meals(state.hist_day, state.hist_meals, rows, days)  # [W, 3]
        spent = np.einsum("wb,wb->w", meals, meal_rates(days))
    return FundsColumns(
        ids=state.school_ids[rows].astype(np.int64), block=school_block[rows], district=school_district[rows],
        enrolment=state.enrolment[rows].astype(np.float64), funds=state.funds[rows].astype(np.float64),
        allocation=state.allocation(year)[rows], spent_by_day=spent,
        block_global=state.block_global.astype(np.int64), block_funds=state.block_funds.copy(),
        district_global=state.district_global.astype(np.int64), district_funds=state.district_funds.copy(),
    )
