"""Forecast inputs: the days ahead are school days, and nothing after the origin leaks in."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from ml.forecast_features import (
    HISTORY_DAYS,
    HORIZON,
    SAME_WEEKDAY_FEATURE,
    build_inputs,
    next_school_days,
    serving_inputs,
    training_inputs,
)
from tests.ml.forecast_fixtures import build_panel
from twin import calendar


@pytest.fixture(scope="module")
def panel():
    return build_panel(n_schools=60, n_days=320, seed=3)


def _row(panel, day: dt.date) -> int:
    return int(np.searchsorted(panel.dates, np.datetime64(day)))


ORIGINS_BEFORE_BREAKS = [dt.date(2024, 9, 20), dt.date(2024, 12, 20), dt.date(2025, 1, 10), dt.date(2024, 10, 26)]


@pytest.mark.parametrize("origin", ORIGINS_BEFORE_BREAKS)
def test_days_ahead_are_the_next_school_days_and_only_school_days(panel, origin):
    """Across the quarterly break, the half-yearly break and Pongal, and from a Saturday origin."""
    inputs = serving_inputs(panel.days(panel.dates[0], np.datetime64(origin) + 1))
    expected, d = [], origin
    while len(expected) < HORIZON:  # walk the calendar day by day, independently of the code under test
        d += dt.timedelta(days=1)
        if calendar.day_kind(d) in (calendar.DayKind.SCHOOL_DAY, calendar.DayKind.EXAM_DAY):
            expected.append(np.datetime64(d))
    assert inputs.dates.shape == (panel.n_schools, HORIZON)
    assert (inputs.dates == np.array(expected)[None, :]).all()


def test_targets_only_on_days_the_school_was_open(panel):
    inputs = training_inputs(panel, max_pairs=3000, seed=0)
    rows = inputs.origin[:, None] + (inputs.dates - panel.dates[inputs.origin][:, None]).astype(np.int64)
    open_then = panel.open[rows, inputs.school[:, None]]
    assert (inputs.known <= open_then).all()
    assert inputs.known[open_then].mean() > 0.99  # and every open day inside the panel has one
    assert not np.isin(panel.day_kind[rows], [2, 3, 4]).any()  # weekend, holiday, vacation


def test_inputs_use_nothing_after_the_origin():
    panel = build_panel(n_schools=60, n_days=320, seed=3)
    origin = _row(panel, dt.date(2024, 11, 6))
    panel.reported[: origin + 1, 0] = False  # school 0 has no history: its level falls back to the others'
    schools = np.arange(panel.n_schools)
    before = build_inputs(panel, np.full(panel.n_schools, origin), schools)
    scrambled = build_panel(n_schools=60, n_days=320, seed=3)
    scrambled.reported[: origin + 1, 0] = False
    rng = np.random.default_rng(1)
    later = slice(origin + 1, None)
    for name in ("meals", "present"):
        values = getattr(scrambled, name)
        values[later] = rng.permutation(values[later].ravel()).reshape(values[later].shape) * 1.5
    scrambled.reported[later] = rng.random(scrambled.reported[later].shape) < 0.5
    scrambled.enrolment[later] *= 2
    after = build_inputs(scrambled, np.full(panel.n_schools, origin), schools)
    for name in ("history", "future", "static", "level", "enrolment"):
        np.testing.assert_array_equal(getattr(before, name), getattr(after, name), err_msg=name)
    assert not np.array_equal(before.target, after.target, equal_nan=True)  # the future itself did change


def test_history_window_ends_on_the_origin_and_is_scaled_by_enrolment(panel):
    origin = _row(panel, dt.date(2024, 11, 6))  # a Wednesday
    s = 5
    inputs = build_inputs(panel, np.array([origin]), np.array([s]))
    assert inputs.history.shape[1] == HISTORY_DAYS
    seen = panel.open[origin, s] and panel.reported[origin, s]
    assert inputs.history[0, -1, 2] == seen
    if seen:
        ratio = panel.meals[origin, s] / panel.enrolment[origin, s]
        assert inputs.history[0, -1, 0] == pytest.approx(ratio - inputs.level[0], abs=1e-5)


def test_same_weekday_input_is_last_weeks_ratio(panel):
    origin = _row(panel, dt.date(2024, 11, 6))
    inputs = build_inputs(panel, np.full(panel.n_schools, origin), np.arange(panel.n_schools))
    first = inputs.dates[0, 0]  # Thursday 7 Nov; a week earlier, 31 Oct, was Deepavali: two weeks back
    assert calendar.day_kind(dt.date(2024, 10, 31)) == calendar.DayKind.HOLIDAY
    back = int(np.searchsorted(panel.dates, first - 14))
    seen = panel.open[back] & panel.reported[back]
    ratio = panel.meals[back] / panel.enrolment[back]
    got = inputs.future[:, 0, SAME_WEEKDAY_FEATURE] + inputs.level
    np.testing.assert_allclose(got[seen], ratio[seen], atol=1e-5)


def test_rain_forecast_must_match_the_districts(panel):
    with pytest.raises(ValueError):
        serving_inputs(panel, rain_ahead_mm=np.zeros((HORIZON, 3)))


def test_next_school_days_skips_pongal():
    days = next_school_days(dt.date(2025, 1, 10))
    assert days[0] == dt.date(2025, 1, 13) and dt.date(2025, 1, 14) not in days


def test_too_short_a_panel_is_refused_for_training(panel):
    with pytest.raises(ValueError, match="too short"):
        training_inputs(panel.days(panel.dates[0], panel.dates[30]), max_pairs=100, seed=0)
