"""Compact deltas of changed schools, as the live streams carry them.

`capture` copies the few columns a delta needs, for the changed rows only: it runs right after a
batch is folded, under the shard's fold lock, so it only indexes and copies. Rice days left and
the message (`to_columns`) is built from the copy later, off the write path.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import orjson

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
            from twin.kernels import rice_need_per_day  # here: the API reads this module and needs no numba

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


_COLUMNS = ("present_today", "meals_today", "stock_kg", "stock_days", "stale", "closed_today")


def to_columns(cap: SchoolCapture, seq: int, rows: np.ndarray | None = None) -> bytes:
    """The changed schools (or those in `rows`) as one message of columns, encoded as JSON: a
    batch changes thousands of schools and a dict per school would cost more than the fold.
    The columns go to orjson as numpy arrays (no Python list of each), NaN days left as null.
    `school_delta` takes one school's delta out of the decoded message."""
    rows = np.arange(len(cap.school_ids)) if rows is None else rows
    return orjson.dumps({
        "seq": seq,
        "today": day_date(cap.today).isoformat() if cap.today >= 0 else None,
        "school_ids": [f"{school:011d}" for school in cap.school_ids[rows].tolist()],
        "present_today": cap.present_today[rows],
        "meals_today": cap.meals_today[rows],
        "stock_kg": np.round(cap.stock_kg[rows], 2),  # [rice, pulses, oil] per school
        "stock_days": np.round(cap.stock_days[rows], 1),  # NaN (no need to divide by): null
        "stale": cap.stale[rows],
        "closed_today": cap.closed_today[rows],
    }, option=orjson.OPT_SERIALIZE_NUMPY)


def school_delta(columns: dict, k: int) -> dict:
    """School `k` of a decoded `to_columns` message: what a dashboard needs to redraw it."""
    delta = {"school_id": columns["school_ids"][k], "seq": columns["seq"], "today": columns["today"]}
    delta |= {name: columns[name][k] for name in _COLUMNS}
    rice, pulses, oil = delta["stock_kg"]
    delta["stock_kg"] = {"rice": rice, "pulses": pulses, "oil": oil}
    return delta


def low_stock(cap: SchoolCapture, below_days: float) -> np.ndarray:
    """bool [n]: rice lasts fewer than `below_days` school days (a school with no need is not low)."""
    return ~np.isnan(cap.stock_days) & (cap.stock_days < below_days)
