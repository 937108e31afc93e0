"""The live twin's ring buffer as a Panel: checked cell by cell against the shard states."""

from __future__ import annotations

import numpy as np
import pytest

from ml.live_panel import panel_from_states
from ml.panel import PANEL_FIELDS
from simulation.world import district_rain_normals
from tests.fixtures.builders import random_batch, small_directory
from twin import calendar
from twin.district_copy import districts_copy
from twin.encoding import NO_MEAL_REASONS
from twin.events import NoMealReason
from twin.kernels import apply_events, rice_need_per_day
from twin.norms import RATION_PER_MEAL, day_date
from twin.state import HISTORY_DAYS, NO_DAY, ShardState

DIRECTORY, ENROLMENT = small_directory(districts=(0, 1, 2))
HOLIDAY = next(code for code, reason in NO_MEAL_REASONS.items() if reason == NoMealReason.HOLIDAY)


@pytest.fixture(scope="module")
def states() -> list[ShardState]:
    """Two shards (districts 0 and 1+2), filled by the real kernel from one random event stream."""
    shards = [ShardState.for_districts(DIRECTORY, ENROLMENT, [0]),
              ShardState.for_districts(DIRECTORY, ENROLMENT, [1, 2])]
    batch = random_batch(DIRECTORY, 4_000, seed=3, days=60)
    for shard in shards:
        apply_events(shard, batch)
    return shards


def _row(states: list[ShardState], g: int) -> tuple[ShardState, int]:
    for s in states:
        if s.school_local[g] >= 0:
            return s, int(s.school_local[g])
    raise AssertionError(f"school {g} hosted nowhere")


def _today(states: list[ShardState]) -> int:
    return max(int(s.today[0]) for s in states)


def test_rows_are_the_last_days_up_to_the_twins_today(states):
    panel = panel_from_states(states, DIRECTORY, days=HISTORY_DAYS)
    today = max(int(s.today[0]) for s in states)
    assert panel.n_days == HISTORY_DAYS
    assert panel.dates[-1] == np.datetime64(day_date(today), "D")
    assert np.all(np.diff(panel.dates.astype(np.int64)) == 1)
    np.testing.assert_array_equal(panel.school_id, DIRECTORY.school_ids)
    kinds = tuple(calendar.DayKind)
    assert [kinds[k] for k in panel.day_kind] == [calendar.day_kind(d) for d in panel.dates.astype(object)]


def test_every_cell_matches_the_shard_state(states):
    panel = panel_from_states(states, DIRECTORY, days=HISTORY_DAYS)
    today = max(int(s.today[0]) for s in states)
    checked_reports = checked_no_meal = 0
    for g in range(len(DIRECTORY)):
        state, i = _row(states, g)
        assert panel.enrolment[0, g] == state.enrolment[i].sum()
        for t in range(panel.n_days):
            day = today - panel.n_days + 1 + t
            slot = day % HISTORY_DAYS
            held = state.hist_day[i, slot] == day
            assert panel.reported[t, g] == held
            school_day = calendar.is_school_day(day_date(day))
            closed = state.closed_from[i] != NO_DAY and state.closed_from[i] <= day <= state.closed_to[i]
            holiday = held and state.hist_reason[i, slot] == HOLIDAY
            assert panel.open[t, g] == (school_day and not closed and not holiday)
            if held:
                checked_reports += 1
                assert panel.present[t, g] == state.hist_present[i, slot]
                if panel.open[t, g]:
                    assert panel.meals[t, g] == state.hist_meals[i, slot].sum()
                    assert panel.no_meal[t, g] == (state.hist_reason[i, slot] != 0)
                    checked_no_meal += int(panel.no_meal[t, g])
            else:
                assert np.isnan(panel.present[t, g]) and np.isnan(panel.meals[t, g])
                assert not panel.no_meal[t, g]
            assert panel.shortage[t, g] == (state.shortage_day[i] == day)
    assert checked_reports > 100 and checked_no_meal > 0  # the stream did exercise the buffer


def test_last_days_balances_come_from_the_state_and_earlier_ones_add_back_the_draw(states):
    panel = panel_from_states(states, DIRECTORY, days=HISTORY_DAYS)
    today = max(int(s.today[0]) for s in states)
    state, i = _row(states, 5)
    g = 5
    meals = np.array([[state.hist_meals[i, (today - k) % HISTORY_DAYS, b]
                       if state.hist_day[i, (today - k) % HISTORY_DAYS] == today - k else 0 for b in range(3)]
                      for k in range(panel.n_days)])  # newest first
    need = rice_need_per_day(state.hist_meals[i:i + 1], state.enrolment[i:i + 1])[0]  # the twin's own measure
    assert panel.rice_days[-1, g] == pytest.approx(state.stock[i, 0] / need, rel=1e-5)
    drawn_yesterday_onwards = meals[0] @ RATION_PER_MEAL[0]  # what today's meals drew
    assert panel.rice_days[-2, g] == pytest.approx((state.stock[i, 0] + drawn_yesterday_onwards) / need, rel=1e-5)


def test_rain_is_the_district_climate_normal(states):
    panel = panel_from_states(states, DIRECTORY, days=10)
    normals = district_rain_normals()
    month = panel.dates[-1].astype(object).month
    np.testing.assert_allclose(panel.rainfall_mm[-1], normals[:, month - 1], rtol=1e-6)


def test_a_school_no_shard_hosts_has_no_reports(states):
    panel = panel_from_states(states[:1], DIRECTORY, days=20)
    unhosted = states[0].school_local < 0
    assert not panel.reported[:, unhosted].any()
    assert np.isnan(panel.meals[:, unhosted]).all()


def test_a_twin_without_reports_has_no_panel():
    fresh = ShardState.for_districts(DIRECTORY, ENROLMENT, [0])
    with pytest.raises(ValueError):
        panel_from_states([fresh], DIRECTORY)


def test_a_panel_of_some_districts_is_their_columns_of_the_whole_from_copies_of_their_state(states):
    whole = panel_from_states(states, DIRECTORY, days=HISTORY_DAYS)
    schools = np.flatnonzero(DIRECTORY.school_district == 2)
    copies = [districts_copy(state, [2]) for state in states]
    part = panel_from_states(copies, DIRECTORY, days=HISTORY_DAYS, schools=schools, today=_today(states))
    assert part.n_schools == len(schools) < whole.n_schools
    for name in PANEL_FIELDS:
        np.testing.assert_array_equal(getattr(part, name), getattr(whole.schools(schools), name), err_msg=name)


def test_every_school_asked_is_the_whole_panel(states):
    whole = panel_from_states(states, DIRECTORY, days=HISTORY_DAYS)
    asked = panel_from_states(states, DIRECTORY, days=HISTORY_DAYS, schools=np.arange(len(DIRECTORY)))
    for name in PANEL_FIELDS:
        np.testing.assert_array_equal(getattr(asked, name), getattr(whole, name), err_msg=name)


def test_the_days_end_on_the_day_given_even_where_the_states_have_no_report_of_it(states):
    later = _today(states) + 3
    panel = panel_from_states(states, DIRECTORY, days=HISTORY_DAYS, today=later)
    assert panel.dates[-1] == np.datetime64(day_date(later), "D")
    assert not panel.reported[-3:].any()
