"""Rule-based risk: features against a slow reference, points that add up, levels, and rules from settings."""

import datetime as dt

import numpy as np
import pytest
from pydantic import ValidationError

from configs.settings import RiskRules
from tests.fixtures.builders import DAY0, random_batch, small_directory
from tests.naive import naive_history_features
from twin.kernels import apply_events
from twin.norms import day_number
from twin.risk import FACTORS, FEATURES, F, factor_points, level_codes, neighbour_points, severities
from twin.school_features import school_features
from twin.state import NO_DAY, ShardState

DIRECTORY, ENROLMENT = small_directory()
RULES = RiskRules()


def folded(seed: int) -> ShardState:
    state = ShardState.for_districts(DIRECTORY, ENROLMENT, [0, 1, 2])
    apply_events(state, random_batch(DIRECTORY, 4_000, seed, days=60))
    return state


@pytest.mark.parametrize("seed", range(3))
def test_history_features_match_the_naive_reading(seed):
    state = folded(seed)
    got = school_features(state)
    expected = naive_history_features(state)
    for name in ("meal_share", "no_meal_streak", "no_meal_days_30"):
        np.testing.assert_allclose(got[:, F[name]], expected[name], err_msg=name, equal_nan=True)


@pytest.mark.parametrize("seed", range(3))
def test_points_add_up_to_a_score_within_0_and_100(seed):
    points = factor_points(school_features(folded(seed)), RULES)
    assert points.shape[1] == len(FACTORS)
    score = points.sum(axis=1)
    assert (points >= 0).all() and (score <= 100 + 1e-9).all()
    sev = severities(school_features(folded(seed)), RULES)
    np.testing.assert_allclose(points, sev * [RULES.weights[f] for f in FACTORS])


def _features(**values) -> np.ndarray:
    row = np.full((1, len(FEATURES)), np.nan)
    row[0, F["closed_today"]] = 0
    for name, value in values.items():
        row[0, F[name]] = value
    return row


def test_each_factor_reads_its_feature():
    sev = lambda **v: dict(zip(FACTORS, severities(_features(**v), RULES)[0]))  # noqa: E731
    assert sev()["stock"] == 0  # unknown is not a risk
    assert sev(stock_days=2.0)["stock"] == 1 and sev(stock_days=20.0)["stock"] == 0
    assert sev(stock_days=9.0)["stock"] == pytest.approx(0.5)
    assert sev(meal_share=0.5)["meals"] == pytest.approx(0.5)
    assert sev(days_since_report=5)["staleness"] == 1
    assert sev(no_meal_streak=3)["no_meal_streak"] == 1
    assert sev(funds_days=0.0)["funds"] == 1 and sev(funds_days=45.0)["funds"] == 0
    assert sev(days_since_inspection=60)["inspection"] == 0
    assert sev(days_since_inspection=135)["inspection"] == pytest.approx(0.5)
    assert sev(days_since_inspection=10, inspection_issues=1)["inspection"] == 0.5
    assert sev(days_since_shortage=0)["shortage"] == 1 and sev(days_since_shortage=8)["shortage"] == 0


def test_a_closed_school_is_not_failing_to_serve():
    sev = dict(zip(FACTORS, severities(_features(meal_share=0.0, no_meal_streak=5, closed_today=1), RULES)[0]))
    assert sev["meals"] == 0 and sev["no_meal_streak"] == 0


def test_a_school_that_stops_reporting_becomes_stale():
    state = ShardState.for_districts(DIRECTORY, ENROLMENT, [0])
    state.today[0] = DAY0 + 10  # Friday 2025-07-11
    state.last_report_day[:] = DAY0 + 10
    state.last_report_day[0] = DAY0 + 6  # Monday
    state.last_report_day[1] = -1
    state.hist_day[2, (DAY0 + 1) % state.hist_day.shape[1]] = DAY0 + 1  # the first report the twin holds
    days = school_features(state)[:, F["days_since_report"]]
    # never reported: stale since the twin's first day, Wednesday 2025-07-02, in school days (3 + 5)
    assert days[0] == 4 and days[1] == 8 and days[2] == 0


