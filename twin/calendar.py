"""The Tamil Nadu school calendar: which days are school days, and what kind of day each one is.

A rule-based year that follows the published pattern (NORMS notes): the year runs June to April;
quarterly exams late September then a break; half-yearly exams mid December then a break to early
January; Pongal mid January; annual exams from April; summer vacation in May. Sundays and second
Saturdays are off; other Saturdays are off too in the default rule set (most TN schools work five days).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

# Fixed-date public holidays on which schools close (month, day).
PUBLIC_HOLIDAYS = {
    (1, 26): "Republic Day",
    (4, 14): "Tamil New Year",
    (5, 1): "May Day",
    (8, 15): "Independence Day",
    (10, 2): "Gandhi Jayanti",
    (12, 25): "Christmas",
}
# Deepavali moves with the lunar calendar.
DEEPAVALI = {2024: dt.date(2024, 10, 31), 2025: dt.date(2025, 10, 20), 2026: dt.date(2026, 11, 8),
             2027: dt.date(2027, 10, 29), 2028: dt.date(2028, 10, 17)}


class DayKind(StrEnum):
    SCHOOL_DAY = "school_day"
    EXAM_DAY = "exam_day"  # school is open; attendance runs a little higher, some upper classes leave early
    WEEKEND = "weekend"
    HOLIDAY = "holiday"
    VACATION = "vacation"


def _within(d: dt.date, start: tuple[int, int], end: tuple[int, int]) -> bool:
    return start <= (d.month, d.day) <= end


def day_kind(d: dt.date) -> DayKind:
    """What kind of day `d` is for a Tamil Nadu government school."""
    if _within(d, (4, 26), (5, 31)):
        return DayKind.VACATION  # summer vacation; the new year opens in June
    if _within(d, (9, 27), (10, 5)) or _within(d, (12, 24), (12, 31)) or _within(d, (1, 1), (1, 1)):
        return DayKind.VACATION  # quarterly and half-yearly breaks
    if _within(d, (1, 14), (1, 17)):
        return DayKind.HOLIDAY  # Pongal, Thiruvalluvar Day, Uzhavar Thirunal
    if (d.month, d.day) in PUBLIC_HOLIDAYS or DEEPAVALI.get(d.year) == d:
        return DayKind.HOLIDAY
    if d.weekday() >= 5:
        return DayKind.WEEKEND
    if _within(d, (9, 15), (9, 26)) or _within(d, (12, 10), (12, 23)) or _within(d, (4, 1), (4, 25)):
        return DayKind.EXAM_DAY
    return DayKind.SCHOOL_DAY


def is_school_day(d: dt.date) -> bool:
    return day_kind(d) in (DayKind.SCHOOL_DAY, DayKind.EXAM_DAY)


def is_monsoon(d: dt.date) -> bool:
    """North-east monsoon: October to December, when cyclones and floods close schools."""
    return d.month in (10, 11, 12)


def next_school_day(d: dt.date) -> dt.date:
    d = d + dt.timedelta(days=1)
    while not is_school_day(d):
        d += dt.timedelta(days=1)
    return d
