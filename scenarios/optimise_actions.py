"""From a stock plan to actions an officer can decide on (and likewise from a delivery schedule,
one per visit, and from an advances plan, one per school): one action per (source, receiver) pair,
carrying every item that moves along it, the quantities before and after at both ends, the cost,
the children it reaches, the receiver's shortfall before and after, and which constraints bind
(with their dual prices) for the receiver and the source.

Pure arrays in, plain dicts out: the API stores and shows them as they are."""

from __future__ import annotations

import numpy as np

from scenarios.optimise_delivery import DeliveryRule, DeliverySchedule, days_held
from scenarios.optimise_funds import FundPlan, FundRule
from scenarios.optimise_input import ITEM_KG, OptimiseInput
from scenarios.optimise_stock import StockPlan, StockRule

ITEMS = ("rice_kg", "pulses_kg", "oil_kg", "eggs")
_WHY = {"receiver": "the receiver's whole deficit is met: more would not help it",
        "donor": "the giving school is down to its own buffer",
        "depot": "the depot has no more of this item",
        "vehicle": "the block's vehicle is full for the day"}


def days_of_grain(stock: np.ndarray, need: np.ndarray) -> float:
    """School days a school's grain lasts (its scarcest of rice, pulses, oil); inf with no need."""
    used = need[:3] > 0
    return float(np.min(stock[:3][used] / need[:3][used])) if used.any() else float("inf")


def stock_actions(inp: OptimiseInput, plan: StockPlan, rule: StockRule = StockRule()) -> list[dict]:
    """One dict per (source, receiver) pair of `plan` (school indices as `inp`'s rows):
    `to`, `from_school` (-1: the depot), `from_depot` (global block or -1), `items` (ITEMS -> units),
    `km`, `quantity_kg`, `cost_inr`, `children`, `quantities`, `risk`, `explanation`."""
    if plan.quantity.size == 0:
        return []
    binding = _binding(plan)
    source = np.where(plan.from_school >= 0, plan.from_school, -1 - plan.from_depot)  # depots below zero
    pairs, row_of = np.unique(np.column_stack([source, plan.to_school]), axis=0, return_inverse=True)
    row_of = row_of.ravel()
    moved = np.zeros((len(pairs), 4))
    np.add.at(moved, (row_of, plan.item), plan.quantity)
    km = np.zeros(len(pairs))
    km[row_of] = plan.km
    out = []
    for k, (src, to) in enumerate(pairs.tolist()):
        items = moved[k]
        kg = float(items @ ITEM_KG)
        to_before, to_after = inp.stock[to], inp.stock[to] + items
        action = {"to": to, "from_school": src if src >= 0 else -1, "from_depot": -1 - src if src < 0 else -1,
                  "items": {name: round(float(q), 3) for name, q in zip(ITEMS, items) if q > 1e-9},
                  "km": round(float(km[k]), 3), "quantity_kg": round(kg, 3),
                  "cost_inr": round(rule.rate_inr_per_kg_km * kg * float(km[k]), 2),
                  "children": int(round(float(inp.children[to])))}
        quantities = {"receiver": {"current": _items(to_before), "recommended": _items(to_after)}}
        if src >= 0:
            quantities["source"] = {"current": _items(inp.stock[src]), "recommended": _items(inp.stock[src] - items)}
        need = inp.need_per_day[to]
        action["quantities"] = quantities
        action["risk"] = {
            "before": {"shortfall_child_days": round(float(plan.shortfall_before[to].sum()), 2),
                       "days_of_grain": _finite(days_of_grain(to_before, need))},
            "after": {"shortfall_child_days": round(float(plan.shortfall_after[to].sum()), 2),
                      "days_of_grain": _finite(days_of_grain(to_after, need))}}
        action["explanation"] = _explain(binding, to, src, inp.block[to])
        out.append(action)
    return out


def _items(row: np.ndarray) -> dict:
    return {name: round(float(q), 3) for name, q in zip(ITEMS, row)}


def _finite(x: float) -> float | None:
    return None if not np.isfinite(x) else round(x, 2)


def _binding(plan: StockPlan) -> dict[str, dict[tuple, float]]:
    out: dict[str, dict[tuple, float]] = {}
    for family, rows in plan.duals.items():
        index, dual = rows.get("index", np.empty(0)), rows.get("dual", np.empty(0))
        item = rows.get("item")
        keys = zip(index.tolist(), item.tolist()) if item is not None else ((i, -1) for i in index.tolist())
        out[family] = {key: float(d) for key, d in zip(keys, dual.tolist())}
    return out