def _staleness_on(today: dt.date, last_reports: list[dt.date | None], closed: int | None = None) -> list[float]:
    state = ShardState.for_districts(DIRECTORY, ENROLMENT, [0])
    state.today[0] = day_number(today)
    state.last_report_day[:] = day_number(today)
    for i, last in enumerate(last_reports):
        state.last_report_day[i] = NO_DAY if last is None else day_number(last)
    if closed is not None:
        state.closed_from[closed] = state.closed_to[closed] = day_number(today)
    return school_features(state)[:len(last_reports), F["days_since_report"]].tolist()


def test_staleness_counts_school_days_only():
    monday = dt.date(2025, 7, 14)
    assert _staleness_on(monday, [dt.date(2025, 7, 11), dt.date(2025, 7, 9), dt.date(2025, 7, 4)]) == [1, 3, 6]
    after_holiday = dt.date(2025, 8, 18)  # Friday the 15th: Independence Day
    assert _staleness_on(after_holiday, [dt.date(2025, 8, 14), dt.date(2025, 8, 12)]) == [1, 3]
    after_break = dt.date(2026, 1, 2)  # the half-yearly break from 24 December, New Year's Day
    assert _staleness_on(after_break, [dt.date(2025, 12, 23)]) == [1]
    saturday = dt.date(2025, 7, 12)
    assert _staleness_on(saturday, [dt.date(2025, 7, 11), dt.date(2025, 7, 9)]) == [0, 2]
    assert _staleness_on(monday, [dt.date(2025, 7, 4)], closed=0) == [0]  # closed today


def test_a_schools_own_closure_inside_the_gap_is_not_a_missed_report():
    state = ShardState.for_districts(DIRECTORY, ENROLMENT, [0])
    thursday = dt.date(2025, 7, 17)
    state.today[0] = day_number(thursday)
    state.last_report_day[:3] = day_number(dt.date(2025, 7, 11))  # Friday: Mon-Thu is 4 school days
    state.closed_from[0], state.closed_to[0] = day_number(dt.date(2025, 7, 14)), day_number(dt.date(2025, 7, 16))
    # a closure from before the last report, over a weekend into Monday: only Monday counts off
    state.closed_from[1], state.closed_to[1] = day_number(dt.date(2025, 7, 10)), day_number(dt.date(2025, 7, 14))
    days = school_features(state)[:3, F["days_since_report"]].tolist()
    assert days == [1, 3, 4]


def test_a_school_that_never_reported_counts_school_days_from_the_twin_s_first_day():
    state = ShardState.for_districts(DIRECTORY, ENROLMENT, [0])
    first, today = dt.date(2025, 8, 13), dt.date(2025, 8, 19)  # Wednesday to Tuesday over a holiday
    state.today[0] = day_number(today)
    state.last_report_day[:] = NO_DAY
    state.hist_day[0, day_number(first) % state.hist_day.shape[1]] = day_number(first)
    days = school_features(state)[:, F["days_since_report"]]
    assert (days == 4).all()  # Wednesday, Thursday, Monday, Tuesday


def test_neighbour_points_fill_at_most_the_rest_of_100():
    local = np.array([10.0, 90.0, 40.0])
    got = neighbour_points(local, local / 100, np.array([0.5, 1.0, 0.3]), weight=1.0)
    np.testing.assert_allclose(got, [40.0, 10.0, 0.0])


def test_levels_follow_the_thresholds():
    np.testing.assert_array_equal(level_codes(np.array([0, 24.9, 25, 50, 74.9, 75, 100]), RULES.levels),
                                  [0, 0, 1, 2, 2, 3, 3])


def test_rules_refuse_weights_that_do_not_sum_to_100_and_unknown_factors():
    with pytest.raises(ValidationError, match="sum to 100"):
        RiskRules(weights={"stock": 50, "meals": 40})
    with pytest.raises(ValidationError, match="unknown risk factors"):
        RiskRules(weights={"stock": 90, "weather": 10})
    with pytest.raises(ValidationError, match="levels must rise"):
        RiskRules(levels=(50, 25, 75))
