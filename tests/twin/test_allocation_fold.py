"""Folding `funds_allocated`: one allocation per school and year, replaced by a later one, never
added to; checked against the slow reference in tests/naive.py, and through snapshots."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fixtures.builders import small_directory
from tests.naive import naive_allocations
from twin.batch import EventBatch
from twin.events import EventKind
from twin.kernels import apply_events
from twin.outcomes import APPLIED, CORRECTION, TOO_OLD
from twin.state import ALLOCATION_YEARS, ShardState

DIRECTORY, ENROLMENT = small_directory()


def fresh() -> ShardState:
    return ShardState.for_districts(DIRECTORY, ENROLMENT, [0, 1, 2])


def allocations(rows: list[tuple[int, int, float, float]]) -> EventBatch:
    """(global school, year, centre, state) in log order."""
    batch = EventBatch.empty(len(rows))
    batch.seq[:] = np.arange(1, len(rows) + 1)
    batch.kind[:] = EventKind.FUNDS_ALLOCATED
    for i, (school, year, centre, state) in enumerate(rows):
        batch.school[i] = school
        batch.block[i] = DIRECTORY.school_block[school]
        batch.district[i] = DIRECTORY.school_district[school]
        batch.values[i, :3] = (year, centre, state)
    return batch


def test_a_second_allocation_of_a_school_and_year_replaces_the_first():
    state = fresh()
    outcome = apply_events(state, allocations([(0, 2025, 600.0, 400.0), (0, 2025, 300.0, 200.0),
                                               (0, 2026, 60.0, 40.0)]))
    assert outcome.tolist() == [APPLIED, CORRECTION, APPLIED]
    i = int(state.school_local[0])
    assert state.allocation(2025)[i].tolist() == [300.0, 200.0]
    assert state.allocation(2026)[i].tolist() == [60.0, 40.0]
    assert state.allocation(2024)[i].tolist() == [0.0, 0.0]
    assert state.allocation(2025).sum() == 500.0  # no other school has one


def test_a_year_older_than_its_slot_holds_is_not_kept():
    state = fresh()
    outcome = apply_events(state, allocations([(1, 2025 + ALLOCATION_YEARS, 10.0, 0.0), (1, 2025, 99.0, 1.0)]))
    assert outcome.tolist() == [APPLIED, TOO_OLD]
    assert state.allocation(2025).sum() == 0.0


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(DIRECTORY) - 1), st.integers(2022, 2031),
                          st.floats(0, 1e7), st.floats(0, 1e7)), max_size=60))
def test_the_fold_matches_the_naive_reference_and_survives_a_snapshot(rows):
    batch = allocations(rows)
    state = fresh()
    apply_events(state, batch)
    expected = naive_allocations(fresh(), batch)
    for year in range(2022, 2032):
        got = state.allocation(year)
        want = np.zeros_like(got)
        for (s, y), (c, st_) in expected.items():
            if y == year:
                want[s] = (c, st_)
        np.testing.assert_array_equal(got, want, err_msg=str(year))
    restored = fresh()
    for d, part in enumerate(state.district_parts(len(batch))):
        restored.restore_district_part(d, part)
    np.testing.assert_array_equal(restored.alloc_year, state.alloc_year)
    np.testing.assert_array_equal(restored.alloc_inr, state.alloc_inr)


def test_a_snapshot_from_before_allocations_existed_still_loads():
    state = fresh()
    part = state.district_parts(0)[0]
    old = {k: v for k, v in part.items() if k not in ("s.alloc_year", "s.alloc_inr")}
    restored = fresh()
    restored.restore_district_part(0, old)
    assert (restored.alloc_year == -1).all()
