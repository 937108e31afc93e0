"""Funds moved in a range of dates, folded from the log (`twin.funds_range`): a report the shard
refused as too old does not count, a correction replaces its report, ranges split the shard's
running totals, and a random log's ranges add up to the shard's fold."""

import datetime as dt

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fixtures.builders import small_directory
from twin.encoding import encode
from twin.events import event_list_adapter
from twin.funds_range import funds_in_range
from twin.kernels import apply_events
from twin.state import HISTORY_DAYS, MEAL_COST, ShardState

DIRECTORY, _ = small_directory()
IDS = [f"{int(s):011d}" for s in DIRECTORY.school_ids]
DISTRICT = 0
ARIYALUR = [s for s, d in zip(IDS, DIRECTORY.school_district) if d == DISTRICT]
RATE_JULY_2025 = np.array([6.78, 10.17, 10.17])
START = dt.date(2025, 7, 1)


def _report(event_id: str, school: str, day: dt.date, meals: tuple[int, int, int]) -> dict:
    return {"type": "attendance_reported", "event_id": event_id, "date": day.isoformat(), "school_id": school,
            "present": sum(meals), "meals_served": dict(zip(("primary", "upper_primary", "secondary"), meals))}


def _rows(events: list[dict]) -> list[tuple[int, str]]:
    return [(i + 1, orjson.dumps(e).decode()) for i, e in enumerate(events)]


def _shard_fold(events: list[dict]) -> ShardState:
    """The running totals exactly as a shard folds `events` in log order."""
    state = ShardState.for_districts(DIRECTORY, np.zeros((len(DIRECTORY), 3)), [DISTRICT])
    batch, _ = encode(event_list_adapter.validate_python(events), DIRECTORY)
    batch.seq[:] = np.arange(1, len(events) + 1)
    apply_events(state, batch)
    return state


def _since(events: list[dict], first: dt.date) -> list[tuple[int, str]]:
    """The rows the log would answer for a range starting on `first` (seqs kept)."""
    return [r for r, e in zip(_rows(events), events) if dt.date.fromisoformat(e["date"]) >= first]


def test_a_report_the_shard_refused_as_too_old_does_not_count_in_its_range():
    school = ARIYALUR[0]
    late = START + dt.timedelta(days=HISTORY_DAYS + 5)
    events = [_report("a", school, START + dt.timedelta(days=1), (10, 0, 0)),
              _report("b", school, late, (5, 0, 0)),
              _report("c", school, START, (7, 0, 0))]  # arrives after `late`: too old for the shard
    assert _shard_fold(events).funds[ARIYALUR.index(school), MEAL_COST] == pytest.approx(15 * 6.78)
    moved = funds_in_range(_since(events, START), DIRECTORY, [DISTRICT], START, START + dt.timedelta(days=5))
    row = moved.school_funds(np.array([int(school)]))[0]
    assert row[MEAL_COST] == pytest.approx(10 * 6.78)  # 1 July's 7 meals never counted


def test_a_correction_replaces_the_report_it_corrects_within_the_range():
    school = ARIYALUR[1]
    events = [_report("a", school, START, (10, 2, 0)), _report("a2", school, START, (4, 1, 0))]
    moved = funds_in_range(_rows(events), DIRECTORY, [DISTRICT], START, START)
    assert moved.school_funds(np.array([int(school)]))[0, MEAL_COST] == pytest.approx(
        float(np.array([4, 1, 0]) @ RATE_JULY_2025))


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["report", "release", "spend", "block", "district"]),
                          st.integers(0, len(ARIYALUR) - 1), st.integers(0, 60), st.integers(0, 40)),
                max_size=40),
       st.integers(1, 59))
def test_two_ranges_split_the_shard_running_totals(steps, cut):
    """Random reports (with corrections and too-old ones), releases at every level and spending:
    the funds of [first, cut) and [cut, last] add up to the shard's running totals."""
    events = []
    for k, (kind, s, day, amount) in enumerate(steps):
        school, date = ARIYALUR[s], (START + dt.timedelta(days=day)).isoformat()
        if kind == "report":
            events.append(_report(f"r{s}-{day}" + ("x" * (k % 2)), school, dt.date.fromisoformat(date),
                                  (amount, amount // 2, 0)))
        elif kind == "release":
            events.append({"type": "funds_released", "event_id": f"e{k}", "date": date, "amount_inr": amount + 1,
                           "school_id": school})
        elif kind == "spend":
            events.append({"type": "funds_utilised", "event_id": f"e{k}", "date": date, "amount_inr": amount + 1,
                           "school_id": school})
        else:
            to = {"district": "Ariyalur"} | ({"block": DIRECTORY.blocks.names[int(DIRECTORY.school_block[
                IDS.index(school)])]} if kind == "block" else {})
            events.append({"type": "funds_released", "event_id": f"e{k}", "date": date, "amount_inr": amount + 1,
                           **to})
    seen, unique = set(), []
    for e in events:  # the log drops a repeated id
        if e["event_id"] not in seen:
            seen.add(e["event_id"])
            unique.append(e)
    shard = _shard_fold(unique)
    first, last, middle = START, START + dt.timedelta(days=60), START + dt.timedelta(days=cut)
    before = funds_in_range(_since(unique, first), DIRECTORY, [DISTRICT], first, middle - dt.timedelta(days=1))
    after = funds_in_range(_since(unique, middle), DIRECTORY, [DISTRICT], middle, last)
    ids = shard.school_ids
    np.testing.assert_allclose(before.school_funds(ids) + after.school_funds(ids), shard.funds, atol=1e-6)
    np.testing.assert_allclose(before.block_funds + after.block_funds, shard.block_funds, atol=1e-6)
    np.testing.assert_allclose(before.district_funds + after.district_funds, shard.district_funds, atol=1e-6)
