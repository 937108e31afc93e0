"""Alert rules: each rule fires on its feature, one open alert per subject and cause, escalation
without duplicates, and self-resolution when the cause clears."""

import datetime as dt

import numpy as np

from configs.settings import AlertRules
from tests.fixtures.builders import small_directory
from twin.alert_rules import (
    CAUSES, CRITICAL, HIGH, MEDIUM, NONE, AlertBook, C, block_severities, describe, school_severities,
)
from twin.norms import day_number
from twin.risk import FEATURES, F
from twin.school_features import school_features
from twin.state import ShardState

RULES = AlertRules()


def features(n: int = 1, **values) -> np.ndarray:
    x = np.full((n, len(FEATURES)), np.nan)
    x[:, F["closed_today"]] = 0
    for name, value in values.items():
        x[:, F[name]] = value
    return x


def wanted(level: int = 0, **values) -> dict[str, int]:
    sev = school_severities(features(**values), np.array([level]), RULES, inspection_interval_days=90)[0]
    return {cause: int(s) for cause, s in zip(CAUSES, sev) if s != NONE}


def test_nothing_known_raises_nothing():
    assert wanted() == {}


def test_each_rule_fires_on_its_feature():
    assert wanted(level=2) == {"risk_high": HIGH}
    assert wanted(level=3) == {"risk_high": CRITICAL}
    assert wanted(stock_days=2.5) == {"stock_low": HIGH}
    assert wanted(stock_days=0.5) == {"stock_low": CRITICAL}
    assert wanted(no_meal_streak=3) == {"no_meal_streak": HIGH}
    assert wanted(no_meal_days_30=6) == {"no_meal_month": HIGH}
    assert wanted(no_meal_days_30=5) == {}
    assert wanted(meal_share=0.3) == {"meals_below_share": MEDIUM}
    assert wanted(days_since_report=3) == {"stale_report": MEDIUM}
    assert wanted(days_since_report=6) == {"stale_report": HIGH}
    assert wanted(funds_days=0.0) == {"funds_exhausted": HIGH}
    assert wanted(days_since_inspection=91) == {"inspection_overdue": MEDIUM}


def test_a_closed_school_is_not_expected_to_report_or_cook():
    assert wanted(closed_today=1, days_since_report=9, no_meal_streak=4, meal_share=0.0) == {}


def stale_alerts(today: dt.date, last_report: dt.date) -> np.ndarray:
    """int8 [n]: the stale_report severity of every school of a shard that last reported on `last_report`."""
    state = ShardState.for_districts(*small_directory(), [0, 1])
    state.today[0] = day_number(today)
    state.last_report_day[:] = day_number(last_report)
    x = school_features(state)
    return school_severities(x, np.zeros(len(x), np.int64), RULES, inspection_interval_days=90)[:, C["stale_report"]]


def test_monday_after_a_friday_report_is_not_stale():
    assert (stale_alerts(dt.date(2025, 7, 14), dt.date(2025, 7, 11)) == NONE).all()
    assert (stale_alerts(dt.date(2025, 8, 18), dt.date(2025, 8, 14)) == NONE).all()  # and Independence Day
    assert (stale_alerts(dt.date(2025, 6, 2), dt.date(2025, 4, 25)) == NONE).all()  # after the summer vacation


def test_three_missed_school_days_are_stale_and_six_are_high():
    assert (stale_alerts(dt.date(2025, 7, 14), dt.date(2025, 7, 9)) == MEDIUM).all()  # Thursday, Friday, Monday
    assert (stale_alerts(dt.date(2025, 7, 14), dt.date(2025, 7, 10)) == NONE).all()  # Friday, Monday
    assert (stale_alerts(dt.date(2025, 7, 14), dt.date(2025, 7, 4)) == HIGH).all()  # six school days


def test_the_stale_message_says_school_days():
    def message(**values) -> str:  # the history features are always known in a shard's features
        return describe("stale_report", "GHS Ariyalur", features(no_meal_streak=0, no_meal_days_30=0, **values)[0])[1]

    assert message(days_since_report=3) == "Last report 3 school days ago."
    assert message(days_since_report=1) == "Last report 1 school day ago."
    assert message() == "No report received."


def test_a_cascade_warning_needs_several_schools_of_a_block_at_risk():
    blocks = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 2, 2])
    level = np.array([2, 3, 2, 3, 3, 2, 2, 2, 3, 3, 3])
    active = np.ones(len(blocks), bool)
    severity, count = block_severities(blocks, level, active, 3, RULES)
    assert severity.tolist() == [HIGH, NONE, CRITICAL] and count.tolist() == [3, 2, 6]
    active[0] = False  # a deactivated school counts for nothing
    assert block_severities(blocks, level, active, 3, RULES)[0].tolist() == [NONE, NONE, CRITICAL]


def test_the_book_opens_once_escalates_and_resolves():
    book = AlertBook(3, len(CAUSES))
    want = np.full((3, len(CAUSES)), NONE, np.int8)
    want[0, C["stale_report"]] = MEDIUM
    first = book.reconcile(want)
    assert first.opened[0].tolist() == [0] and len(first) == 1
    assert len(book.reconcile(want)) == 0  # the same cause again: no duplicate
    want[0, C["stale_report"]] = HIGH
    up = book.reconcile(want)
    assert up.escalated[0].tolist() == [0] and up.escalated[2].tolist() == [HIGH] and len(up) == 1
    want[0, C["stale_report"]] = MEDIUM
    assert len(book.reconcile(want)) == 0  # no de-escalation while open
    assert book.open[0, C["stale_report"]] == HIGH
    want[0, C["stale_report"]] = NONE
    gone = book.reconcile(want)
    assert gone.resolved[0].tolist() == [0] and book.open[0, C["stale_report"]] == NONE


def test_reconciling_some_rows_leaves_the_others_alone():
    book = AlertBook(4, len(CAUSES))
    everything = np.full((4, len(CAUSES)), HIGH, np.int8)
    book.reconcile(everything)
    changes = book.reconcile(np.full((1, len(CAUSES)), NONE, np.int8), rows=np.array([2]))
    assert set(changes.resolved[0].tolist()) == {2}
    assert (book.open[[0, 1, 3]] == HIGH).all() and (book.open[2] == NONE).all()
