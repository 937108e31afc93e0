"""Simulated history: deterministic, monthly, consistent with the calendar; rain seasonal and felt."""

from __future__ import annotations

import datetime as dt

import numpy as np

from ml.history import DAY_KINDS, generate_history, synthetic_schools
from ml.panel import Panel
from simulation.world import COASTAL_DISTRICTS
from twin import calendar, geography


def test_same_seed_same_panel_and_another_seed_differs():
    a, b = Panel.synthetic(120, 40, seed=3), Panel.synthetic(120, 40, seed=3)
    c = Panel.synthetic(120, 40, seed=4)
    for name in ("present", "meals", "rice_days", "funds_days", "rainfall_mm"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    np.testing.assert_array_equal(a.open, b.open)
    assert not np.array_equal(a.rainfall_mm, c.rainfall_mm)


def test_one_panel_per_month_with_progress():
    table = synthetic_schools(50, seed=1)
    seen = []
    panels = list(generate_history(table, dt.date(2025, 1, 20), dt.date(2025, 3, 5), seed=1,
                                   progress=lambda done, total: seen.append((done, total))))
    assert [str(p.dates[0]) for p in panels] == ["2025-01-20", "2025-02-01", "2025-03-01"]
    assert [p.n_days for p in panels] == [12, 28, 4]
    assert seen[-1] == (44, 44) and len(seen) == 44
    assert all(p.n_schools == 50 for p in panels)


def test_fields_follow_the_calendar_and_the_meal_rules(school_year_panel):
    p = school_year_panel
    kinds = [DAY_KINDS[k] for k in p.day_kind]
    school_day = np.array([calendar.is_school_day(d.astype(dt.date)) for d in p.dates])
    assert kinds == [calendar.day_kind(d.astype(dt.date)) for d in p.dates]
    assert not p.open[~school_day].any()
    assert p.open[school_day].mean() > 0.95  # closures are rare
    assert np.isnan(p.meals[~p.open]).all() and not np.isnan(p.meals[p.open]).any()
    assert (p.meals[p.no_meal] == 0).all()
    assert not (p.no_meal & ~p.open).any() and not (p.reported & ~p.open).any()
    assert np.isnan(p.present[~p.reported]).all()
    served = p.open & ~p.no_meal
    assert (p.meals[served] <= p.present[served & p.reported].max()).all()
    assert (p.meals[served & p.reported] <= p.present[served & p.reported]).all()
    assert 0 < p.no_meal.sum() < 0.1 * p.open.sum()
    assert p.shortage.any()


def _month_of(dates: np.ndarray) -> np.ndarray:
    return dates.astype("datetime64[M]").astype(np.int64) % 12 + 1


def test_rain_falls_mostly_in_the_north_east_monsoon_and_on_the_coast(school_year_panel):
    rain = school_year_panel.rainfall_mm.astype(np.float64)
    assert rain.shape[1] == len(geography.district_names()) and (rain >= 0).all()
    month = _month_of(school_year_panel.dates)
    coastal = np.isin(np.arange(rain.shape[1]), [geography.district_index(d) for d in COASTAL_DISTRICTS])
    north_east = np.isin(month, (10, 11, 12))
    coast_share = rain[north_east][:, coastal].sum() / rain[:, coastal].sum()
    inland_share = rain[north_east][:, ~coastal].sum() / rain[:, ~coastal].sum()
    assert coast_share > 0.5 and coast_share > inland_share
    assert rain[north_east][:, coastal].mean() > 1.5 * rain[north_east][:, ~coastal].mean()
    # wet spells: a wet day is more often followed by a wet day than a day in general is wet
    wet = rain > 1
    assert (wet[1:] & wet[:-1]).sum() / wet[:-1].sum() > 1.5 * wet.mean()


def test_heavy_rain_lowers_attendance(school_year_panel):
    p = school_year_panel
    rain_at_school = p.rainfall_mm[:, p.district]  # [T, S]
    rate = p.present / p.enrolment
    seen = p.reported & p.open
    dry, heavy = seen & (rain_at_school < 1), seen & (rain_at_school > 60)
    assert heavy.sum() > 50
    assert np.nanmean(rate[heavy]) < np.nanmean(rate[dry]) - 0.05