def _explain(binding: dict, to: int, src: int, block: int) -> dict:
    """The binding constraints that shaped this pair's flow, each with its dual price (INR of the
    objective one more unit of its right-hand side would save: a scarce depot or truck shows here)."""
    found = []
    for family, ends in (("receiver", [to]), ("donor", [src] if src >= 0 else []),
                         ("depot", [block] if src < 0 else []), ("vehicle", [block])):
        for (index, item), dual in binding.get(family, {}).items():
            if index in ends:
                found.append({"constraint": family, "item": ITEMS[item] if item >= 0 else None,
                              "dual_inr": round(dual, 4), "meaning": _WHY[family]})
    return {"binding": found,
            "summary": "; ".join(sorted({f["meaning"] for f in found})) or "no constraint binds at this pair"}


def fund_actions(inp: OptimiseInput, plan: FundPlan, rule: FundRule = FundRule()) -> list[dict]:
    """One dict per school `plan` advances money to (rows as `inp`'s): `to`, `amount_inr`,
    `children`, `quantities` (its balance now and after), `risk` (school days its kitchen stops
    within the horizon for want of money, before and after) and `explanation` (whether its
    block's balance binds, with its dual: weighted child-days one more rupee would save)."""
    binding = dict(zip(plan.block_dual["index"].tolist(), plan.block_dual["dual"].tolist()))
    out = []
    for to in np.flatnonzero(plan.advance_inr > 0).tolist():
        amount = float(plan.advance_inr[to])
        block = int(inp.block[to])
        found = ([{"constraint": "block_balance", "item": None, "dual_inr": round(binding[block], 6),
                   "meaning": "the block's balance is spent: every rupee of it is advanced"}] if block in binding else [])
        out.append({
            "to": to, "amount_inr": round(amount, 2), "children": int(round(float(inp.children[to]))),
            "quantities": {"receiver": {"current": {"balance_inr": round(float(inp.funds_inr[to]), 2)},
                                        "recommended": {"balance_inr": round(float(inp.funds_inr[to]) + amount, 2)}}},
            "risk": {"before": {"kitchen_stop_days": round(float(plan.stop_days_before[to]), 2)},
                     "after": {"kitchen_stop_days": round(float(plan.stop_days_after[to]), 2)},
                     "horizon_days": rule.horizon_days},
            "explanation": {"binding": found, "summary": found[0]["meaning"] if found else
                            "the advance covers the kitchen's bill to the horizon"}})
    return out


def delivery_actions(inp: OptimiseInput, schedule: DeliverySchedule, rule: DeliveryRule = DeliveryRule()) -> list[dict]:
    """One dict per visit of `schedule` (school indices as `inp`'s rows): `to`, `from_depot` (global
    block), `day` (the school day of the horizon it is planned for, 0 = today), `items` (rice,
    pulses, oil in kg), `km`, `quantity_kg`, `cost_inr` (the trip there and back plus kg x km),
    `children`, `quantities`, `risk` (days of grain and the school day it runs out, before and after)
    and `explanation` (why this school, why that day, and what binds on the depot's days)."""
    if schedule.school.size == 0:
        return []
    held = days_held(inp)
    out = []
    for v in range(schedule.school.size):
        to, day = int(schedule.school[v]), int(schedule.day[v])
        items = np.zeros(4)
        items[:3] = schedule.kg[v]
        kg, km = float(items @ ITEM_KG), float(inp.depot_km[to])
        need = inp.need_per_day[to]
        before, after = inp.stock[to], inp.stock[to] + items
        out.append({
            "to": to, "from_depot": int(schedule.depot[v]), "day": day,
            "items": {name: round(float(q), 3) for name, q in zip(ITEMS, items) if q > 1e-9},
            "km": round(km, 3), "quantity_kg": round(kg, 3),
            "cost_inr": round(rule.trip_inr_per_km * 2 * km + rule.rate_inr_per_kg_km * kg * km, 2),
            "children": int(round(float(inp.children[to]))),
            "quantities": {"receiver": {"current": _items(before), "recommended": _items(after)}},
            "risk": {"before": {"days_of_grain": _finite(days_of_grain(before, need)),
                                "runs_out_on_school_day": _finite(float(np.floor(held[to])))},
                     "after": {"days_of_grain": _finite(days_of_grain(after, need))}},
            "explanation": {"binding": [], "summary": (
                f"its grain lasts {held[to]:.1f} school days: a visit on school day {day} of the next "
                f"{rule.horizon_days} tops it up to {rule.top_up_days:g} days of need; the depot's stock and "
                "vehicle (kg and stops a day) were shared among the schools that run out first")}})
    return out
