"""Incremental snapshots: the rows a fold may write are all marked, and a whole snapshot with the
deltas of the marked rows after it restores to the state a whole copy at the end would."""

import copy

import numpy as np
import pytest

from tests.fixtures.builders import random_batch, small_directory
from twin import snapshot
from twin.changed_rows import mark_changed_schools
from twin.events import EventKind
from twin.kernels import apply_events
from twin.state import SCHOOL_COLUMNS, ShardState

DIRECTORY, ENROLMENT = small_directory(per_block=8)
HOSTED = [0, 1]  # district 2's events (closures of its blocks and of itself among them) are not ours


def _rows_written(before: ShardState, after: ShardState) -> np.ndarray:
    written = np.zeros(before.n_schools, bool)
    for name in SCHOOL_COLUMNS:
        a, b = getattr(before, name), getattr(after, name)
        written |= (a != b).reshape(len(a), -1).any(axis=1)
    return written


@pytest.mark.parametrize("seed", range(6))
def test_every_school_row_a_fold_writes_is_marked_and_few_others(seed):
    state = ShardState.for_districts(DIRECTORY, ENROLMENT, HOSTED)
    apply_events(state, random_batch(DIRECTORY, 400, seed=100 + seed, days=40))
    batch = random_batch(DIRECTORY, 60, seed=seed, days=40, first_seq=1_000)
    kinds = set(batch.kind.tolist())
    assert {int(EventKind.SCHOOL_CLOSED), int(EventKind.STOCK_TRANSFERRED)} & kinds  # the rarer paths are drawn
    before = copy.deepcopy(state)
    apply_events(state, batch)
    changed = np.zeros(state.n_schools, bool)
    mark_changed_schools(state, batch, changed)
    written = _rows_written(before, state)
    assert written.any()
    assert not (written & ~changed).any(), "a row the fold wrote is not marked"
    assert changed.sum() < state.n_schools  # marking everything would pass the line above, and save nothing


def test_a_closure_of_a_block_or_district_marks_all_its_schools():
    state = ShardState.for_districts(DIRECTORY, ENROLMENT, HOSTED)
    batch = random_batch(DIRECTORY, 2, seed=1)
    batch.kind[:] = int(EventKind.SCHOOL_CLOSED)
    school = int(np.flatnonzero(DIRECTORY.school_district == 1)[0])
    batch.school[:] = -1
    batch.district[:] = 1
    batch.block[0] = DIRECTORY.school_block[school]  # the block's closure
    batch.block[1] = -1  # the district's
    for e, expected in ((0, state.school_block == state.school_block[state.school_local[school]]),
                        (1, state.school_block_district() == state.district_local[1])):
        changed = np.zeros(state.n_schools, bool)
        mark_changed_schools(state, batch.take(np.arange(2) == e), changed)
        np.testing.assert_array_equal(changed, expected)


def _restore_part_by_part(state: ShardState, d_local: int, chain: list[dict], order) -> None:
    for part in chain:
        state.restore_district_part(d_local, part, order)


def _restore_in_one_pass(state: ShardState, d_local: int, chain: list[dict], order) -> None:
    state.restore_district_chain(d_local, chain, order)


@pytest.mark.parametrize("restore", [_restore_part_by_part, _restore_in_one_pass])
def test_a_snapshot_and_its_deltas_restore_the_state_at_the_last_delta(restore):
    live = ShardState.for_districts(DIRECTORY, ENROLMENT, HOSTED)
    apply_events(live, random_batch(DIRECTORY, 500, seed=3, days=40))
    chain = [[snapshot.dumps(p) for p in live.district_parts(500)]]
    times_changed = np.zeros(live.n_schools, int)
    for k in range(4):
        changed = np.zeros(live.n_schools, bool)
        batch = random_batch(DIRECTORY, 30, seed=10 + k, days=40, first_seq=1_000 * (k + 1))
        apply_events(live, batch)
        mark_changed_schools(live, batch, changed)
        times_changed += changed
        parts = live.district_parts(int(batch.seq[-1]), changed)
        assert sum(len(p["s.school_ids"]) for p in parts) == changed.sum() < live.n_schools
        chain.append([snapshot.dumps(p) for p in parts])
    # schools in several deltas: the newest of their rows must win
    assert (times_changed >= 2).sum() >= 5

    restored = ShardState.for_districts(DIRECTORY, ENROLMENT, HOSTED)
    order = restored.school_order()
    for d_local in range(len(HOSTED)):
        restore(restored, d_local, [snapshot.loads(parts[d_local]) for parts in chain], order)
    for name in live.__dataclass_fields__:
        if name != "district_applied_seq":  # a snapshot's is its own seq, at or after the district's last event
            np.testing.assert_array_equal(getattr(restored, name), getattr(live, name), err_msg=name)
    assert restored.district_applied_seq.tolist() == [4_000 + 29] * len(HOSTED)


def test_a_chain_restored_in_one_pass_keeps_a_school_added_since_and_drops_one_removed():
    live = ShardState.for_districts(DIRECTORY, ENROLMENT, HOSTED)
    apply_events(live, random_batch(DIRECTORY, 500, seed=4, days=40))
    changed = np.ones(live.n_schools, bool)
    chain = [live.district_parts(500)[0], live.district_parts(600, changed)[0]]
    chain[1]["s.stock"] = chain[1]["s.stock"] + 1.0  # the delta's rows differ from the snapshot's
    # the restoring shard's directory has one school of district 0 gone and one new in its place
    restored = ShardState.for_districts(DIRECTORY, ENROLMENT, HOSTED)
    rows = np.flatnonzero(restored.school_block_district() == 0)
    gone, kept = rows[0], rows[1:]
    restored.school_ids[gone] = 10**15  # a code no part holds
    fresh_stock = restored.stock[gone].copy()
    restored.restore_district_chain(0, chain, restored.school_order())
    np.testing.assert_array_equal(restored.stock[gone], fresh_stock)  # the new school keeps its fresh row
    expected = {int(i): row for i, row in zip(chain[1]["s.school_ids"], chain[1]["s.stock"])}
    np.testing.assert_array_equal(restored.stock[kept], [expected[int(i)] for i in restored.school_ids[kept]])
