"""School days between day numbers: the cumulative table against a walk through the calendar, and
the days of Tamil Nadu's calendar a school owes no report for."""

import datetime as dt

import numpy as np
import pytest

from tests.naive import naive_school_days_after
from twin.norms import day_number
from twin.school_days import school_days_after


def days(after: str, through: str) -> int:
    return int(school_days_after(day_number(dt.date.fromisoformat(after)), day_number(dt.date.fromisoformat(through))))


@pytest.mark.parametrize("seed", range(3))
def test_counts_match_a_walk_through_the_calendar(seed):
    rng = np.random.default_rng(seed)
    through = rng.integers(0, 4200, 200)  # past the end of the first span of the table (4096)
    after = through - rng.integers(-3, 400, 200)  # some after `through`: none
    after[:5] = -1  # never: from the epoch
    got = school_days_after(after, through)
    assert got.shape == (200,)
    assert got.tolist() == [naive_school_days_after(int(a), int(t)) for a, t in zip(after, through)]


def test_a_weekend_a_holiday_and_a_vacation_are_not_school_days():
    assert days("2025-07-11", "2025-07-14") == 1  # Friday to Monday: Monday only
    assert days("2025-07-11", "2025-07-12") == 0  # Friday to Saturday: nothing owed
    assert days("2025-07-09", "2025-07-14") == 3  # Wednesday to Monday: Thursday, Friday, Monday
    assert days("2025-08-14", "2025-08-18") == 1  # Thursday, then Independence Day and a weekend
    assert days("2025-12-23", "2026-01-02") == 1  # over the half-yearly break
    assert days("2025-04-25", "2025-06-02") == 1  # over the summer vacation
    assert days("2025-07-14", "2025-07-14") == 0
