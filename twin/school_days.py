"""Counting school days between day numbers (`twin.norms.day_number`) for many schools at once.

A weekend, a holiday or a vacation (`twin.calendar`) is not a day on which a school owes a report,
so the twin measures staleness in school days. The count is a difference of two rows of a cumulative
table built once from the calendar, so a shard's 43,000 schools cost two array lookups, not a walk
through the calendar per school.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from twin.calendar import is_school_day
from twin.norms import day_date

_SPAN_DAYS = 4096  # the table grows by spans of about eleven years of day numbers


def school_days_after(after: np.ndarray | int, through: np.ndarray | int) -> np.ndarray:
    """int64 (broadcast shape of the two): the school days d with `after` < d <= `through`, for day
    numbers (int, any shape). Days before the epoch count as none (so `after` = -1 counts from day 0);
    0 where `through` <= `after`."""
    through = np.maximum(np.asarray(through, np.int64), -1)
    after = np.minimum(np.maximum(np.asarray(after, np.int64), -1), through)
    cum = _cumulative_school_days(int(through.max(initial=-1)) // _SPAN_DAYS + 1)
    return cum[through + 1] - cum[after + 1]


@cache
def _cumulative_school_days(spans: int) -> np.ndarray:
    """int64 [spans * _SPAN_DAYS + 1], read-only: row k + 1 holds the school days among day numbers
    0 .. k, row 0 holds 0."""
    days = spans * _SPAN_DAYS
    school = np.fromiter((is_school_day(day_date(k)) for k in range(days)), bool, count=days)
    cum = np.zeros(days + 1, np.int64)
    np.cumsum(school, out=cum[1:])
    cum.flags.writeable = False  # shared by every caller through the cache
    return cum
