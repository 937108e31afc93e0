"""The shards' money extract: the selected schools' columns and the meal cost of each day of the
kept window, checked against a plain reading of the state, school by school and day by day."""

import numpy as np
import pytest

from tests.fixtures.builders import random_batch, small_directory
from twin.funds_columns import FundsColumns, funds_columns, meal_rates
from twin.kernels import apply_events
from twin.state import HISTORY_DAYS, ShardState

DIRECTORY, ENROLMENT = small_directory()


def _naive_spent(state: ShardState, rows: np.ndarray, today: int) -> np.ndarray:
    out = np.zeros(HISTORY_DAYS)
    for w, day in enumerate(range(today - HISTORY_DAYS + 1, today + 1)):
        for i in rows:
            slot = day % HISTORY_DAYS
            if state.hist_day[i, slot] == day:
                out[w] += float(state.hist_meals[i, slot] @ meal_rates(np.array([day]))[0])
    return out


@pytest.mark.parametrize("seed", range(3))
def test_the_extract_matches_a_plain_reading(seed):
    state = ShardState.for_districts(DIRECTORY, ENROLMENT, [0, 1, 2])
    apply_events(state, random_batch(DIRECTORY, 2_000, seed, days=60))
    state.active[3] = False
    today = int(state.today[0])
    whole = funds_columns(state, 2025, today)
    active = np.flatnonzero(state.active)
    assert whole.ids.tolist() == state.school_ids[active].tolist()
    np.testing.assert_allclose(whole.funds, state.funds[active])
    np.testing.assert_allclose(whole.allocation, state.allocation(2025)[active])
    np.testing.assert_allclose(whole.spent_by_day, _naive_spent(state, active, today), rtol=1e-12)
    d = int(DIRECTORY.school_district[0])
    one_district = funds_columns(state, 2025, today, district=d)
    rows = np.flatnonzero(state.active & (state.district_global[state.block_district[state.school_block]] == d))
    np.testing.assert_allclose(one_district.spent_by_day, _naive_spent(state, rows, today), rtol=1e-12)
    school = funds_columns(state, 2025, today, d, int(DIRECTORY.school_block[0]), 0)
    assert school.ids.tolist() == [int(DIRECTORY.school_ids[0])]
    both = FundsColumns.concat([one_district, school])
    np.testing.assert_allclose(both.spent_by_day, one_district.spent_by_day + school.spent_by_day)
    assert len(funds_columns(state, 2025, today, school=3)) == 0  # deactivated
