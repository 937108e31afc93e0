"""Risk rows: labels, windows and the rule score checked on a hand-built panel."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from configs.settings import RiskRules
from ml.panel import Panel
from ml.risk_dataset import FEATURES, LOOKBACK_DAYS, build_risk_dataset, features_at, label_at, origin_days
from twin import calendar
from twin import risk as rule_risk

COL = {name: i for i, name in enumerate(FEATURES)}
KINDS = tuple(calendar.DayKind)


def _hand_built(n_days: int = 56, n_schools: int = 4) -> Panel:
    """Four schools from Monday 2025-07-07, all open every school day, all reporting, all fed."""
    dates = np.datetime64("2025-07-07") + np.arange(n_days)
    kind = np.array([KINDS.index(calendar.day_kind(d.astype(dt.date))) for d in dates], np.int8)
    school_day = np.isin(kind, [KINDS.index(calendar.DayKind.SCHOOL_DAY), KINDS.index(calendar.DayKind.EXAM_DAY)])
    is_open = np.repeat(school_day[:, None], n_schools, axis=1)
    shape = (n_days, n_schools)
    enrolment = np.full(shape, 100, np.float32)
    meals = np.where(is_open, 80, np.nan).astype(np.float32)
    return Panel(
        dates=dates, school_id=np.arange(n_schools, dtype=np.int64) + 33_000_000_000,
        district=np.zeros(n_schools, np.int16), block=np.array([0, 0, 1, 1][:n_schools], np.int32),
        enrolment=enrolment, day_kind=kind, rainfall_mm=np.zeros((n_days, 38), np.float32),
        open=is_open, reported=is_open.copy(), present=np.where(is_open, 85, np.nan).astype(np.float32),
        meals=meals, no_meal=np.zeros(shape, bool), shortage=np.zeros(shape, bool),
        rice_days=np.full(shape, 20, np.float32), funds_days=np.full(shape, 40, np.float32),
    )


def test_label_is_a_no_meal_day_or_shortage_in_the_next_seven_days_only():
    p = _hand_built()
    t = 35  # a Friday
    p.no_meal[t, 0] = True  # on the origin day itself: not in the label
    p.no_meal[t + 3, 1] = True  # Monday after: in
    p.shortage[t + 7, 2] = True  # the seventh day: in
    p.no_meal[t + 8, 3] = True  # the eighth day: out
    np.testing.assert_array_equal(label_at(p, t), [False, True, True, False])
    data = build_risk_dataset(p, np.array([t]))
    np.testing.assert_array_equal(data.label, [False, True, True, False])
    assert (data.origin == p.dates[t]).all()


def test_history_features_count_reported_days_only():
    p = _hand_built()
    t = 44  # Wednesday 2025-08-20
    for day in (t - 2, t - 1, t):  # three reported open days in a row without a meal
        assert p.open[day, 0]
        p.no_meal[day, 0], p.meals[day, 0] = True, 0
    p.no_meal[t - 7, 1], p.meals[t - 7, 1] = True, 0  # school 1: one unreported day without a meal
    p.reported[t - 7, 1] = False
    p.reported[t - 2:t + 1, 2] = False  # school 2: silent Monday to Wednesday
    p.shortage[t - 4, 3] = True
    p.rice_days[t, 3] = 2.0
    row = build_risk_dataset(p, np.array([t])).features
    assert row[0, COL["no_meal_streak"]] == 3 and row[0, COL["no_meal_days_30"]] == 3
    assert row[1, COL["no_meal_days_30"]] == 0  # the twin never heard of it
    assert row[2, COL["days_since_report"]] == 6  # last report Thursday: then Independence Day and a weekend
    assert row[3, COL["days_since_shortage"]] == 4 and row[3, COL["shortages_30"]] == 1
    assert row[3, COL["rice_days"]] == 2.0
    assert row[3, COL["block_low_rice_share"]] == 0.5  # one of block 1's two schools
    assert row[1, COL["meal_share_7"]] == pytest.approx(0.8)


def test_rule_score_is_the_twin_s_factor_points_on_the_same_rows():
    p = _hand_built()
    t = 44
    p.rice_days[t, 0] = 3.0  # the stock factor at full severity
    p.shortage[t - 1, 1] = True
    data = build_risk_dataset(p, np.array([t]))
    rules = RiskRules()
    assert data.rule_points[0, rule_risk.FACTORS.index("stock")] == pytest.approx(rules.weights["stock"])
    shortage_points = rules.weights["shortage"] * (1 - 1 / rules.shortage_memory_days)
    assert data.rule_points[1, rule_risk.FACTORS.index("shortage")] == pytest.approx(shortage_points)
    np.testing.assert_allclose(data.rule_score, data.rule_points.sum(axis=1))
    assert data.rule_score[2] == pytest.approx(0.0)


def test_rule_staleness_counts_school_days_as_the_twin_does():
    p = _hand_built()
    t = 44  # Wednesday 2025-08-20
    p.reported[t - 2:t + 1, 0] = False  # silent Monday to Wednesday: last report Thursday, then Independence Day
    p.reported[t - 7:t + 1, 1] = False  # silent since Wednesday 08-13: last report Tuesday
    p.reported[:t + 1, 2] = False  # never: school days since the panel's first day, Monday 2025-07-07
    p.open[t, 3] = False  # closed today
    p.reported[t - 9:t + 1, 3] = False
    rules = RiskRules(stale_days_full=40)  # far enough that no school's staleness is full
    data = build_risk_dataset(p, np.array([t]), rules)
    staleness = data.rule_points[:, rule_risk.FACTORS.index("staleness")] / rules.weights["staleness"]
    # five weeks of five school days from 07-07, then 08-11..14 (the 15th is Independence Day) and 08-18..20
    school_days = np.array([3, 5, 25 + 4 + 3, 0])
    np.testing.assert_allclose(staleness, school_days / rules.stale_days_full)
    assert data.features[0, COL["days_since_report"]] == 6  # the model's own column: calendar days
    assert data.features[1, COL["days_since_report"]] == 8
    assert data.features[3, COL["days_since_report"]] == 0


def test_origins_leave_room_for_history_and_horizon_and_skip_weeks_without_school():
    p = Panel.synthetic(30, 150, seed=2, start=dt.date(2025, 4, 1))  # takes in the summer vacation
    days = origin_days(p, stride=5)
    assert days.min() >= LOOKBACK_DAYS - 1 and days.max() + 7 < p.n_days
    assert not any(dt.date(2025, 4, 26) <= p.dates[t].astype(dt.date) <= dt.date(2025, 5, 24) for t in days)
    data = build_risk_dataset(p, days)
    assert len(data) == len(days) * p.n_schools
    assert np.isfinite(data.features).all()
    for k, t in enumerate(days.tolist()):
        np.testing.assert_array_equal(data.label[k * p.n_schools:(k + 1) * p.n_schools], label_at(p, t))


def test_serving_features_on_the_last_day_match_the_training_rows():
    p = Panel.synthetic(40, 70, seed=4, start=dt.date(2025, 7, 1))
    t = 60
    trained = build_risk_dataset(p, np.array([t]))
    served = features_at(p.days(p.dates[0], p.dates[t] + 1))  # the panel ends on the day scored
    np.testing.assert_array_equal(served.features, trained.features)
    np.testing.assert_array_equal(served.rule_points, trained.rule_points)
    with pytest.raises(ValueError):
        features_at(p.days(p.dates[0], p.dates[LOOKBACK_DAYS - 2] + 1))


def test_schools_drawn_per_origin_are_rows_of_the_full_dataset_and_differ_between_origins():
    p = Panel.synthetic(60, 200, seed=5, start=dt.date(2025, 7, 1))
    days = origin_days(p, stride=5)
    full = build_risk_dataset(p, days)
    drawn = build_risk_dataset(p, days, schools_per_origin=15, seed=3)
    assert len(drawn) == 15 * len(days)
    picked = []
    for k, t in enumerate(days.tolist()):
        rows = slice(k * 15, (k + 1) * 15)
        ids = drawn.school_id[rows]
        assert len(set(ids.tolist())) == 15  # no school twice at one origin
        at_t = np.flatnonzero(full.origin == drawn.origin[k * 15])
        in_full = at_t[np.searchsorted(full.school_id[at_t], ids)]
        np.testing.assert_array_equal(drawn.features[rows], full.features[in_full])
        np.testing.assert_array_equal(drawn.label[rows], full.label[in_full])
        picked.append(frozenset(ids.tolist()))
    assert len(set(picked)) > 1  # a fresh draw at every origin, not one panel of schools
    again = build_risk_dataset(p, days, schools_per_origin=15, seed=3)
    np.testing.assert_array_equal(again.school_id, drawn.school_id)
