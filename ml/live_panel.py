"""The live twin's recent days as a `Panel`, so the served models can score and forecast from it.

The twin keeps, per school, a ring buffer of its last `twin.state.HISTORY_DAYS` daily reports
(slot = day % HISTORY_DAYS) next to its current stock, funds, closure and latest shortage. From
those the panel's columns are rebuilt as the history store holds them:

- reported / present / meals: straight from the reports; NaN where a day was not reported.
- open: a calendar school day (or exam day) that is not inside the school's known closure and was
  not reported as a holiday. An unreported school day counts as open, as in the simulated history
  (where `open` is the truth and `reported` says whether the twin heard of it): reading a silent
  school as closed would hide exactly the staleness the risk model looks for.
- no_meal: a reported open day with a no-meal reason; holidays are not no-meal days.
- shortage: the state keeps only each school's latest shortage day, so only that day reads True.
- rice_days, funds_days: the last day from the state's book balances. Earlier days are projected
  back by adding what the reported meals drew since (rice at the ration, funds at the meal cost):
  the state keeps balances, not their history, so a delivery or a fund release inside the window
  is not seen and earlier balances read as if none came.
- rainfall_mm: the twin receives no rain reports, so each district's climate normal for the month
  stands in (`simulation.world.district_rain_normals`); a caller with a real rain forecast passes
  it to the forecast itself.

Columns are the directory's schools in its index order, or only some of them (a reader of a few
districts, from copies of only their state); a school no shard hosts has no reports.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ml.panel import Panel
from simulation.world import district_rain_normals
from twin import calendar
from twin.directory import Directory
from twin.encoding import NO_MEAL_REASONS
from twin.events import NoMealReason
from twin.kernels import rice_need_per_day
from twin.norms import RATION_PER_MEAL, cost_per_meal, day_date
from twin.state import FUNDS_RELEASED, MEAL_COST, NO_DAY, OTHER_UTILISED, ShardState

_KINDS = tuple(calendar.DayKind)
_HOLIDAY_REASON = next(code for code, reason in NO_MEAL_REASONS.items() if reason == NoMealReason.HOLIDAY)


def twin_today(states: Sequence[ShardState]) -> int:
    """The twin's today (a day number): the latest report day over all shards; NO_DAY if none."""
    return max((int(s.today[0]) for s in states), default=NO_DAY)


def panel_from_states(states: Sequence[ShardState], directory: Directory, days: int = 35,
                      schools: np.ndarray | None = None, today: int | None = None) -> Panel:
    """The last `days` days up to `today` (default: the twin's today in `states`) of `schools`
    (directory indices, ascending: column k is school `schools[k]`; default every school of
    `directory`), see module. A reader of some districts passes their schools, copies of only
    their state, and the twin's today: a shard that has no report of the newest day yet must not
    move their days back from those of the whole twin."""
    today = twin_today(states) if today is None else today
    if today == NO_DAY:
        raise ValueError("the twin has no reports yet: there is no day to build a panel for")
    schools = np.arange(len(directory)) if schools is None else np.asarray(schools, np.int64)
    day_numbers = np.arange(today - days + 1, today + 1, dtype=np.int64)
    dates = np.array([day_date(int(d)) for d in day_numbers], "datetime64[D]")
    kinds = [calendar.day_kind(day_date(int(d))) for d in day_numbers]
    school_day = np.array([k in (calendar.DayKind.SCHOOL_DAY, calendar.DayKind.EXAM_DAY) for k in kinds])
    t, n = days, len(schools)

    enrolment = np.zeros(n, np.float32)
    reported = np.zeros((t, n), bool)
    present = np.full((t, n), np.nan, np.float32)
    meals = np.full((t, n), np.nan, np.float32)
    reason = np.zeros((t, n), np.int8)
    in_closure = np.zeros((t, n), bool)
    shortage = np.zeros((t, n), bool)
    rice_days = np.full((t, n), np.nan, np.float32)
    funds_days = np.full((t, n), np.nan, np.float32)

    for state in states:
        if state.n_schools == 0:
            continue
        column = _panel_columns(schools, directory.lookup(state.school_ids))
        hosted = column >= 0
        g = column[hosted]
        part = _shard_columns(state, day_numbers)
        enrolment[g] = part["enrolment"][hosted]
        for name, target in (("reported", reported), ("present", present), ("meals", meals), ("reason", reason),
                             ("in_closure", in_closure), ("shortage", shortage), ("rice_days", rice_days),
                             ("funds_days", funds_days)):
            target[:, g] = part[name][:, hosted]

    is_open = school_day[:, None] & ~in_closure & ~(reported & (reason == _HOLIDAY_REASON))
    normals = district_rain_normals()  # [D, 12] mm per day
    months = np.array([day_date(int(d)).month - 1 for d in day_numbers])
    panel = Panel(
        dates=dates,
        school_id=directory.school_ids[schools].astype(np.int64),
        district=directory.school_district[schools].astype(np.int16),
        block=directory.school_block[schools].astype(np.int32),
        enrolment=np.repeat(enrolment[None, :], t, axis=0),
        day_kind=np.array([_KINDS.index(k) for k in kinds], np.int8),
        rainfall_mm=normals[:, months].T.astype(np.float32),
        open=is_open,
        reported=reported,
        present=np.where(reported, present, np.nan).astype(np.float32),
        # true meals are what the panel holds; the twin's best knowledge of them is the report
        meals=np.where(is_open & reported, meals, np.nan).astype(np.float32),
        no_meal=is_open & reported & (reason != 0),
        shortage=shortage,
        rice_days=rice_days,
        funds_days=funds_days,
    )
    panel.validate()
    return panel


