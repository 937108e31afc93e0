"""The column reader of attendance reports against the event models it stands in for: whatever it
reads, the models accept with the same values; whatever the models refuse, it leaves alone."""

import datetime as dt

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from simulation.world import World
from tests.fixtures.builders import small_directory
from twin.attendance_reader import read_attendance
from twin.directory import Directory
from twin.encoding import encode, encode_attendance
from twin.events import event_adapter

DIRECTORY, _ = small_directory()
SCHOOL = f"{int(DIRECTORY.school_ids[0]):011d}"
PLAIN = {"type": "attendance_reported", "event_id": "att-1", "date": "2025-07-01", "school_id": SCHOOL,
         "present": 40, "meals_served": {"primary": 20, "upper_primary": 12, "secondary": 5}}


def _same_as_models(items: list, directory: Directory = DIRECTORY) -> int:
    """Check the reader against the models on `items`; returns how many it read."""
    reports = read_attendance(items)
    read, read_errors = encode_attendance(reports, directory)
    for k, i in enumerate(reports.items):
        event = event_adapter.validate_python(items[i])  # raises if the reader took a report the models refuse
        assert (reports.event_id[k], reports.school_id[k], reports.date[k]) == (event.event_id, event.school_id,
                                                                                event.date)
        modelled, errors = encode([event], directory)
        assert read_errors[k] == errors[0]
        for field in ("kind", "school", "block", "district", "day", "day_end", "values"):
            assert np.array_equal(getattr(read, field)[k], getattr(modelled, field)[0]), field
    return len(reports)


def test_a_simulated_day_is_read_whole_and_as_the_models_read_it():
    from simulation.synthetic_schools import generate_schools

    table = generate_schools(600, seed=3)
    directory = Directory(table.udise, table.district, table.block)
    world = World(table, seed=3, start=dt.date(2025, 6, 2))
    world.opening_events()
    day = [e for _ in range(3) for e in world.step_day()]
    attendance = [e for e in day if e["type"] == "attendance_reported"]
    assert len(attendance) > 1000
    assert _same_as_models(day, directory) == len(attendance)


def test_plain_variants_are_read():
    variants = [
        PLAIN,
        {k: v for k, v in PLAIN.items() if k != "meals_served"} | {"present": 0},
        PLAIN | {"meals_served": {"secondary": 3}},
        PLAIN | {"meals_served": {}, "no_meal_reason": "cook_not_available"},
        PLAIN | {"no_meal_reason": None},
        PLAIN | {"school_id": "33999999999"},  # read; unknown to the directory, as the models' encoding says
    ]
    assert _same_as_models(variants) == len(variants)
    assert encode_attendance(read_attendance(variants), DIRECTORY)[1][-1] == "unknown school_id 33999999999"


def test_anything_unusual_is_left_to_the_models():
    unusual = [
        PLAIN | {"present": 40.0}, PLAIN | {"present": "40"}, PLAIN | {"present": True}, PLAIN | {"present": -1},
        PLAIN | {"present": 100_001}, PLAIN | {"school_id": 33010100101}, PLAIN | {"school_id": "3301010010"},
        PLAIN | {"school_id": "٣٣٠١٠١٠٠١٠١"}, PLAIN | {"date": "2025-7-1"}, PLAIN | {"date": "20250701"},
        PLAIN | {"date": "2025-02-30"}, PLAIN | {"date": ["2025-07-01"]}, PLAIN | {"event_id": ""},
        PLAIN | {"event_id": "a b"}, PLAIN | {"event_id": "x" * 65}, PLAIN | {"event_id": "a\n"},
        PLAIN | {"meals_served": None}, PLAIN | {"meals_served": {"primary": 41}},
        PLAIN | {"meals_served": {"tertiary": 1}}, PLAIN | {"no_meal_reason": "holiday"},
        PLAIN | {"no_meal_reason": "lunar_eclipse"}, PLAIN | {"no_meal_reason": ["holiday"]}, PLAIN | {"extra": 1},
        {k: v for k, v in PLAIN.items() if k != "type"}, PLAIN | {"type": "inspection_done"}, [PLAIN], None,
    ]
    assert _same_as_models(unusual) == 0


_JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 200_000), st.floats(allow_nan=False),
                          st.sampled_from(["", "0", "12", "2025-07-01", "2025-13-01", "holiday", SCHOOL, "a:b.c-d"]))


@settings(max_examples=400, deadline=None)
@given(changes=st.dictionaries(st.sampled_from([*PLAIN, "no_meal_reason", "meals_served", "odd"]),
                               st.one_of(_JSON_SCALARS, st.dictionaries(
                                   st.sampled_from(["primary", "upper_primary", "secondary", "other"]),
                                   _JSON_SCALARS, max_size=3)), max_size=3),
       dropped=st.sets(st.sampled_from(list(PLAIN)), max_size=2))
def test_any_report_the_reader_takes_the_models_take_alike(changes, dropped):
    item = {k: v for k, v in (PLAIN | changes).items() if k not in dropped}
    read = _same_as_models([item])
    try:
        event_adapter.validate_python(item)
    except ValidationError:
        assert read == 0
