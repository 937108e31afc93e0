"""The first step of rule-based risk (`twin.risk`), run in a district shard next to the state
columns: raw, readable risk features of every school the shard hosts, in `twin.risk.FEATURES` order.
"""

from __future__ import annotations

import datetime as dt
from functools import cache

import numpy as np
from numba import njit

from twin import calendar
from twin.encoding import NO_MEAL_REASONS
from twin.events import NoMealReason
from twin.kernels import rice_need_per_day
from twin.norms import cost_per_meal, day_date
from twin.release_rules import MIN_UTILISED_SHARE
from twin.risk import FEATURES, F
from twin.school_days import school_days_after
from twin.state import FUNDS_RELEASED, MEAL_COST, NO_DAY, OTHER_UTILISED, ShardState

_HOLIDAY = next(code for code, reason in NO_MEAL_REASONS.items() if reason == NoMealReason.HOLIDAY)
_WEEK, _MONTH = 7, 30
NEVER_DAYS = 9999.0  # school days to a mark never reached at the current burn


# Each school's money as the block and district funds alerts add it up (`twin.alert_rules`), sent
# after the features: ratios such as funds_days cannot be summed over schools, their parts can.
AREA_FUNDS = ("balance_inr", "daily_cost_inr", "released_inr", "utilised_inr", "school_days_left")


def school_features(state: ShardState) -> np.ndarray:
    """float64 [n, len(FEATURES)]: the raw risk features of every school `state` hosts."""
    return school_features_and_funds(state)[:, :len(FEATURES)]


def school_features_and_funds(state: ShardState, rows: np.ndarray | None = None) -> np.ndarray:
    """float64 [n, len(FEATURES) + len(AREA_FUNDS)]: the risk features, then the money columns
    `AREA_FUNDS` (the balance, the daily meal cost the features use, released, utilised, and the
    school days left in the financial year); only of the schools at `rows` (local indices, in that
    order) when given, to the same values as the whole shard's rows."""
    today = int(state.today[0])
    rows = slice(None) if rows is None else rows
    hist_day, funds = state.hist_day[rows], state.funds[rows]
    n = len(hist_day)
    out = np.full((n, len(FEATURES)), np.nan)
    money = np.zeros((n, len(AREA_FUNDS)))
    money[:, 2] = funds[:, FUNDS_RELEASED]
    money[:, 3] = funds[:, MEAL_COST] + funds[:, OTHER_UTILISED]
    money[:, 0] = money[:, 2] - money[:, 3]
    if today < 0:  # nothing reported yet: nothing is known
        out[:, F["closed_today"]] = 0
        return np.hstack([out, money])
    cost = np.asarray(cost_per_meal(day_date(today)), np.float64)
    hist_meals, enrolment = state.hist_meals[rows], state.enrolment[rows]
    _history_features(hist_day, hist_meals, state.hist_reason[rows], enrolment, today, _HOLIDAY, cost, out)
    need = rice_need_per_day(hist_meals, enrolment)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[:, F["stock_days"]] = np.where(need > 0, np.maximum(state.stock[rows, 0], 0) / need, np.nan)
        balance = money[:, 0]
        daily_cost = out[:, F["funds_days"]].copy()  # the kernel leaves the daily meal cost here
        money[:, 1] = np.nan_to_num(daily_cost)
        money[:, 4] = _school_days_left_in_year(today)
        out[:, F["funds_days"]] = np.where(daily_cost > 0, np.maximum(balance, 0) / daily_cost, np.nan)
        out[:, F["utilisation_rule_days"]] = _utilisation_rule_days(funds, daily_cost, today)
    closed = (state.closed_from[rows] <= today) & (today <= state.closed_to[rows])
    last = state.last_report_day[rows]
    # school days after the last report up to and including today (twin.school_days): a weekend, a
    # holiday or a vacation is not a missed report, so Friday's report reads 1 on Monday, not 3. A
    # school that never reported is stale since the twin first heard from any school (as far back as
    # the kept history goes), that first day included: not since the epoch, which would flood a fresh
    # twin with alerts
    since = np.where(last >= 0, last, first_kept_day(state) - 1)
    # nor are the school days of its own closure (the latest, the one the twin keeps) inside the gap
    closure_days = school_days_after(np.maximum(state.closed_from[rows], since + 1) - 1,
                                     np.minimum(state.closed_to[rows], today))
    out[:, F["days_since_report"]] = np.where(closed, 0, school_days_after(since, today) - closure_days)
    out[:, F["closed_today"]] = closed
    inspection_day = state.inspection_day[rows]
    seen = inspection_day != NO_DAY
    out[:, F["days_since_inspection"]] = np.where(seen, today - inspection_day, np.nan)
    out[:, F["inspection_issues"]] = np.where(seen, state.inspection_issues[rows], np.nan)
    shortage_day = state.shortage_day[rows]
    out[:, F["days_since_shortage"]] = np.where(shortage_day != NO_DAY, today - shortage_day, np.nan)
    return np.hstack([out, money])


