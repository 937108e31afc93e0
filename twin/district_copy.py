"""A copy of a shard's state cut to some of its districts: what a report of a district reads.

A shard may host every district of the twin (one shard at India scale holds 1.08 M schools, ~1 GiB
of columns): a report of one district that copied the whole state paid for all of them, in the
shard's copy, in Ray's transfer and in every read after it. The cut copies only the rows of the
districts asked (their schools, blocks and own rows); the global -> local maps keep the twin's
global indices, so a reader indexes it exactly as it would the whole state."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields

import numpy as np

from twin.state import BLOCK_COLUMNS, SCHOOL_COLUMNS, ShardState

_DISTRICT_COLUMNS = ("district_global", "district_funds", "district_applied_seq")
_SCHOOL_ROWS = (*SCHOOL_COLUMNS, "active")


def districts_copy(state: ShardState, districts: Sequence[int]) -> ShardState:
    """A copy of `state` holding only the hosted ones of `districts` (global indices): their
    schools, blocks and district rows, in the state's own order, and the maps from global indices
    to the copy's rows (-1 for anything else). `today` is the shard's. A district not hosted here
    is left out."""
    d_local = state.district_local[np.asarray(list(districts), np.int64)]
    d_rows = np.sort(d_local[d_local >= 0]).astype(np.int64)
    keep_district = np.zeros(len(state.district_global), bool)
    keep_district[d_rows] = True
    b_rows = np.flatnonzero(keep_district[state.block_district])
    s_rows = np.flatnonzero(keep_district[state.block_district[state.school_block]])

    new_district = np.full(len(state.district_global), -1, np.int32)
    new_district[d_rows] = np.arange(len(d_rows))
    new_block = np.full(len(state.block_global), -1, np.int32)
    new_block[b_rows] = np.arange(len(b_rows))
    new_school = np.full(state.n_schools, -1, np.int32)
    new_school[s_rows] = np.arange(len(s_rows))

    values: dict[str, np.ndarray] = {}
    for f in fields(ShardState):
        column = getattr(state, f.name)
        if f.name in _SCHOOL_ROWS:
            values[f.name] = column[s_rows]
        elif f.name in BLOCK_COLUMNS or f.name == "block_district":
            values[f.name] = column[b_rows]
        elif f.name in _DISTRICT_COLUMNS:
            values[f.name] = column[d_rows]
        elif f.name not in ("school_local", "block_local", "district_local"):
            values[f.name] = column.copy()  # today
    values["school_block"] = new_block[values["school_block"]].astype(np.int32)
    values["block_district"] = new_district[values["block_district"]].astype(np.int32)
    values["school_local"] = _remapped(state.school_local, new_school)
    values["block_local"] = _remapped(state.block_local, new_block)
    values["district_local"] = _remapped(state.district_local, new_district)
    return ShardState(**values)


def _remapped(to_local: np.ndarray, new_of_local: np.ndarray) -> np.ndarray:
    """A global -> local map through `new_of_local` (old local row -> the copy's row, or -1)."""
    hosted = to_local >= 0
    out = np.full(len(to_local), -1, np.int32)
    out[hosted] = new_of_local[to_local[hosted]]
    return out
