"""A shard's state cut to some of its districts (what a district's report reads) holds their
rows and only theirs, indexed by the twin's global indices as the whole state is."""

import copy
from dataclasses import fields

import numpy as np

from tests.fixtures.builders import small_directory
from twin.district_copy import districts_copy
from twin.state import ShardState


def _state() -> tuple:
    directory, enrolment = small_directory(districts=(0, 1, 2, 5), per_block=3)
    state = ShardState.for_districts(directory, enrolment, [0, 1, 2, 5])
    rng = np.random.default_rng(7)
    for f in fields(ShardState):
        column = getattr(state, f.name)
        if f.name in ("school_ids", "school_block", "block_global", "block_district", "district_global",
                      "school_local", "block_local", "district_local", "today", "active"):
            continue
        column[...] = rng.integers(0, 100, column.shape).astype(column.dtype)
    state.today[0] = 12
    state.active[3] = False
    return directory, state


def test_a_cut_holds_the_districts_rows_and_no_others():
    directory, state = _state()
    cut = districts_copy(state, [1, 5, 30])  # 30 is not hosted: left out
    inside = np.flatnonzero(np.isin(directory.school_district, [1, 5]))
    assert cut.n_schools == len(inside) < state.n_schools
    assert sorted(cut.district_global.tolist()) == [1, 5]
    assert set(directory.blocks.district[cut.block_global].tolist()) == {1, 5}
    assert int(cut.today[0]) == 12
    # every school of the districts at its global index, with the whole state's values
    whole, part = state.school_local[inside], cut.school_local[inside]
    assert (part >= 0).all()
    for f in fields(ShardState):
        if f.name in ("school_block", "block_district") or f.name.endswith("_local"):
            continue
        if getattr(state, f.name).shape[:1] == (state.n_schools,):
            assert np.array_equal(getattr(cut, f.name)[part], getattr(state, f.name)[whole]), f.name
    # blocks and districts map to the same global ones
    assert np.array_equal(cut.block_global[cut.school_block[part]], state.block_global[state.school_block[whole]])
    assert np.array_equal(cut.district_global[cut.block_district], directory.blocks.district[cut.block_global])
    b = state.block_local[cut.block_global]
    assert np.array_equal(cut.block_funds[cut.block_local[cut.block_global]], state.block_funds[b])
    d = state.district_local[cut.district_global]
    assert np.array_equal(cut.district_funds, state.district_funds[d])
    # the rest of the state is not in it
    outside = np.flatnonzero(~np.isin(directory.school_district, [1, 5]))
    assert (cut.school_local[outside] == -1).all()
    assert (cut.district_local[[0, 2]] == -1).all()


def test_a_cut_reads_as_the_whole_state_does():
    from twin.views import school_metrics

    directory, state = _state()
    before = copy.deepcopy(state)
    cut = districts_copy(state, [2])
    inside = np.flatnonzero(directory.school_district == 2)
    assert np.array_equal(school_metrics(cut)[cut.school_local[inside]],
                          school_metrics(state)[state.school_local[inside]])
    for f in fields(ShardState):  # the shard's own state is untouched
        assert np.array_equal(getattr(state, f.name), getattr(before, f.name)), f.name
    cut.stock[:] = -1  # and the cut is a copy
    assert not (state.stock == -1).any()
