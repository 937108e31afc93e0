"""Programme performance over a period, from the twin's daily report record (each school's last
`HISTORY_DAYS` days: children present, meals by band, the no-meal reason): meal coverage, no-meal
school-days and their reasons, reporting compliance, stock-out school-days, by the parts of an area.

Only school days count (the calendar's school and exam days). A school-day is *reported* when the
school's report for that day is held; a *no-meal* school-day is a reported day with no meal (its
reason as the monitoring system records it); a *stock-out* school-day is one whose reason is that
food grains were not available. Meal coverage is meals served over the children enrolled on the
period's school days (enrolment as the twin holds it now)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from twin.calendar import is_school_day
from twin.events import NO_MEAL_REASON_CODES, NoMealReason
from twin.norms import day_date
from twin.state import HISTORY_DAYS

REASONS = {code: str(reason) for reason, code in NO_MEAL_REASON_CODES.items()}
STOCK_OUT = NO_MEAL_REASON_CODES[NoMealReason.FOOD_GRAINS_NOT_AVAILABLE]


@dataclass(frozen=True)
class Record:
    """The daily report record of an area's schools, one row a school (copied from the shards)."""

    part: np.ndarray  # int64 [n] which part of the area each school lies in (an index into `parts`)
    parts: list[str]
    enrolment: np.ndarray  # int64 [n] children enrolled now
    day: np.ndarray  # int32 [n, HISTORY_DAYS] the day each slot holds
    meals: np.ndarray  # int64 [n, HISTORY_DAYS] meals served (all bands)
    reason: np.ndarray  # int8 [n, HISTORY_DAYS] no-meal reason code, 0 = a meal was served


def school_days(first: int, last: int) -> list[int]:
    return [d for d in range(first, last + 1) if is_school_day(day_date(d))]


def measure(record: Record, first: int, last: int) -> dict:
    """The area's figures over days `first`..`last` (twin day numbers, within the record), in total,
    by part and by day."""
    days = school_days(first, last)
    n = len(record.enrolment)
    held = np.zeros((n, len(days)), bool)
    meals = np.zeros((n, len(days)), np.int64)
    reason = np.zeros((n, len(days)), np.int8)
    for k, d in enumerate(days):
        slot = d % HISTORY_DAYS
        held[:, k] = record.day[:, slot] == d
        meals[:, k] = np.where(held[:, k], record.meals[:, slot], 0)
        reason[:, k] = np.where(held[:, k], record.reason[:, slot], 0)
    no_meal = held & (meals == 0) & (reason > 0)

    def figures(rows: np.ndarray) -> dict:
        enrolled = int(record.enrolment[rows].sum()) * len(days)
        expected = int(rows.sum()) * len(days)
        reasons = {REASONS[c]: int((no_meal[rows] & (reason[rows] == c)).sum()) for c in sorted(REASONS)}
        return {
            "schools": int(rows.sum()), "school_days": len(days), "meals": int(meals[rows].sum()),
            "enrolled_school_days": enrolled, "meal_coverage": _ratio(int(meals[rows].sum()), enrolled),
            "reports_expected": expected, "reports_received": int(held[rows].sum()),
            "reporting_compliance": _ratio(int(held[rows].sum()), expected),
            "no_meal_school_days": int(no_meal[rows].sum()), "no_meal_reasons": reasons,
            "stock_out_school_days": reasons[REASONS[STOCK_OUT]],
        }

    everyone = np.ones(n, bool)
    by_part = {name: figures(record.part == k) for k, name in enumerate(record.parts)}
    daily = [{"date": day_date(d).isoformat(), "reporting_share": _ratio(int(held[:, k].sum()), n),
              "meals": int(meals[:, k].sum()), "meal_coverage": _ratio(int(meals[:, k].sum()),
                                                                       int(record.enrolment.sum()))}
             for k, d in enumerate(days)]
    return {"from": day_date(first).isoformat(), "to": day_date(last).isoformat(), "total": figures(everyone),
            "by_part": by_part, "daily": daily}


TRENDED = ("meal_coverage", "reporting_compliance", "no_meal_school_days", "stock_out_school_days")


def trend(now: dict, before: dict | None) -> dict | None:
    """The change of the headline figures from the previous period (None: no previous period held)."""
    if before is None:
        return None
    out = {}
    for key in TRENDED:
        a, b = now.get(key), before.get(key)
        out[key] = None if a is None or b is None else round(a - b, 4)
    return out


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def previous(first: dt.date, last: dt.date) -> tuple[dt.date, dt.date]:
    """The period of the same length just before `first`..`last`."""
    length = (last - first).days + 1
    return first - dt.timedelta(days=length), first - dt.timedelta(days=1)