def _panel_columns(schools: np.ndarray, index: np.ndarray) -> np.ndarray:
    """The panel column of each directory index in `index`: -1 for one that is not a panel school
    (of another district, or unknown to the directory: -1 already)."""
    if len(schools) == 0:
        return np.full(len(index), -1, np.int64)
    at = np.minimum(np.searchsorted(schools, index), len(schools) - 1)
    return np.where((index >= 0) & (schools[at] == index), at, -1)


def _shard_columns(state: ShardState, day_numbers: np.ndarray) -> dict[str, np.ndarray]:
    """[T, n] arrays of one shard's schools on the panel's days (local row order)."""
    width = state.hist_day.shape[1]
    slots = day_numbers % width  # [T]
    held = state.hist_day[:, slots].T == day_numbers[:, None]  # [T, n]: the slot holds that day's report
    meals_by_band = np.transpose(state.hist_meals[:, slots, :], (1, 0, 2))  # [T, n, 3]
    meals = meals_by_band.sum(axis=2).astype(np.float32)
    present = state.hist_present[:, slots].T.astype(np.float32)
    reason = np.where(held, state.hist_reason[:, slots].T, 0).astype(np.int8)
    closed = (state.closed_from != NO_DAY) & (state.closed_to != NO_DAY)
    in_closure = closed[None, :] & (state.closed_from[None, :] <= day_numbers[:, None]) & (
        day_numbers[:, None] <= state.closed_to[None, :])
    shortage = (state.shortage_day[None, :] == day_numbers[:, None]) & (state.shortage_day[None, :] != NO_DAY)
    rice_days, funds_days = _balances_in_days(state, day_numbers, np.where(held[..., None], meals_by_band, 0))
    return {
        "enrolment": state.enrolment.sum(axis=1).astype(np.float32),
        "reported": held,
        "present": np.where(held, present, np.nan),
        "meals": np.where(held, meals, np.nan),
        "reason": reason,
        "in_closure": in_closure,
        "shortage": shortage,
        "rice_days": rice_days,
        "funds_days": funds_days,
    }


def _balances_in_days(state: ShardState, day_numbers: np.ndarray,
                      meals_by_band: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rice on hand and fund balance at each day's end, in days of the school's use: today's book
    balances plus what the reported meals of the later days drew (see module: no delivery or
    release inside the window is visible)."""
    rice_per_meal = RATION_PER_MEAL[0]  # kg by band
    cost = np.array([cost_per_meal(day_date(int(d))) for d in day_numbers])  # [T, 3] INR by band
    rice_drawn = meals_by_band @ rice_per_meal  # [T, n]
    cost_drawn = np.einsum("tnb,tb->tn", meals_by_band.astype(np.float64), cost)
    # drawn after day t: the sum over t+1 .. today
    rice_after = np.cumsum(rice_drawn[::-1], axis=0)[::-1] - rice_drawn
    cost_after = np.cumsum(cost_drawn[::-1], axis=0)[::-1] - cost_drawn
    rice_now = state.stock[:, 0]
    funds_now = state.funds[:, FUNDS_RELEASED] - state.funds[:, MEAL_COST] - state.funds[:, OTHER_UTILISED]
    need = rice_need_per_day(state.hist_meals, state.enrolment)  # kg per school day
    daily_cost = _daily_meal_cost(state, meals_by_band, cost)
    with np.errstate(divide="ignore", invalid="ignore"):
        rice_days = np.where(need > 0, (rice_now[None, :] + rice_after) / need, np.nan)
        funds_days = np.where(daily_cost > 0, (funds_now[None, :] + cost_after) / daily_cost, np.nan)
    return rice_days.astype(np.float32), funds_days.astype(np.float32)


def _daily_meal_cost(state: ShardState, meals_by_band: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """INR a school's meals cost on a school day: the mean over its reported days with meals, or its
    whole roll at the latest norm when it served none (as `twin.risk` reckons it)."""
    spent = np.einsum("tnb,tb->tn", meals_by_band.astype(np.float64), cost)
    served_days = (meals_by_band.sum(axis=2) > 0).sum(axis=0)
    roll = state.enrolment.astype(np.float64) @ cost[-1]
    return np.where(served_days > 0, spent.sum(axis=0) / np.maximum(served_days, 1), roll)

