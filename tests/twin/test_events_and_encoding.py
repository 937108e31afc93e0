"""Event validation at the edge, and encoding events into kernel columns."""

import datetime as dt

import pytest
from pydantic import ValidationError

from tests.fixtures.builders import small_directory
from twin import geography
from twin.encoding import encode
from twin.events import EventKind, parse_event
from twin.norms import day_number

DIRECTORY, _ = small_directory()
SCHOOL = f"{int(DIRECTORY.school_ids[0]):011d}"


def test_attendance_rules():
    ok = parse_event({"type": "attendance_reported", "event_id": "a", "date": "2025-07-01", "school_id": SCHOOL,
                      "present": 10, "meals_served": {"primary": 10}})
    assert ok.meals_served.total == 10
    with pytest.raises(ValidationError, match="exceeds"):
        parse_event({"type": "attendance_reported", "event_id": "a", "date": "2025-07-01", "school_id": SCHOOL,
                     "present": 5, "meals_served": {"primary": 10}})
    with pytest.raises(ValidationError, match="no_meal_reason"):
        parse_event({"type": "attendance_reported", "event_id": "a", "date": "2025-07-01", "school_id": SCHOOL,
                     "present": 5, "meals_served": {"primary": 5}, "no_meal_reason": "holiday"})
    with pytest.raises(ValidationError):
        parse_event({"type": "attendance_reported", "event_id": "a", "date": "2025-07-01", "school_id": "123",
                     "present": 5})
    with pytest.raises(ValidationError):  # unknown fields are refused, not silently dropped
        parse_event({"type": "attendance_reported", "event_id": "a", "date": "2025-07-01", "school_id": SCHOOL,
                     "present": 5, "meals": 3})


def test_scoped_events_need_a_recipient():
    with pytest.raises(ValidationError, match="recipient"):
        parse_event({"type": "funds_released", "event_id": "f", "date": "2025-07-01", "amount_inr": 10})
    with pytest.raises(ValidationError, match="date_to"):
        parse_event({"type": "school_closed", "event_id": "c", "date": "2025-07-05", "date_to": "2025-07-01",
                     "reason": "cyclone", "district": "Cuddalore"})
    with pytest.raises(ValidationError, match="at least one"):
        parse_event({"type": "stock_delivered", "event_id": "d", "date": "2025-07-01", "school_id": SCHOOL})


def test_encoding_resolves_places_and_reports_unknown_ones():
    district = geography.district_names()[int(DIRECTORY.school_district[0])]
    block = DIRECTORY.blocks.names[int(DIRECTORY.school_block[0])]
    events = [
        parse_event({"type": "attendance_reported", "event_id": "a", "date": "2025-07-01", "school_id": SCHOOL,
                     "present": 9, "meals_served": {"primary": 4, "upper_primary": 3, "secondary": 2}}),
        parse_event({"type": "funds_released", "event_id": "f", "date": "2025-07-01", "amount_inr": 500.0,
                     "district": district, "block": block}),
        parse_event({"type": "school_closed", "event_id": "c", "date": "2025-07-01", "date_to": "2025-07-03",
                     "reason": "cyclone", "district": district}),
        parse_event({"type": "inspection_done", "event_id": "i", "date": "2025-07-01", "school_id": "33999999999"}),
        parse_event({"type": "funds_released", "event_id": "g", "date": "2025-07-01", "amount_inr": 1.0,
                     "district": "Atlantis"}),
    ]
    batch, errors = encode(events, DIRECTORY)
    assert errors[:3] == [None, None, None]
    assert "unknown school_id" in errors[3] and "unknown district" in errors[4]
    assert batch.kind[0] == EventKind.ATTENDANCE_REPORTED and list(batch.values[0, :4]) == [9, 4, 3, 2]
    assert batch.school[0] == 0 and batch.day[0] == day_number(dt.date(2025, 7, 1))
    assert batch.school[1] == -1 and batch.block[1] == DIRECTORY.school_block[0] and batch.values[1, 0] == 500
    assert batch.block[2] == -1 and batch.day_end[2] - batch.day[2] == 2
    assert batch.kind[3] == 0 and batch.kind[4] == 0


def test_a_logged_fold_reads_plain_attendance_in_columns_and_gives_what_the_models_give():
    """`decode_logged` reads plain attendance reports as ingest does (`twin.attendance_reader`) and
    the rest with the models: the batch, row by row and in log order, is the models' encoding."""
    import json

    import numpy as np

    from twin.encoding import decode_logged
    from twin.events import event_list_adapter

    district = geography.district_names()[int(DIRECTORY.school_district[0])]
    other = f"{int(DIRECTORY.school_ids[3]):011d}"
    payloads = [
        {"type": "attendance_reported", "event_id": "a1", "date": "2025-07-01", "school_id": SCHOOL, "present": 9,
         "meals_served": {"primary": 4, "upper_primary": 3, "secondary": 2}},
        {"type": "funds_released", "event_id": "f", "date": "2025-07-01", "amount_inr": 500.5, "district": district},
        {"type": "attendance_reported", "event_id": "a2", "date": "2025-07-02", "school_id": other, "present": 0,
         "meals_served": {}, "no_meal_reason": "holiday"},
        {"type": "attendance_reported", "event_id": "a3", "date": "2025-07-02", "school_id": other, "present": "7"},
        {"type": "school_closed", "event_id": "c", "date": "2025-07-01", "date_to": "2025-07-03", "reason": "cyclone",
         "district": district},
        {"type": "attendance_reported", "event_id": "a4", "date": "2025-07-03", "school_id": "33999999999",
         "present": 3},
    ]
    rows = [(100 + k, json.dumps(p)) for k, p in enumerate(payloads)]
    batch = decode_logged(rows, DIRECTORY)
    reference, _ = encode(event_list_adapter.validate_python(payloads), DIRECTORY)
    for field in ("kind", "school", "block", "district", "day", "day_end", "values"):
        np.testing.assert_array_equal(getattr(batch, field), getattr(reference, field), err_msg=field)
    assert batch.seq.tolist() == [100, 101, 102, 103, 104, 105]
    assert batch.kind[5] == 0  # an unknown school: a no-op, as before
    only_plain = decode_logged(rows[:1], DIRECTORY)
    assert only_plain.values[0, :4].tolist() == [9, 4, 3, 2] and only_plain.seq.tolist() == [100]
