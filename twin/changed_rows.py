"""Which school rows of a `ShardState` a folded batch may have written: what an incremental
snapshot (`ShardState.district_parts` with `changed`) must copy.

The rows `twin.kernels.apply_events` writes for each event: its own school's; a transfer's source
school's too; and a closure of a block or district (no school named) writes every school of it.
Block, district and "today" columns are not tracked: every snapshot copies them whole (a few
thousand rows at most). An event the kernel skipped (folded before, not hosted) may be marked
too: a row copied unchanged costs a little, a row left out would make the snapshot wrong.
"""

from __future__ import annotations

import numpy as np

from twin.batch import EventBatch
from twin.events import EventKind
from twin.state import ShardState

SOURCE_SCHOOL = 4  # the transfer's source school (global index, -1: the block depot) in `values`


def mark_changed_schools(state: ShardState, batch: EventBatch, changed: np.ndarray) -> None:
    """Set `changed` (bool [state.n_schools]) at every local school row `batch` may have written."""
    n_global = len(state.school_local)
    _mark(state, batch.school, changed)
    moved = batch.kind == EventKind.STOCK_TRANSFERRED
    if moved.any():
        _mark(state, batch.values[moved, SOURCE_SCHOOL].astype(np.int64), changed)
    for e in np.flatnonzero(batch.kind == EventKind.SCHOOL_CLOSED):
        school = int(batch.school[e])
        if 0 <= school < n_global and state.school_local[school] >= 0:
            continue  # one school's closure: marked above
        # as the kernel does: a school not hosted here closes its block, else its district
        # (rare: a holiday, a flood)
        block = int(batch.block[e])
        b = state.block_local[block] if 0 <= block < len(state.block_local) else -1
        if b >= 0:
            changed |= state.school_block == b
            continue
        district = int(batch.district[e])
        d = state.district_local[district] if 0 <= district < len(state.district_local) else -1
        if d >= 0:
            changed |= state.school_block_district() == d


def _mark(state: ShardState, schools: np.ndarray, changed: np.ndarray) -> None:
    known = schools[(schools >= 0) & (schools < len(state.school_local))]
    rows = state.school_local[known]
    changed[rows[rows >= 0]] = True
