"""The greedy baseline the stock LP is judged against: what a depot clerk would do without a
model. Depot by depot, the schools holding the fewest days of grain first, each is topped up to
its target (the LP's: `need * (days_to_delivery + buffer_days)`) from its own depot until the
depot's stock of an item or its vehicle's daily capacity runs out. No school gives to another.

The answer is a `StockPlan` like the LP's, so the simulation replays both the same way."""

from __future__ import annotations

import time

import numpy as np

from scenarios.optimise_input import ITEM_KG, OptimiseInput
from scenarios.optimise_stock import StockPlan, StockRule


def greedy_stock(inp: OptimiseInput, rule: StockRule = StockRule()) -> StockPlan:
    inp.check()
    started = time.perf_counter()
    items = np.array(rule.items, np.int64)
    child_per_unit = np.divide(inp.children[:, None], inp.need_per_day, out=np.zeros_like(inp.need_per_day),
                               where=inp.need_per_day > 0)
    target = inp.need_per_day * (inp.days_to_delivery + np.asarray(rule.buffer_days, float))
    deficit = np.zeros_like(inp.stock)
    deficit[:, items] = np.maximum(target - np.maximum(inp.stock, 0.0), 0.0)[:, items]
    deficit[deficit < 1e-6] = 0.0
    before = deficit * child_per_unit
    need = inp.need_per_day[:, :3]
    held = np.min(np.where(need > 0, np.maximum(inp.stock[:, :3], 0) / np.where(need > 0, need, 1), np.inf), axis=1)
    depot_left = np.maximum(inp.depot_stock, 0.0).copy()
    truck_left = np.maximum(inp.vehicle_kg_per_day, 0.0).copy()
    given = np.zeros_like(deficit)
    # lowest stock first within each depot: one sort by (block, days held)
    for school in np.lexsort((held, inp.block)).tolist():
        want = deficit[school]
        if not want.any():
            continue
        b = inp.block[school]
        give = np.minimum(want, depot_left[b])
        kg = float(give @ ITEM_KG)
        if kg > truck_left[b]:  # the truck's last room: every item in proportion
            give *= truck_left[b] / kg
            kg = truck_left[b]
        if kg <= 1e-9:
            continue
        given[school] = give
        depot_left[b] -= give
        truck_left[b] -= kg
    to, item = np.nonzero(given > 1e-9)
    quantity = given[to, item]
    km = inp.depot_km[to]
    after = np.maximum(deficit - given, 0.0) * child_per_unit
    after[after < 1e-7] = 0.0
    unmet = int((after > 0).any(axis=1).sum())
    none = np.full(to.size, -1, np.int64)
    return StockPlan(
        status="solved" if unmet == 0 else "partial",
        message=f"greedy: {to.size} depot transfers, {unmet} schools still below their buffer",
        from_school=none, from_depot=inp.block[to].astype(np.int64), to_school=to.astype(np.int64),
        item=item.astype(np.int64), quantity=quantity, km=km, shortfall_before=before, shortfall_after=after,
        transport_cost_inr=float((rule.rate_inr_per_kg_km * ITEM_KG[item] * km) @ quantity),
        build_s=time.perf_counter() - started)


def stock_change(n: int, plan: StockPlan) -> np.ndarray:
    """float64 [n, 4]: what `plan`'s transfers add to (receivers) and take from (giving schools)
    each school's stock; a depot's part comes from outside the schools."""
    out = np.zeros((n, 4))
    np.add.at(out, (plan.to_school, plan.item), plan.quantity)
    from_school = plan.from_school >= 0
    np.subtract.at(out, (plan.from_school[from_school], plan.item[from_school]), plan.quantity[from_school])
    return out


def greedy_funds(inp: OptimiseInput, horizon_days: float = 20.0) -> np.ndarray:
    """float64 [n]: the clerk's advances: block by block, the schools whose money runs out first
    get what they lack to the horizon, until the block's balance is spent."""
    bill = np.maximum(inp.meal_cost_inr_per_day, 0.0)
    need = np.where(bill > 0, np.maximum(bill * horizon_days - inp.funds_inr, 0.0), 0.0)
    lasts = np.divide(inp.funds_inr, bill, out=np.full(inp.n, np.inf), where=bill > 0)
    left = np.maximum(inp.block_balance_inr, 0.0).copy()
    out = np.zeros(inp.n)
    for school in np.lexsort((lasts, inp.block)).tolist():
        b = inp.block[school]
        give = min(need[school], left[b])
        if give > 0:
            out[school] = give
            left[b] -= give
    return out
