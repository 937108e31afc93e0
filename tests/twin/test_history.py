"""`school_history` counts exactly what a shard folded: a report the shard refused as too old
(more than `HISTORY_DAYS` behind the school's latest) is left out of every day."""

import datetime as dt

import numpy as np
import orjson
import pytest

from tests.fixtures.builders import small_directory
from twin.encoding import encode
from twin.events import event_adapter
from twin.history import school_history
from twin.kernels import apply_events
from twin.outcomes import TOO_OLD
from twin.state import HISTORY_DAYS, ShardState

DIRECTORY, ENROLMENT = small_directory()
START = dt.date(2025, 7, 1)


def test_a_report_the_shard_refused_as_too_old_counts_on_no_day():
    school = f"{int(DIRECTORY.school_ids[3]):011d}"
    late_day = START + dt.timedelta(days=HISTORY_DAYS + 5)
    items = [
        {"type": "stock_delivered", "event_id": "d", "date": START.isoformat(), "school_id": school, "rice_kg": 50},
        {"type": "attendance_reported", "event_id": "new", "date": late_day.isoformat(), "school_id": school,
         "present": 20, "meals_served": {"primary": 20}},
        {"type": "attendance_reported", "event_id": "old", "date": START.isoformat(), "school_id": school,
         "present": 30, "meals_served": {"primary": 30}},  # sent after the later day's: too old to fold
    ]
    batch, _ = encode([event_adapter.validate_python(x) for x in items], DIRECTORY)
    batch.seq[:] = [1, 2, 3]
    state = ShardState.for_districts(DIRECTORY, ENROLMENT, [int(DIRECTORY.school_district[3])])
    assert list(apply_events(state, batch))[-1] == TOO_OLD

    rows = [(k + 1, orjson.dumps(x).decode()) for k, x in enumerate(items)]
    days = school_history(int(school), int(DIRECTORY.school_district[3]), int(DIRECTORY.school_block[3]), rows,
                          START, late_day)
    assert len(days) == HISTORY_DAYS + 6
    assert days[0]["reported"] is False and days[0]["stock_book_balance"]["rice_kg"] == 50
    assert days[-1]["meals_served"]["primary"] == 20
    i = int(state.school_local[3])
    assert [days[-1]["stock_book_balance"][k] for k in ("rice_kg", "pulses_kg", "oil_kg", "eggs")] == pytest.approx(
        list(state.stock[i]))
    assert days[-1]["funds_balance_inr"] == pytest.approx(-float(state.funds[i, 1]))
    assert np.isclose(days[-1]["stock_book_balance"]["rice_kg"], 48.0)  # 20 meals x 100 g


def test_no_events_is_an_empty_school_every_day():
    days = school_history(int(DIRECTORY.school_ids[0]), int(DIRECTORY.school_district[0]),
                          int(DIRECTORY.school_block[0]), [], START, START + dt.timedelta(days=2))
    assert [d["reported"] for d in days] == [False] * 3
    assert all(d["funds_balance_inr"] == 0 and d["stock_eggs"] == 0 for d in days)
