"""The days of a scenario's horizon: the school calendar and the live world's daily factors, once."""

from __future__ import annotations

import datetime as dt

import numpy as np

from simulation import world as w
from twin import calendar


class DayTable:
    """Per day of the horizon (0 = the start day): date, weekday, school day, exam, monsoon,
    whether depots work, and the attendance factor the live world applies."""

    def __init__(self, start: dt.date, horizon_days: int) -> None:
        self.date = [start + dt.timedelta(days=k) for k in range(horizon_days)]
        kinds = [calendar.day_kind(d) for d in self.date]
        self.weekday = np.array([d.weekday() for d in self.date])
        self.school_day = np.array([calendar.is_school_day(d) for d in self.date])
        self.exam = np.array([k == calendar.DayKind.EXAM_DAY for k in kinds])
        self.monsoon = np.array([calendar.is_monsoon(d) for d in self.date])
        # depots work Monday to Saturday except public holidays, whatever the school calendar says
        self.depot_works = (self.weekday < 6) & np.array([k != calendar.DayKind.HOLIDAY for k in kinds])
        factor = np.ones(horizon_days)
        factor[np.isin(self.weekday, (0, 4))] *= w.MONDAY_FRIDAY_FACTOR
        factor[self.monsoon] *= w.MONSOON_FACTOR
        factor[self.exam] *= w.EXAM_FACTOR
        self.attendance_factor = factor

    def quarter_starts(self) -> list[int]:
        """Days of the horizon (after the first) on which a quarter's funds start down the chain."""
        return [k for k, d in enumerate(self.date)
                if k > 0 and d.day == 1 and d.month in w.QUARTER_MONTHS]
