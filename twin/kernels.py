"""numba kernels over twin state columns: apply an event batch, roll schools up into blocks.

House style: a typed public wrapper checks shapes and dtypes; the private `@njit` kernel does the
work and never raises. Each kernel has a slow, obvious reference in `tests/naive.py`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from twin.batch import EventBatch
from twin.events import EventKind
from twin.norms import RATION_PER_MEAL, cost_table
from twin.outcomes import APPLIED, CORRECTION, TOO_OLD
from twin.state import (
    ALLOCATION_YEARS,
    FUNDS_RELEASED,
    HISTORY_DAYS,
    MEAL_COST,
    OTHER_UTILISED,
    PASSED_DOWN,
    RECEIVED,
    ShardState,
)

_ATT, _DEL, _ADJ = int(EventKind.ATTENDANCE_REPORTED), int(EventKind.STOCK_DELIVERED), int(EventKind.STOCK_ADJUSTED)
_REL, _UTIL, _INSP = int(EventKind.FUNDS_RELEASED), int(EventKind.FUNDS_UTILISED), int(EventKind.INSPECTION_DONE)
_SHORT, _CLOSE, _ENROL = int(EventKind.SHORTAGE_REPORTED), int(EventKind.SCHOOL_CLOSED), int(EventKind.ENROLMENT_UPDATED)
_ALLOC = int(EventKind.FUNDS_ALLOCATED)
_MOVE = int(EventKind.STOCK_TRANSFERRED)
_DEPOT = int(EventKind.DEPOT_STOCK_RECEIVED)


def apply_events(state: ShardState, batch: EventBatch) -> np.ndarray:
    """Fold `batch` (ascending seq, global indices) into `state` in place.

    Events of districts this shard does not host, and events at or below their district's applied
    seq, are skipped, which makes re-delivery harmless. Returns int8 [n] outcomes (see module).
    """
    n = len(batch)
    if n and np.any(np.diff(batch.seq) <= 0):
        raise ValueError("batch seq must be strictly ascending")
    if batch.values.ndim != 2 or batch.values.shape[0] != n:
        raise ValueError("values must be [n, k]")
    outcome = np.zeros(n, np.int8)
    if n == 0:
        return outcome
    cost_days, cost_rates = _COST_TABLE
    _apply(
        batch.seq.astype(np.int64), batch.kind.astype(np.int8), batch.school.astype(np.int32),
        batch.block.astype(np.int32), batch.district.astype(np.int16), batch.day.astype(np.int32),
        batch.day_end.astype(np.int32), np.ascontiguousarray(batch.values, np.float64),
        state.school_local, state.block_local, state.district_local, state.school_block, state.block_district,
        state.enrolment, state.stock, state.funds, state.alloc_year, state.alloc_inr, state.last_report_day,
        state.closed_from, state.closed_to,
        state.closed_reason, state.inspection_day, state.inspection_score, state.inspection_issues,
        state.shortage_day, state.shortage_item, state.hist_day, state.hist_present, state.hist_meals,
        state.hist_reason, state.block_funds, state.block_depot_stock, state.block_depot_logged,
        state.district_funds, state.district_applied_seq, state.today,
        RATION_PER_MEAL, cost_days, cost_rates, outcome,
    )
    return outcome


_COST_TABLE = cost_table()


@njit(cache=True, nogil=True)
def _meal_effects(meals, day, ration, cost_days, cost_rates, sign, stock_row, funds_row):
    """Draw stock and accrue cost for `meals` [3] served on `day`, times `sign` (+1 or -1)."""
    k = 0
    for j in range(cost_days.shape[0]):
        if day >= cost_days[j]:
            k = j
    for band in range(3):
        m = meals[band] * sign
        for item in range(4):
            stock_row[item] -= m * ration[item, band]
        funds_row[MEAL_COST] += m * cost_rates[k, band]


@njit(cache=True, nogil=True)
def _apply(seq, kind, school, block, district, day, day_end, values,
           school_local, block_local, district_local, school_block, block_district,
           enrolment, stock, funds, alloc_year, alloc_inr, last_report_day, closed_from, closed_to,
           closed_reason,
           inspection_day, inspection_score, inspection_issues, shortage_day, shortage_item,
           hist_day, hist_present, hist_meals, hist_reason, block_funds, depot_stock, depot_logged, district_funds,
           district_applied_seq, today, ration, cost_days, cost_rates, outcome):
    W = HISTORY_DAYS
    new_meals = np.zeros(3, np.int32)
    for e in range(seq.shape[0]):
        if district[e] < 0:
            continue
        d = district_local[district[e]]
        if d < 0 or seq[e] <= district_applied_seq[d]:
            continue
        district_applied_seq[d] = seq[e]
        s = school_local[school[e]] if school[e] >= 0 else -1
        b = block_local[block[e]] if block[e] >= 0 else -1
        k = kind[e]
        if s < 0 and k != _REL and k != _CLOSE and k != _DEPOT:
            continue  # a school this shard does not know yet; re-delivered after it is added
        v = values[e]
        outcome[e] = APPLIED
        if k == _ATT:
            slot = day[e] % W
            held = hist_day[s, slot]
            if held > day[e] or day[e] <= last_report_day[s] - W:
                outcome[e] = TOO_OLD
                continue
            for band in range(3):
                new_meals[band] = np.int32(v[1 + band])
            if held == day[e]:
                outcome[e] = CORRECTION
                _meal_effects(hist_meals[s, slot], day[e], ration, cost_days, cost_rates, -1.0, stock[s], funds[s])
            hist_day[s, slot] = day[e]
            hist_present[s, slot] = np.int32(v[0])
            hist_meals[s, slot, :] = new_meals
            hist_reason[s, slot] = np.int8(v[4])
            _meal_effects(new_meals, day[e], ration, cost_days, cost_rates, 1.0, stock[s], funds[s])
            if day[e] > last_report_day[s]:
                last_report_day[s] = day[e]
            if day[e] > today[0]:
                today[0] = day[e]
        elif k == _DEL or k == _ADJ:
            for item in range(4):
                stock[s, item] += v[item]
                if k == _DEL and v[4] > 0:  # from the school's block depot (a book balance, as a school's)
                    depot_stock[school_block[s], item] -= v[item]
        elif k == _MOVE:
            # the source is in the receiver's district (encoding checks it), hence hosted here
            src = school_local[np.int64(v[4])] if v[4] >= 0 else -1
            for item in range(4):
                stock[s, item] += v[item]
                if src >= 0:
                    stock[src, item] -= v[item]
                else:
                    depot_stock[school_block[s], item] -= v[item]
        elif k == _DEPOT:
            if b >= 0:
                for item in range(4):
                    depot_stock[b, item] += v[item]
                depot_logged[b] = 1
        elif k == _REL:
            if s >= 0:
                funds[s, FUNDS_RELEASED] += v[0]
                block_funds[school_block[s], PASSED_DOWN] += v[0]
            elif b >= 0:
                block_funds[b, RECEIVED] += v[0]
                district_funds[d, PASSED_DOWN] += v[0]
            else:
                district_funds[d, RECEIVED] += v[0]
        elif k == _UTIL:
            funds[s, OTHER_UTILISED] += v[0]
        elif k == _INSP:
            if day[e] >= inspection_day[s]:
                inspection_day[s] = day[e]
                inspection_score[s] = v[0]
                inspection_issues[s] = np.int8(v[1])
        elif k == _SHORT:
            if day[e] >= shortage_day[s]:
                shortage_day[s] = day[e]
                shortage_item[s] = np.int8(v[0])
        elif k == _CLOSE:
            for i in range(school_block.shape[0]):
                hit = (i == s) if s >= 0 else (school_block[i] == b if b >= 0 else block_district[school_block[i]] == d)
                if hit:
                    closed_from[i] = day[e]
                    closed_to[i] = day_end[e]
                    closed_reason[i] = np.int8(v[0])
        elif k == _ENROL:
            for band in range(3):
                enrolment[s, band] = np.int32(v[band])
        elif k == _ALLOC:
            # one allocation per school and year: a second replaces the first (a correction); a year
            # older than the slot's is past keeping
            year = np.int32(v[0])
            slot = year % ALLOCATION_YEARS
            if alloc_year[s, slot] > year:
                outcome[e] = TOO_OLD
                continue
            if alloc_year[s, slot] == year:
                outcome[e] = CORRECTION
            alloc_year[s, slot] = year
            alloc_inr[s, slot, 0] = v[1]
            alloc_inr[s, slot, 1] = v[2]


def rollup(group: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Sum rows of `values` (float64 [n, k]) by `group` (int32 [n], values in [0, n_groups)):
    returns float64 [n_groups, k]. Used for school -> block and block -> district roll-ups."""
    group = np.ascontiguousarray(group, np.int32)
    values = np.ascontiguousarray(values, np.float64)
    if values.ndim != 2 or group.shape[0] != values.shape[0]:
        raise ValueError("group must be [n] and values [n, k]")
    if group.size and (group.min() < 0 or group.max() >= n_groups):
        raise ValueError("group index out of range")
    return _rollup(group, values, n_groups)


