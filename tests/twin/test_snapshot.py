"""Snapshots of district columns: every hosted district's copy matches a per-district selection of
its rows, survives the byte format unchanged, and snapshots written in earlier formats still load."""

import io
import zlib

import numpy as np
import pytest

from tests.fixtures.builders import random_batch, small_directory
from twin import snapshot
from twin.kernels import apply_events
from twin.state import BLOCK_COLUMNS, SCHOOL_COLUMNS, ShardState

DIRECTORY, ENROLMENT = small_directory()


@pytest.fixture(scope="module")
def folded() -> ShardState:
    state = ShardState.for_districts(DIRECTORY, ENROLMENT, [0, 1, 2])
    apply_events(state, random_batch(DIRECTORY, 3_000, seed=5, days=60))
    return state


def _selected(state: ShardState, d_local: int, seq: int) -> dict[str, np.ndarray]:
    """The reference: one district's rows picked with boolean masks."""
    schools = state.school_block_district() == d_local
    blocks = state.block_district == d_local
    part = {f"s.{name}": getattr(state, name)[schools] for name in SCHOOL_COLUMNS}
    part |= {f"b.{name}": getattr(state, name)[blocks] for name in BLOCK_COLUMNS}
    return part | {"d.district_funds": state.district_funds[d_local], "d.district_applied_seq": np.array([seq]),
                   "today": state.today}


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        np.asarray(a[k]).shape == np.asarray(b[k]).shape and np.array_equal(a[k], b[k]) for k in a)


def test_every_district_part_holds_that_districts_rows(folded):
    parts = folded.district_parts(seq=42)
    assert len(parts) == 3
    for d_local, part in enumerate(parts):
        assert len(part["s.school_ids"]) > 0
        assert _same(part, _selected(folded, d_local, 42))
    before = folded.stock.copy()
    parts[0]["s.stock"][:] = -1  # copies: the live state is untouched
    assert np.array_equal(folded.stock, before)


def test_a_part_survives_the_byte_format(folded):
    for part in folded.district_parts(seq=7):
        back = snapshot.loads(snapshot.dumps(part))
        assert _same(back, part)
        assert all(back[k].dtype == part[k].dtype for k in part)
        back["s.stock"][0] = 1.0  # restored columns are writable


def test_odd_shapes_survive_the_byte_format():
    part = {"zero_d": np.array(5), "empty": np.zeros((0, 3)), "strided": np.arange(12.0).reshape(4, 3)[:, 1],
            "bytes": np.array([1, 2], np.int8), "last_empty": np.zeros(0, np.int16)}
    back = snapshot.loads(snapshot.dumps(part))
    assert _same(back, part) and back["zero_d"].shape == ()


def test_snapshots_in_earlier_formats_still_load(folded):
    part = folded.district_parts(seq=3)[1]
    buffer = io.BytesIO()
    np.savez(buffer, **part)
    zlib_npz = zlib.compress(buffer.getvalue(), 1)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **part)
    for data in (zlib_npz, buffer.getvalue()):
        assert _same(snapshot.loads(data), part)


def test_a_truncated_snapshot_is_refused(folded):
    data = snapshot.dumps(folded.district_parts(seq=3)[0])
    with pytest.raises(Exception):  # noqa: B017 - LZ4 or the length check, whichever sees it first
        snapshot.loads(data[: len(data) // 2])


def test_a_district_restores_from_its_part_and_from_one_taken_before_depot_stock(folded):
    part = folded.district_parts(seq=3)[1]
    restored = ShardState.for_districts(DIRECTORY, ENROLMENT, [0, 1, 2])
    restored.restore_district_part(1, part)
    mine = restored.block_district == 1
    np.testing.assert_array_equal(restored.block_depot_stock[mine], folded.block_depot_stock[mine])
    np.testing.assert_array_equal(restored.block_depot_logged[mine], folded.block_depot_logged[mine])
    assert folded.block_depot_logged[mine].any()
    # a part written before depots kept stock: they start unknown, the log after it fills them
    older = {k: v for k, v in part.items() if not k.startswith("b.block_depot")}
    fresh = ShardState.for_districts(DIRECTORY, ENROLMENT, [0, 1, 2])
    fresh.restore_district_part(1, older)
    np.testing.assert_array_equal(fresh.block_funds[mine], folded.block_funds[mine])
    assert not fresh.block_depot_logged.any() and not fresh.block_depot_stock.any()
