"""The quarterly budget forecast's math: quarters, costing against the norms (checked against the
entitlement and against a day-by-day sum), the seasonal ratio, and the backtest against the naive
"same quarter last year" on a record whose truth is known."""

import datetime as dt

import numpy as np
import pytest

from ml.budget_forecast import (
    DailyMeals,
    actual_cost,
    backtest,
    held_out_quarter,
    next_quarters,
    quarter_cost,
    quarter_of,
    seasonal_ratio,
    wape,
)
from twin import calendar, finance

ENROL = np.array([[60.0, 30.0, 10.0], [0.0, 0.0, 0.0], [25.0, 0.0, 0.0]])  # three areas


def test_quarters_of_the_financial_year():
    assert quarter_of(dt.date(2025, 4, 1)) == (dt.date(2025, 4, 1), dt.date(2025, 6, 30))
    assert quarter_of(dt.date(2025, 12, 31)) == (dt.date(2025, 10, 1), dt.date(2025, 12, 31))
    assert quarter_of(dt.date(2026, 2, 14)) == (dt.date(2026, 1, 1), dt.date(2026, 3, 31))
    assert next_quarters(dt.date(2025, 12, 6), 3) == [(dt.date(2026, 1, 1), dt.date(2026, 3, 31)),
                                                      (dt.date(2026, 4, 1), dt.date(2026, 6, 30)),
                                                      (dt.date(2026, 7, 1), dt.date(2026, 9, 30))]


def test_every_child_fed_every_school_day_costs_the_entitlement():
    first, last = dt.date(2025, 7, 1), dt.date(2025, 9, 30)
    level = np.broadcast_to(ENROL.sum(axis=1), (3, 3))
    cost = quarter_cost(level, ENROL, first, last)
    ent = finance.entitlement(ENROL, first, finance.school_days(first, last))
    np.testing.assert_allclose(cost.total_inr[1], ent.total_inr, rtol=1e-9)
    np.testing.assert_allclose(cost.centre_inr[1], ent.centre_inr, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(cost.material_by_band_inr, ent.material_inr, rtol=1e-9)
    assert cost.total_inr[1, 1] == 0  # no child, no cost


def test_a_revision_inside_the_quarter_is_costed_day_by_day():
    first, last = dt.date(2025, 4, 1), dt.date(2025, 6, 30)  # 6.19/9.29 until 30 April, 6.78/10.17 after
    level = np.array([[100.0], [100.0], [100.0]])
    enrol = np.array([[100.0, 0.0, 0.0]])
    cost = quarter_cost(level, enrol, first, last)
    by_hand = sum(100 * (6.19 if d < dt.date(2025, 5, 1) else 6.78)
                  for d in (first + dt.timedelta(days=i) for i in range((last - first).days + 1))
                  if calendar.is_school_day(d))
    assert cost.material_inr[1, 0] == pytest.approx(by_hand)
    assert cost.total_inr[0, 0] == cost.total_inr[1, 0] == cost.total_inr[2, 0]


def _record(start: dt.date, days: int, level: float, yearly_change: float, seed: int = 0) -> DailyMeals:
    """Meals of two areas: `level` a school day, seasonal (fewer in November and December), changing
    by `yearly_change` a year, with noise; nothing on days without school."""
    rng = np.random.default_rng(seed)
    dates = np.datetime64(start, "D") + np.arange(days)
    meals = np.zeros((days, 2))
    for t, d in enumerate(dates.astype(dt.date)):
        if calendar.is_school_day(d):
            season = 0.7 if d.month in (11, 12) else 1.0
            years = (d - start).days / 365.25
            meals[t] = level * season * (1 + yearly_change) ** years * rng.normal(1, 0.02, 2) * [1.0, 0.5]
    return DailyMeals(dates, meals)


def test_the_seasonal_ratio_reads_last_years_quarter_against_last_years_level():
    record = _record(dt.date(2023, 6, 1), 900, 1000.0, 0.0)
    ratio = seasonal_ratio(record, dt.date(2024, 9, 30), dt.date(2024, 10, 1), dt.date(2024, 12, 31))
    assert ratio is not None and 0.7 < ratio[0] < 0.9  # the quarter's thin end against its first week
    assert seasonal_ratio(record, dt.date(2023, 9, 30), dt.date(2023, 10, 1), dt.date(2023, 12, 31)) is None


def test_the_backtest_beats_the_naive_forecast_when_demand_drifts():
    record = _record(dt.date(2023, 4, 1), 3 * 365, 1000.0, -0.10)
    quarter = held_out_quarter(record)
    assert quarter is not None and quarter[1] <= record.dates[-1].astype(dt.date)

    def true_level(origin: dt.date) -> np.ndarray:
        """The level the record itself shows over the next school days: a perfect forecaster."""
        first = calendar.next_school_day(origin)
        days = [first]
        while len(days) < 7:
            days.append(calendar.next_school_day(days[-1]))
        level = record.window(days[0], days[-1]) / 7
        return np.stack([0.9 * level, level, 1.1 * level])

    enrol = np.array([[700.0, 300.0, 100.0], [350.0, 150.0, 50.0]])
    result = backtest(record, true_level, enrol, quarter)
    assert result is not None
    assert result.wape < result.naive_wape  # demand fell 10% in a year; the naive misses it
    assert result.wape < 0.05
    np.testing.assert_allclose(result.actual_inr, actual_cost(record, enrol, *quarter))
    assert np.all(result.p10_inr <= result.forecast_inr) and np.all(result.forecast_inr <= result.p90_inr)
    assert wape(np.array([90.0, 110.0]), np.array([100.0, 100.0])) == pytest.approx(0.1)
