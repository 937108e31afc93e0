"""A school's day-by-day history, folded from its own events with the shard's kernels and norms.

The shard keeps only the last `HISTORY_DAYS` reports of a school; the log keeps everything. The
history is in valid time, as the log knows it now: the end of day D is every event the twin
folded that is dated D or earlier, so a late report or a correction counts on the day it is for.

Two folds over a one-school `ShardState`: the first, in log order exactly as a shard folds them,
finds the reports a shard refused as too old (they never counted, so they do not count here);
the second folds the rest in date order and reads the state after each day.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from twin.calendar import day_kind
from twin.directory import Directory
from twin.encoding import NO_MEAL_REASONS, decode_logged
from twin.kernels import apply_events
from twin.outcomes import APPLIED, CORRECTION
from twin.norms import BANDS, day_date, day_number
from twin.state import FUNDS_RELEASED, MEAL_COST, OTHER_UTILISED, ShardState


def school_history(school_id: int, district: int, block: int, rows: list[tuple[int, str]],
                   first: dt.date, last: dt.date) -> list[dict]:
    """One dict per day from `first` to `last` (inclusive) for the school with UDISE code
    `school_id` in `district` and global `block`; `rows` are its logged events (seq, JSON payload)
    in ascending seq. Each day: attendance as finally reported (or `reported: False`), and stock
    and funds balance at the end of the day."""
    directory = Directory(np.array([school_id], np.int64), np.array([district], np.int16), np.array([block], np.int32))
    batch = decode_logged(rows, directory)
    folded = apply_events(_fresh(directory, district), batch)
    counted = batch.take((folded == APPLIED) | (folded == CORRECTION))
    # date order, log order within a date (so a correction still follows the report it replaces);
    # renumbered, since the kernel folds only ascending seqs
    by_date = counted.take(np.lexsort((counted.seq, counted.day)))
    by_date.seq[:] = np.arange(1, len(by_date) + 1)

    state = _fresh(directory, district)
    days = range(day_number(first), day_number(last) + 1)
    ends = np.searchsorted(by_date.day, np.array(days, np.int32), side="right")
    out, done = [], 0
    for day, end in zip(days, ends):
        if end > done:
            apply_events(state, by_date.take(np.arange(done, end)))
            done = end
        out.append(_day(state, day))
    return out


def _fresh(directory: Directory, district: int) -> ShardState:
    return ShardState.for_districts(directory, np.zeros((1, 3), np.int32), [district])


def _day(state: ShardState, day: int) -> dict:
    slot = day % state.hist_day.shape[1]
    reported = int(state.hist_day[0, slot]) == day
    stock = state.stock[0]
    released, cost, other = (float(x) for x in state.funds[0, [FUNDS_RELEASED, MEAL_COST, OTHER_UTILISED]])
    reason = int(state.hist_reason[0, slot]) if reported else 0
    date = day_date(day)
    return {
        "date": date.isoformat(),
        "day_kind": day_kind(date).value,
        "reported": reported,
        "present": int(state.hist_present[0, slot]) if reported else None,
        "meals_served": dict(zip(BANDS, map(int, state.hist_meals[0, slot]))) if reported else None,
        "no_meal_reason": NO_MEAL_REASONS[reason].value if reason else None,
        "stock_kg": {k: round(max(float(stock[j]), 0.0), 2) for j, k in enumerate(("rice", "pulses", "oil"))},
        "stock_eggs": int(max(stock[3], 0)),
        "stock_book_balance": {k: round(float(stock[j]), 2) for j, k in enumerate(("rice_kg", "pulses_kg", "oil_kg", "eggs"))},
        "funds_balance_inr": round(released - cost - other, 2),
    }
