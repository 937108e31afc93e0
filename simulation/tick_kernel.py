"""The school-day tick as one pass over the schools (numba): attendance, meals, stock and funds
drawn down, spoilage, and the day's KPIs summed by block. Random numbers come in as arrays drawn by
the caller's streams, so the kernel itself is deterministic."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from simulation import world as w
from simulation.kpi import K

# ledger slots the kernel adds to
CONSUMED, SPOILED, MEAL_COST, OTHER_SPENT = 0, 4, 7, 8
LEDGER_SLOTS = 9

_SERVED, _MISSED, _WITHOUT = K["meals_served"], K["meals_missed"], K["children_without_meal"]
_STOCKOUT, _OPEN, _EGGS = K["stockout_school_days"], K["open_school_days"], K["eggs_missed"]
_SHORT, _COST, _RICE, _NEED = K["fund_shortfall_inr"], K["cost_inr"], K["rice_stock_kg"], K["rice_need_kg"]
_NOT_SERVED, _REFUSAL = w.NOT_SERVED_PROB, w.FUNDS_REFUSAL_PROB


@dataclass
class DayDraws:
    """One school day's random numbers, per school [n] unless said: `z` standard normal (attendance),
    `shock` [nd] per district, `kitchen_seed` (uint64) from which each school's kitchen uniform is
    hashed (`kitchen_uniform`: cook absent or meal not served below the school's probability;
    refused for lack of funds above 1 - FUNDS_REFUSAL_PROB when the account is empty),
    `spoil_share` of grain lost today (0: none), `other_inr` spent beyond meals (0: none)."""

    z: np.ndarray
    shock: np.ndarray
    kitchen_seed: int
    spoil_share: np.ndarray
    other_inr: np.ndarray


def school_day(children: np.ndarray, attendance_rate: np.ndarray, eat_share: np.ndarray, district: np.ndarray,
               factor: float, exam_eat: np.ndarray | None, ration: np.ndarray, cost_inr: np.ndarray,
               need_rice_kg: np.ndarray, cook_absent_prob: np.ndarray, is_open: np.ndarray, draws: DayDraws,
               stock: np.ndarray, funds_inr: np.ndarray, block_row: np.ndarray, out: np.ndarray,
               ledger: np.ndarray) -> None:
    """Advance every school through one school day, in place.

    Shapes [n] unless said: `ration` [n, 4] per meal, `stock` [n, 4] (updated), `funds_inr`
    (updated), `out` float64 [nb, len(DAILY_KPIS)] (added to, by `block_row`), `ledger` float64
    [LEDGER_SLOTS] (added to). `exam_eat` is the share of eaters staying on an exam day (None: no exam)."""
    n = children.shape[0]
    exam = np.ones(n) if exam_eat is None else exam_eat
    f64, i64 = np.float64, np.int64
    _school_day(np.asarray(children, f64), attendance_rate, eat_share, np.asarray(district, i64), float(factor),
                exam, ration, cost_inr, need_rice_kg, cook_absent_prob, np.asarray(is_open, np.bool_),
                draws.z, draws.shock, np.uint64(draws.kitchen_seed), draws.spoil_share, draws.other_inr,
                stock, funds_inr, np.asarray(block_row, i64), out, ledger)


def stock_only(stock: np.ndarray, need_rice_kg: np.ndarray, block_row: np.ndarray, out: np.ndarray) -> None:
    """A day without school: only the rice on hand and the ordinary need are recorded."""
    _stock_only(stock, need_rice_kg, np.asarray(block_row, np.int64), out)


_GOLDEN, _MIX1, _MIX2 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def kitchen_uniform(seed: int, school: int) -> float:
    """The uniform [0, 1) the kernel hashes for `school` from a day's `seed` (splitmix64): a
    counter-based draw, so every school gets its own whatever else is drawn, in every plan."""
    return float(_uniform(np.uint64(seed), school))


@njit(cache=True, nogil=True, inline="always")
def _uniform(seed, i):
    z = seed + np.uint64(i + 1) * _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    z = z ^ (z >> np.uint64(31))
    return float(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True, nogil=True)
def _school_day(children, rate0, eat_share, district, factor, exam_eat, ration, cost, need_rice, cook_p,
                is_open, z, shock, kitchen_seed, spoil_share, other_inr, stock, funds, block_row, out, ledger):
    acc = np.zeros(out.shape[1])  # the current block's sums; schools come grouped by block
    used_total = np.zeros(4)
    spoiled_total = np.zeros(3)
    meal_cost = 0.0
    other_spent = 0.0
    n = children.shape[0]
    for i in range(n):
        r = rate0[i] * factor + shock[district[i]]
        r = min(max(r, 0.3), 0.99) * eat_share[i] * exam_eat[i]
        mean = children[i] * r
        eaters = np.rint(mean + np.sqrt(mean * (1.0 - r)) * z[i])
        eaters = min(max(eaters, 0.0), children[i])
        out_of_rice = stock[i, 0] < eaters * ration[i, 0]
        u = _uniform(kitchen_seed, i)
        no_meal = out_of_rice or u < cook_p[i] + _NOT_SERVED or (funds[i] <= 0.0 and u > 1.0 - _REFUSAL)
        served = is_open[i] and not no_meal
        meals = eaters if served else 0.0
        for item in range(4):
            want = meals * ration[i, item]
            used = min(stock[i, item], want)
            stock[i, item] -= used
            used_total[item] += used
            if item == 3:
                acc[_EGGS] += want - used
        spend = meals * cost[i]
        acc[_SHORT] += max(spend - max(funds[i], 0.0), 0.0)
        funds[i] -= spend + other_inr[i]
        meal_cost += spend
        other_spent += other_inr[i]
        share = spoil_share[i]
        if share > 0.0 and stock[i, 0] >= 1.0:
            for item in range(3):
                loss = stock[i, item] * share
                stock[i, item] -= loss
                spoiled_total[item] += loss
        if is_open[i]:
            acc[_OPEN] += 1.0
            if out_of_rice:
                acc[_STOCKOUT] += 1.0
            if not served:
                acc[_MISSED] += eaters
                acc[_WITHOUT] += eaters
        else:
            acc[_WITHOUT] += eaters
        acc[_SERVED] += meals
        acc[_COST] += spend
        acc[_RICE] += stock[i, 0]
        acc[_NEED] += need_rice[i]
        if i == n - 1 or block_row[i + 1] != block_row[i]:
            b = block_row[i]
            for k in range(acc.shape[0]):
                out[b, k] += acc[k]
                acc[k] = 0.0
    for item in range(4):
        ledger[CONSUMED + item] += used_total[item]
    for item in range(3):
        ledger[SPOILED + item] += spoiled_total[item]
    ledger[MEAL_COST] += meal_cost
    ledger[OTHER_SPENT] += other_spent


@njit(cache=True, nogil=True)
def _stock_only(stock, need_rice, block_row, out):
    for i in range(stock.shape[0]):
        b = block_row[i]
        out[b, _RICE] += stock[i, 0]
        out[b, _NEED] += need_rice[i]


def top_up(stock: np.ndarray, target_per_day: np.ndarray, schools: np.ndarray, target_days: float,
           share: np.ndarray, item_from: int, item_to: int, whole: bool, delivered: np.ndarray) -> None:
    """Deliver to `schools` (bool [n]) what tops items `item_from` .. `item_to - 1` of `stock` up to
    `target_days` of `target_per_day` [n, 4], times `share` [n] (short shipments); `whole` rounds up
    to whole units (eggs). Adds the amounts to `delivered` [4]."""
    _top_up(stock, target_per_day, np.asarray(schools, np.bool_), float(target_days), share, item_from, item_to,
            whole, delivered)


@njit(cache=True, nogil=True)
def _top_up(stock, per_day, schools, days, share, item_from, item_to, whole, delivered):
    for i in range(stock.shape[0]):
        if not schools[i]:
            continue
        for item in range(item_from, item_to):
            target = per_day[i, item] * days
            add = np.ceil(target - stock[i, item]) if whole else (target - stock[i, item]) * share[i]
            if add > 0.0:
                stock[i, item] += add
                delivered[item] += add
