"""The columns a shard pushes, recomputed only at the rows folds wrote, equal the whole state's
columns computed afresh after every batch: batches of every kind within a day (the rows path), a
new day or a fold of an older day (every row again), and a change made outside a fold."""

import numpy as np
import pytest

from tests.fixtures.builders import DAY0, random_batch, small_directory
from twin.changed_rows import mark_changed_schools
from twin.kernels import apply_events
from twin.pushed_columns import BlockTotals, risk_features, roll_up_metrics
from twin.school_features import school_features_and_funds
from twin.state import ShardState
from twin.views import block_rollup, school_metrics


def _world():
    directory, enrolment = small_directory(districts=(0, 1, 2, 3), per_block=6)
    return directory, ShardState.for_districts(directory, enrolment, [0, 1, 2, 3])


class _Both:
    """The two kinds a shard keeps, marked and refreshed together."""

    def __init__(self) -> None:
        self.kinds = (roll_up_metrics(), risk_features())

    def mark(self, state, batch):  # noqa: ANN001, ANN201
        written = np.zeros(state.n_schools, bool)
        mark_changed_schools(state, batch, written)
        for kind in self.kinds:
            kind.mark(written)

    def invalidate(self):  # noqa: ANN201
        for kind in self.kinds:
            kind.invalidate()

    def refresh(self, state):  # noqa: ANN001, ANN201 - the metrics' rows recomputed (None: all)
        metrics_rows, _ = (kind.refresh(state) for kind in self.kinds)
        return metrics_rows


def _same(columns: _Both, state: ShardState) -> None:
    np.testing.assert_array_equal(columns.kinds[0].values, school_metrics(state))
    np.testing.assert_array_equal(columns.kinds[1].values, school_features_and_funds(state))


def test_a_row_subset_of_the_features_equals_those_rows_of_the_whole():
    directory, state = _world()
    apply_events(state, random_batch(directory, 3_000, seed=1, days=20))
    rows = np.array([5, 0, 17, len(directory) - 1, 17])
    np.testing.assert_array_equal(school_features_and_funds(state, rows), school_features_and_funds(state)[rows])
    np.testing.assert_array_equal(school_metrics(state, rows), school_metrics(state)[rows])


@pytest.mark.parametrize("days", [1, 12])  # one day: rows only; twelve: new days and old ones too
def test_columns_kept_between_pushes_equal_a_fresh_computation(days):
    directory, state = _world()
    columns = _Both()
    apply_events(state, random_batch(directory, 500, seed=0, days=1))
    assert columns.refresh(state) is None  # the first refresh computes every row
    _same(columns, state)
    recomputed = []
    for seed in range(1, 30):
        batch = random_batch(directory, 40, seed=seed, days=days, first_seq=seed * 1_000)
        apply_events(state, batch)
        columns.mark(state, batch)
        if seed % 3:  # several folds between some refreshes
            rows = columns.refresh(state)
            recomputed.append(None if rows is None else len(rows))
            _same(columns, state)
    if days == 1:  # within one day, only the rows the batches wrote
        assert all(r is not None and r < len(directory) for r in recomputed)


def test_a_change_outside_a_fold_is_taken_once_invalidated():
    directory, state = _world()
    columns = _Both()
    apply_events(state, random_batch(directory, 500, seed=0, days=1))
    columns.refresh(state)
    state.enrolment[3] += 40
    state.active[4] = False
    columns.invalidate()
    assert columns.refresh(state) is None
    _same(columns, state)


def test_rows_folded_while_a_refresh_runs_are_taken_by_the_next(monkeypatch):
    """A fold that marks after the refresh read its stamp is recomputed next time, even when the
    refresh computed some of its rows before the fold wrote them."""
    directory, state = _world()
    columns = _Both()
    apply_events(state, random_batch(directory, 500, seed=0, days=1))
    columns.refresh(state)
    late = random_batch(directory, 30, seed=5, days=1, first_seq=10_000)

    def metrics_then_a_fold(s, rows=None):  # noqa: ANN001, ANN202 - the fold lands mid-refresh
        out = school_metrics(s, rows)
        apply_events(state, late)
        columns.mark(state, late)
        return out

    monkeypatch.setattr(columns.kinds[0], "_compute", metrics_then_a_fold)
    first = random_batch(directory, 30, seed=4, days=1, first_seq=5_000)
    apply_events(state, first)
    columns.mark(state, first)
    columns.refresh(state)
    monkeypatch.undo()
    assert columns.refresh(state) is not None  # rows only
    _same(columns, state)


def test_block_totals_kept_equal_the_block_roll_up_summed_afresh():
    directory, state = _world()
    totals = BlockTotals()
    for seed in range(12):
        batch = random_batch(directory, 40, seed=seed, days=1 + seed % 2, first_seq=seed * 1_000)
        apply_events(state, batch)
        written = np.zeros(state.n_schools, bool)
        mark_changed_schools(state, batch, written)
        totals.mark(written)
        if seed % 3:
            np.testing.assert_array_equal(totals.refresh(state), block_rollup(state))
    kept = totals.refresh(state)
    assert totals.refresh(state) is kept  # nothing folded since: not summed again
    state.active[2] = False
    totals.invalidate()
    np.testing.assert_array_equal(totals.refresh(state), block_rollup(state))