@njit(cache=True, nogil=True)
def _rollup(group, values, n_groups):
    out = np.zeros((n_groups, values.shape[1]))
    for i in range(values.shape[0]):
        g = group[i]
        for j in range(values.shape[1]):
            out[g, j] += values[i, j]
    return out


def rice_need_per_day(hist_meals: np.ndarray, enrolment: np.ndarray) -> np.ndarray:
    """float64 [n]: rice (kg) each school uses on a school day: the mean over the days with meals in
    its kept history (hist_meals int32 [n, W, 3], meals by band), or its enrolment (int32 [n, 3])
    at the norm when it has served none. Runs on every roll-up, so it is a kernel."""
    rice = np.ascontiguousarray(RATION_PER_MEAL[0], dtype=np.float64)
    return _rice_need(np.ascontiguousarray(hist_meals), np.ascontiguousarray(enrolment), rice)


@njit(cache=True, nogil=True)
def _rice_need(hist_meals, enrolment, rice):
    n, w, bands = hist_meals.shape
    out = np.empty(n)
    for i in range(n):
        used = 0.0
        days = 0
        for j in range(w):
            kg = 0.0
            served = 0
            for b in range(bands):
                kg += hist_meals[i, j, b] * rice[b]
                served += hist_meals[i, j, b]
            if served > 0:
                used += kg
                days += 1
        if days > 0:
            out[i] = used / days
        else:
            out[i] = 0.0
            for b in range(bands):
                out[i] += enrolment[i, b] * rice[b]
    return out


def window_meals(hist_day: np.ndarray, hist_meals: np.ndarray, rows: np.ndarray, days: np.ndarray) -> np.ndarray:
    """float64 [W, 3]: meals by band on each of `days` (int [W], each held in slot day % HISTORY_DAYS)
    summed over the schools `rows` (int [k]) whose slot holds that day's report. A read of the few
    rows' slots in place: a fancy-indexed copy of all of them took most of a state-wide money read."""
    return _window_meals(hist_day, hist_meals, np.ascontiguousarray(rows, np.int64),
                         np.ascontiguousarray(days, np.int64))


@njit(cache=True, nogil=True)
def _window_meals(hist_day, hist_meals, rows, days):
    W = hist_day.shape[1]
    out = np.zeros((days.shape[0], 3))
    for w in range(days.shape[0]):
        slot = days[w] % W
        for r in range(rows.shape[0]):
            i = rows[r]
            if hist_day[i, slot] == days[w]:
                for band in range(3):
                    out[w, band] += hist_meals[i, slot, band]
    return out
