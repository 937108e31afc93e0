"""Compact deltas of changed schools, as the live streams carry them.

`capture` copies the few columns a delta needs, for the changed rows only: it runs right after a
batch is folded, under the shard's fold lock, so it only indexes and copies. Rice days left and
the dicts of `to_deltas` are worked out from the copy later, off the write path.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from twin.kernels import rice_need_per_day
from twin.norms import day_date
from twin.state import ShardState


@dataclass
class SchoolCapture:
    """Column values of some schools at one moment. Arrays are [n] unless noted."""

    school_global: np.ndarray  # int64: global school index
    school_ids: np.ndarray  # int64 UDISE code
    today: int  # the shard's day number (-1: no report yet)
    present_today: np.ndarray  # int32
    meals_today: np.ndarray  # int32
    stock_kg: np.ndarray  # float64 [n, 3] rice, pulses, oil (clipped at zero)
    stale: np.ndarray  # bool: has not reported today and is not closed
    closed_today: np.ndarray  # bool
    # what the rice need is worked out from, later (`stock_days`): copying is quicker than the kernel
    hist_meals: np.ndarray  # int32 [n, W, 3]
    enrolment: np.ndarray  # int32 [n, 3]
    _stock_days: np.ndarray | None = field(default=None, repr=False)

    @property
    def stock_days(self) -> np.ndarray:
        """float64 [n]: rice days left; NaN when there is no need to divide by."""
        if self._stock_days is None:
            need = rice_need_per_day(self.hist_meals, self.enrolment)
            with np.errstate(divide="ignore", invalid="ignore"):
                self._stock_days = np.where(need > 0, self.stock_kg[:, 0] / np.where(need > 0, need, 1.0), np.nan)
        return self._stock_days


def capture(state: ShardState, school_global: np.ndarray) -> SchoolCapture:
    """The delta columns of the schools `school_global` (global indices, all hosted by `state`)."""
    school_global = np.asarray(school_global, np.int64)
    local = state.school_local[school_global].astype(np.int64)
    today = int(state.today[0])
    slot = today % state.hist_day.shape[1] if today >= 0 else 0
    reported = (state.hist_day[local, slot] == today) & (today >= 0)
    closed = (state.closed_from[local] <= today) & (today <= state.closed_to[local]) & (today >= 0)
    return SchoolCapture(
        school_global=school_global,
        school_ids=state.school_ids[local].copy(),
        today=today,
        present_today=np.where(reported, state.hist_present[local, slot], 0).astype(np.int32),
        meals_today=np.where(reported, state.hist_meals[local, slot].sum(axis=1), 0).astype(np.int32),
        stock_kg=np.maximum(state.stock[local, :3], 0.0),
        stale=(today >= 0) & (state.last_report_day[local] < today) & ~closed,
        closed_today=closed,
        hist_meals=state.hist_meals[local],
        enrolment=state.enrolment[local],
    )


def to_deltas(cap: SchoolCapture, seq: int, rows: np.ndarray | None = None) -> list[dict]:
    """One dict per school (or per row in `rows`): what a dashboard needs to redraw it."""
    rows = np.arange(len(cap.school_ids)) if rows is None else rows
    today = day_date(cap.today).isoformat() if cap.today >= 0 else None
    out = []
    for r in rows.tolist():
        days = float(cap.stock_days[r])
        rice, pulses, oil = (round(float(x), 2) for x in cap.stock_kg[r])
        out.append({
            "school_id": f"{int(cap.school_ids[r]):011d}", "seq": seq, "today": today,
            "present_today": int(cap.present_today[r]), "meals_today": int(cap.meals_today[r]),
            "stock_kg": {"rice": rice, "pulses": pulses, "oil": oil},
            "stock_days": None if np.isnan(days) else round(days, 1),
            "stale": bool(cap.stale[r]), "closed_today": bool(cap.closed_today[r]),
        })
    return out


def low_stock(cap: SchoolCapture, below_days: float) -> np.ndarray:
    """bool [n]: rice lasts fewer than `below_days` school days (a school with no need is not low)."""
    return ~np.isnan(cap.stock_days) & (cap.stock_days < below_days)
