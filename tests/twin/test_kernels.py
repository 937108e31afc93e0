"""The apply and roll-up kernels against the slow references in tests/naive.py."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fixtures.builders import random_batch, small_directory
from tests.naive import naive_fold, naive_rice_need, naive_rollup
from twin.batch import EventBatch
from twin.events import EventKind
from twin.kernels import apply_events, rice_need_per_day, rollup
from twin.outcomes import APPLIED, CORRECTION, SKIPPED, TOO_OLD
from twin.state import HISTORY_DAYS, NO_DAY, ShardState

DIRECTORY, ENROLMENT = small_directory()


def fresh(districts=(0, 1, 2)) -> ShardState:
    return ShardState.for_districts(DIRECTORY, ENROLMENT, list(districts))


def assert_same_state(a: ShardState, b: ShardState) -> None:
    for name in a.__dataclass_fields__:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


@pytest.mark.parametrize("seed", range(5))
def test_apply_matches_the_naive_fold(seed):
    batch = random_batch(DIRECTORY, 3_000, seed, days=80)
    state = fresh()
    outcome = apply_events(state, batch)
    expected = naive_fold(fresh(), batch)
    np.testing.assert_allclose(state.stock, expected["stock"], atol=1e-6)
    np.testing.assert_allclose(state.funds, expected["funds"], atol=1e-6)
    np.testing.assert_array_equal(state.last_report_day, expected["last_report_day"])
    np.testing.assert_array_equal(state.enrolment, expected["enrolment"])
    np.testing.assert_allclose(state.block_funds, expected["block_funds"])
    np.testing.assert_allclose(state.district_funds, expected["district_funds"])
    np.testing.assert_allclose(state.block_depot_stock, expected["depot_stock"], atol=1e-6)
    np.testing.assert_array_equal(state.block_depot_logged, expected["depot_logged"])
    received = batch.values[batch.kind == int(EventKind.DEPOT_STOCK_RECEIVED), :4].sum()
    assert expected["depot_logged"].any() and 0 < state.block_depot_stock.sum() < received  # in and out
    for i, (start, end) in expected["closed"].items():
        assert (state.closed_from[i], state.closed_to[i]) == (start, end)
    # every report still inside the window is held with its final figures
    for (s, day), meals in expected["reports"].items():
        if day > state.last_report_day[s] - HISTORY_DAYS:
            slot = day % HISTORY_DAYS
            assert state.hist_day[s, slot] == day
            np.testing.assert_array_equal(state.hist_meals[s, slot], meals)
    assert set(np.unique(outcome)) <= {APPLIED, CORRECTION, TOO_OLD}
    assert (outcome == CORRECTION).any() and (outcome == TOO_OLD).any()


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), cuts=st.lists(st.integers(1, 799), max_size=6))
def test_any_batch_split_gives_the_same_state(seed, cuts):
    batch = random_batch(DIRECTORY, 800, seed)
    whole = fresh()
    apply_events(whole, batch)
    split = fresh()
    bounds = [0, *sorted(set(cuts)), len(batch)]
    for lo, hi in zip(bounds, bounds[1:]):
        apply_events(split, batch.take(np.arange(lo, hi)))
    assert_same_state(whole, split)


def test_redelivered_events_are_skipped():
    batch = random_batch(DIRECTORY, 500, 3)
    state = fresh()
    apply_events(state, batch)
    before = {k: v.copy() for k, v in state.__dict__.items()}
    again = apply_events(state, batch)
    assert (again == SKIPPED).all()
    for name, value in before.items():
        np.testing.assert_array_equal(getattr(state, name), value, err_msg=name)


def test_events_of_other_districts_are_skipped():
    batch = random_batch(DIRECTORY, 600, 4)
    only_first = fresh(districts=(0,))
    outcome = apply_events(only_first, batch)
    assert (outcome[batch.district != 0] == SKIPPED).all()
    assert (outcome[batch.district == 0] != SKIPPED).all()


def test_a_correction_replaces_the_report_instead_of_adding_a_meal():
    state = fresh()
    one = EventBatch.empty(2)
    one.seq[:] = (1, 2)
    one.kind[:] = 1
    one.school[:] = 0
    one.block[:] = DIRECTORY.school_block[0]
    one.district[:] = DIRECTORY.school_district[0]
    one.day[:] = one.day_end[:] = 2000
    one.values[0, :4] = (50, 40, 0, 0)
    one.values[1, :4] = (50, 30, 0, 0)
    outcome = apply_events(state, one)
    assert list(outcome) == [APPLIED, CORRECTION]
    np.testing.assert_allclose(state.stock[0, 0], -30 * 0.100)  # 30 meals of 100 g rice, not 70
    assert state.hist_meals[0, 2000 % HISTORY_DAYS, 0] == 30
    assert state.last_report_day[0] == 2000 and state.hist_day[0].max() == 2000
    assert (state.hist_day[1:] == NO_DAY).all()


def test_batch_must_be_in_seq_order():
    batch = random_batch(DIRECTORY, 10, 1)
    with pytest.raises(ValueError, match="ascending"):
        apply_events(fresh(), batch.take(np.arange(9, -1, -1)))


def test_rollup_matches_naive_sums():
    rng = np.random.default_rng(0)
    group = rng.integers(0, 17, 5_000).astype(np.int32)
    values = rng.normal(size=(5_000, 6))
    np.testing.assert_allclose(rollup(group, values, 17), naive_rollup(group, values, 17))
    with pytest.raises(ValueError):
        rollup(group, values, 5)


def test_rice_need_matches_the_naive_mean_over_meal_days():
    rng = np.random.default_rng(3)
    hist_meals = rng.integers(0, 50, size=(200, 35, 3)).astype(np.int32)
    hist_meals[rng.random((200, 35)) < 0.4] = 0  # days without meals do not count
    hist_meals[:5] = 0  # never served: falls back to the enrolment
    enrolment = rng.integers(0, 120, size=(200, 3)).astype(np.int32)
    np.testing.assert_allclose(rice_need_per_day(hist_meals, enrolment), naive_rice_need(hist_meals, enrolment))
