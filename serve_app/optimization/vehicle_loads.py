"""What the transfers and depot visits already decided or proposed put on a block's vehicle, by
school day: a block has one vehicle, so a day's visits share it with the day's transfers, and an
edit may not load it past what the day's other loads leave.

A recommendation loads its block's vehicle (a transfer within a block rides on its sender's, which
is its block's: the stock LP's arcs stay within a block) on one school day, 0 being the twin's
today:
- applied: on the day of the events it became, so today's only if they are dated today;
- approved (its events being written): today;
- pending: a transfer today (approving it moves it the day it is approved); a depot visit on the
  school day the schedule planned it for."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from db.recommendation_repository import APPLIED, APPROVED, PENDING
from serve_app.optimization.proposals import DELIVERY, STOCK

KINDS = (STOCK, DELIVERY)  # the recommendations that load a vehicle (an advance moves money)


def load_day(rec: dict, today: str) -> int | None:
    """The school day (0: today) on which `rec` loads its block's vehicle, or None: on none still
    to come (applied on an earlier day, rejected, superseded, or an advance)."""
    if rec["kind"] not in KINDS:
        return None
    if rec["status"] == APPLIED:
        return 0 if rec.get("applied_on") == today else None
    if rec["status"] == APPROVED:
        return 0
    if rec["status"] == PENDING:
        return int(rec["action"].get("school_day", 0)) if rec["kind"] == DELIVERY else 0
    return None


def loaded_kg(recs: Iterable[dict], today: str, day: int = 0) -> float:
    """What `recs` (all of one block) put on the block's vehicle on school `day`."""
    return float(sum(r["quantity_kg"] for r in recs if load_day(r, today) == day))


def loaded_today_by_block(recs: Iterable[dict], today: str, block_of: Callable[[dict], int],
                          n_blocks: int) -> np.ndarray:
    """float64 [n_blocks]: what `recs` put on each block's vehicle today, by global block."""
    out = np.zeros(n_blocks)
    for r in recs:
        if load_day(r, today) == 0:
            out[block_of(r)] += r["quantity_kg"]
    return out