def first_kept_day(state: ShardState) -> int:
    """The oldest day in any school's kept history (today while none is kept): a feature of every
    school depends on it, so a change of it changes them all."""
    # read as unsigned, an empty slot (NO_DAY, below zero) is above every day: a plain min, with no
    # mask and no copy, finds the oldest kept day (3-4 times quicker than a masked one)
    days = state.hist_day
    oldest = int(days.view(f"u{days.itemsize}").min(initial=np.iinfo(f"u{days.itemsize}").max))
    return oldest if oldest <= np.iinfo(days.dtype).max else int(state.today[0])


def _utilisation_rule_days(funds: np.ndarray, daily_cost: np.ndarray, today: int) -> np.ndarray:
    """[n] school days by which each school misses the release rule's 75% utilisation at the end of
    the financial year, spending `daily_cost` a school day from now (0 or less: it makes it; NaN:
    nothing released). See `twin.release_rules`."""
    released = funds[:, FUNDS_RELEASED]
    utilised = funds[:, MEAL_COST] + funds[:, OTHER_UTILISED]
    short = np.maximum(MIN_UTILISED_SHARE * released - utilised, 0.0)
    needed = np.where(short > 0, np.ceil(short / np.where(daily_cost > 0, daily_cost, np.nan)), 0.0)
    needed = np.where((short > 0) & ~(daily_cost > 0), NEVER_DAYS, np.minimum(needed, NEVER_DAYS))
    return np.where(released > 0, needed - _school_days_left_in_year(today), np.nan)


@cache
def _school_days_left_in_year(today: int) -> int:
    """School days after day `today` to the end of its financial year (`twin.calendar`)."""
    d = day_date(today)
    last = dt.date(d.year + (d.month >= 4), 3, 31)
    return sum(calendar.is_school_day(d + dt.timedelta(days=k)) for k in range(1, (last - d).days + 1))


@njit(cache=True, nogil=True)
def _history_features(hist_day, hist_meals, hist_reason, enrolment, today, holiday, cost, out):
    """From the kept daily reports (slot = day % W), newest first: meal share over the last week,
    the no-meal streak (holidays neither break nor extend it), no-meal days in the last month, and
    (left in the funds_days column for the caller) the daily meal cost."""
    n, w = hist_day.shape
    for i in range(n):
        enrolled = enrolment[i, 0] + enrolment[i, 1] + enrolment[i, 2]
        meals_week, days_week, missed_month, streak = 0.0, 0, 0, 0
        cost_sum, cost_days = 0.0, 0
        streak_open = True
        for age in range(w):
            day = today - age
            slot = day % w
            if day < 0 or hist_day[i, slot] != day or hist_reason[i, slot] == holiday:
                continue
            served = hist_meals[i, slot, 0] + hist_meals[i, slot, 1] + hist_meals[i, slot, 2]
            missed = hist_reason[i, slot] != 0
            if age < _WEEK:
                meals_week += served
                days_week += 1
            if age < _MONTH and missed:
                missed_month += 1
            if streak_open and missed:
                streak += 1
            else:
                streak_open = False
            if served > 0:
                cost_sum += hist_meals[i, slot, 0] * cost[0] + hist_meals[i, slot, 1] * cost[1] + hist_meals[i, slot, 2] * cost[2]
                cost_days += 1
        out[i, 1] = meals_week / (enrolled * days_week) if enrolled > 0 and days_week > 0 else np.nan
        out[i, 3] = streak
        out[i, 4] = missed_month
        if cost_days > 0:
            out[i, 5] = cost_sum / cost_days
        else:  # no meal served in the kept history: the cost of feeding the roll
            out[i, 5] = enrolment[i, 0] * cost[0] + enrolment[i, 1] * cost[1] + enrolment[i, 2] * cost[2]
