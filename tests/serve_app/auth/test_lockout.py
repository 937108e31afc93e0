"""Lockout: the first mistakes cost nothing, later ones slow the next attempt, capped; past the
threshold the account locks for a fixed time."""

import pytest

from serve_app.auth.lockout import login_delay_s, locked_until


def test_the_first_two_failures_cost_nothing():
    assert [login_delay_s(n) for n in range(3)] == [0.0, 0.0, 0.0]


def test_the_delay_doubles_then_stops_at_eight_seconds():
    assert [login_delay_s(n) for n in range(3, 9)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert login_delay_s(10_000) == 8.0


def test_the_delay_never_decreases():
    delays = [login_delay_s(n) for n in range(50)]
    assert delays == sorted(delays)


def test_a_negative_count_is_an_error():
    with pytest.raises(ValueError):
        login_delay_s(-1)


def test_the_account_locks_at_the_threshold():
    assert locked_until(4, now=1_000.0) is None
    assert locked_until(5, now=1_000.0) == 1_900.0
    assert locked_until(9, now=1_000.0) == 1_900.0


def test_threshold_and_lock_time_are_configurable():
    assert locked_until(2, now=0.0, threshold=3, lock_s=60) is None
    assert locked_until(3, now=0.0, threshold=3, lock_s=60) == 60.0
