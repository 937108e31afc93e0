"""When a scheduled report is due: daily, weekly (on a weekday) or monthly (on a day of the month)
at a time of day in India time (Asia/Kolkata, UTC+05:30 all year). A schedule's *period* is named
by the date (in India time) of the due time that opened it: the key under which its one delivery
is claimed, whichever replica gets there first."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

INDIA = ZoneInfo("Asia/Kolkata")
REPORT_DAYS = {"daily": 1, "weekly": 7, "monthly": 30}  # the days of data a delivery's report covers


@dataclass(frozen=True)
class Cadence:
    frequency: str  # daily, weekly or monthly
    at: dt.time  # India time
    weekday: int | None = None  # weekly: 0 Monday .. 6 Sunday
    day_of_month: int | None = None  # monthly: 1..28 (every month has it)


def latest_due(cadence: Cadence, now: dt.datetime) -> dt.datetime:
    """The latest due time at or before `now` (aware, UTC)."""
    local = now.astimezone(INDIA)
    day = local.date()
    for _ in range(400):  # at most a month and a bit back; bounded all the same
        if _runs_on(cadence, day):
            moment = dt.datetime.combine(day, cadence.at, INDIA)
            if moment <= local:
                return moment.astimezone(dt.UTC)
        day -= dt.timedelta(days=1)
    raise ValueError(f"no due time found for {cadence}")


def period_key(due: dt.datetime) -> str:
    return due.astimezone(INDIA).date().isoformat()


def _runs_on(cadence: Cadence, day: dt.date) -> bool:
    if cadence.frequency == "daily":
        return True
    if cadence.frequency == "weekly":
        return day.weekday() == cadence.weekday
    return day.day == cadence.day_of_month
