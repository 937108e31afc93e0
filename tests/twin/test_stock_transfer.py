"""The `stock_transferred` event: one source, same district, and a fold that moves stock without
creating any."""

import numpy as np
import pytest
from pydantic import ValidationError

from tests.fixtures.builders import small_directory
from twin.batch import EventBatch
from twin.encoding import encode
from twin.events import EventKind, parse_event
from twin.kernels import apply_events
from twin.state import ShardState

DIRECTORY, ENROLMENT = small_directory()


def _id(i: int) -> str:
    return f"{int(DIRECTORY.school_ids[i]):011d}"


def _same_and_other_district() -> tuple[int, int, int]:
    d = DIRECTORY.school_district
    to = 0
    same = int(np.flatnonzero((d == d[to]) & (np.arange(len(d)) != to))[0])
    other = int(np.flatnonzero(d != d[to])[0])
    return to, same, other


def _transfer(to: int, **source) -> dict:
    return {"type": "stock_transferred", "event_id": f"t{to}", "date": "2025-07-01", "school_id": _id(to),
            "rice_kg": 40.0, "eggs": 30, **source}


def test_a_transfer_names_exactly_one_source_and_carries_something():
    with pytest.raises(ValidationError, match="one source"):
        parse_event(_transfer(0))
    with pytest.raises(ValidationError, match="one source"):
        parse_event(_transfer(0, from_school_id=_id(1), from_depot="D1"))
    with pytest.raises(ValidationError, match="itself"):
        parse_event(_transfer(0, from_school_id=_id(0)))
    with pytest.raises(ValidationError, match="at least one"):
        parse_event({**_transfer(0, from_depot="D1"), "rice_kg": 0, "eggs": 0})


def test_encoding_places_the_source_and_refuses_one_in_another_district():
    to, same, other = _same_and_other_district()
    events = [parse_event(_transfer(to, from_school_id=_id(same))),
              parse_event(_transfer(to, from_school_id=_id(other))),
              parse_event(_transfer(to, from_school_id="33999999999")),
              parse_event(_transfer(to, from_depot="D1"))]
    batch, errors = encode(events, DIRECTORY)
    assert errors[0] is None and batch.kind[0] == EventKind.STOCK_TRANSFERRED and batch.values[0, 4] == same
    assert "not in the district" in errors[1] and batch.kind[1] == 0
    assert errors[2].startswith("unknown school_id") and batch.kind[2] == 0
    assert errors[3] is None and batch.values[3, 4] == -1


def test_a_transfer_between_schools_conserves_stock_and_a_depot_one_adds():
    to, same, _ = _same_and_other_district()
    state = ShardState.for_districts(DIRECTORY, ENROLMENT, [int(DIRECTORY.school_district[to])])
    events = [parse_event(_transfer(to, from_school_id=_id(same))),
              parse_event({**_transfer(to, from_depot="D1"), "event_id": "t-depot"})]
    batch, errors = encode(events, DIRECTORY)
    assert errors == [None, None]
    batch.seq[:] = [1, 2]
    before = state.stock.sum(axis=0).copy()
    apply_events(state, EventBatch.take(batch, np.array([True, False])))
    local_to, local_from = state.school_local[to], state.school_local[same]
    assert state.stock[local_to].tolist() == [40.0, 0, 0, 30]
    assert state.stock[local_from].tolist() == [-40.0, 0, 0, -30]
    np.testing.assert_allclose(state.stock.sum(axis=0), before)  # nothing created
    apply_events(state, EventBatch.take(batch, np.array([False, True])))
    assert state.stock[local_to].tolist() == [80.0, 0, 0, 60]
    apply_events(state, batch)  # re-delivered: already folded, applied once
    assert state.stock[local_to].tolist() == [80.0, 0, 0, 60]
