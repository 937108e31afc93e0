"""What a run proposes, computed off the event loop from the live twin's shard states: the area's
start state and the optimisers' input, the stock LP's transfers and the advances LP's advances as
recommendation records (with the twin's risk score before and after), and the check of an edited
transfer against the LP's constraints. Pure computation: storage and decisions are the service's.

The states may be copies of only the districts of the area worked on: everything here reads the
area's schools, their blocks (depots, balances, vehicles) and their districts' applied seqs, which
such a copy holds. `today` is then the twin's day, passed in (see `area_start`)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from configs.settings import RiskRules
from serve_app.shared.places import district_index
from twin import geography
from twin.area import Area
from twin.directory import Directory
from twin.errors import Conflict, InvalidInput, NotFound
from twin.state import PASSED_DOWN, RECEIVED, ShardState

if TYPE_CHECKING:  # the models and the engine load when first used: an API replica need not hold them
    from simulation.start_state import StartState

DEFAULT_DEPOT_DAYS = 5.0  # as `scenarios.optimise_input` assumes
DEFAULT_VEHICLE_KG_PER_DAY = 3_000.0  # likewise
STOCK, FUNDS, DELIVERY = "stock_transfer", "fund_advance", "delivery"
MODELS = frozenset({"stock", "deliveries", "funds"})  # what a run may solve: transfers, depot visits, advances
NOT_ASKED = "not_asked"
ITEMS = ("rice_kg", "pulses_kg", "oil_kg", "eggs")
# a recommendation's items are shown to the gram (3 decimals): the shown value of a quantity at its
# bound may exceed the bound by up to half a gram, so an edit back to it is not refused for that
SHOWN_TO = 5e-4


class Proposals:
    def __init__(self, directory: Directory, risk_rules: RiskRules | None = None) -> None:
        self._directory = directory
        self._risk_rules = risk_rules or RiskRules()
        # a depot with no consignment logged (`depot_stock_received`) is taken to hold this many days
        # of its block's need
        self.depot_days = DEFAULT_DEPOT_DAYS
        # nor vehicles: each block depot is taken to have one that carries this much a day
        self.vehicle_kg_per_day = DEFAULT_VEHICLE_KG_PER_DAY

    def propose(self, states: list[ShardState], area: Area, lat: np.ndarray, lon: np.ndarray,
                run_id: str, models: frozenset[str] = MODELS,
                loaded_today: np.ndarray | None = None, today: int | None = None) -> tuple[dict, list[dict]]:
        """The run's summary and its recommendation records (transfers, visits, then advances), of
        the `models` asked for. `loaded_today` (float64 [blocks]): the kilograms each block's
        vehicle already carries today for transfers and visits decided before this run."""
        computed = self._solve(states, area, lat, lon, models, loaded_today, today)
        recs = [self._record(run_id, a, computed) for a in computed["actions"]]
        recs += [self._delivery_record(run_id, a, computed) for a in computed["delivery_actions"]]
        recs += [self._fund_record(run_id, a, computed) for a in computed["fund_actions"]]
        return computed, recs

    def _solve(self, states: list[ShardState], area: Area, lat: np.ndarray, lon: np.ndarray,
               models: frozenset[str] = MODELS, loaded_today: np.ndarray | None = None,
               today: int | None = None) -> dict:
        from scenarios.optimise_actions import (
            delivery_actions,
            fund_actions,
            stock_actions,
        )
        from scenarios.optimise_delivery import DeliveryRule, schedule_deliveries
        from scenarios.optimise_funds import plan_fund_advances
        from scenarios.optimise_greedy import stock_change
        from scenarios.optimise_input import from_start
        from scenarios.optimise_stock import rebalance_stock

        start, g = self.area_start(states, area, today)
        inp = self.input(from_start, start, lat[g], lon[g], states)
        loaded = np.zeros(inp.n_blocks) if loaded_today is None else np.asarray(loaded_today, np.float64)
        out = {"g": g, "schools": inp.n, "twin_seq": _twin_seq(states, area, self._directory),
               "assumptions": {"depot_stock_days": self.depot_days, "vehicle_kg_per_day": self.vehicle_kg_per_day,
                               "depots_logged": _logged_in(states, g, self._directory)},
               "actions": [], "delivery_actions": [], "fund_actions": [], "status": NOT_ASKED,
               "message": "stock transfers not asked for", "delivery_message": "not asked for",
               "funds_message": "not asked for", "variables": 0, "build_s": 0.0, "solve_s": 0.0, "before": 0.0,
               "after": 0.0, "transport_cost_inr": 0.0}
        after = inp
        if "stock" in models:
            # today's transfers get what today's decided loads left of each block's vehicle
            plan = rebalance_stock(replace(inp, vehicle_kg_per_day=np.maximum(inp.vehicle_kg_per_day - loaded, 0.0)))
            change = stock_change(inp.n, plan)
            out["actions"] = stock_actions(inp, plan)
            self._rescore(states, out["actions"], g, change)
            # the depots' visits are planned on what today's transfers leave: the receivers' new
            # stock, the depots' stock less what they send today, their vehicles' day less its load
            after = _after_transfers(inp, plan, change)
            loaded = loaded + _transfer_kg(inp, plan)
            out |= {"status": plan.status, "message": plan.message, "variables": plan.variables,
                    "build_s": round(plan.build_s, 4), "solve_s": round(plan.solve_s, 4),
                    "before": round(float(plan.shortfall_before.sum()), 2),
                    "after": round(float(plan.shortfall_after.sum()), 2),
                    "transport_cost_inr": round(plan.transport_cost_inr, 2)}
        if "deliveries" in models:
            rule = DeliveryRule()
            on_days = np.zeros((inp.n_blocks, rule.horizon_days))
            on_days[:, 0] = loaded  # everything decided or proposed today rides on day 0's vehicle
            schedule = schedule_deliveries(after, rule, on_days)
            out["delivery_actions"] = delivery_actions(after, schedule)
            self._rescore(states, out["delivery_actions"], g, _visit_change(inp.n, out["delivery_actions"]))
            out["delivery_message"] = schedule.message
        if "funds" in models:
            inp.block_balance_inr = block_balances(states, inp.n_blocks)
            funds = plan_fund_advances(inp)
            out["fund_actions"], out["funds_message"] = fund_actions(inp, funds), funds.message
        return out

    def _rescore(self, states: list[ShardState], actions: list[dict], g: np.ndarray, change: np.ndarray) -> None:
        """The twin's risk score of each receiver (and giving school) before and after the plan's
        stock `change` [n, 4]."""
        from scenarios.optimise_risk import rescored

        rows = np.unique([a["to"] for a in actions] + [a["from_school"] for a in actions
                                                        if a.get("from_school", -1) >= 0])
        if rows.size == 0:
            return
        scores = rescored(states, self._directory, g[rows], change[rows], self._risk_rules)
        for a in actions:
            mine = scores.get(int(g[a["to"]]))
            if mine is not None:
                a["risk"]["before"] |= {"risk_score": mine["before"]["score"], "risk_level": mine["before"]["level"]}
                a["risk"]["after"] |= {"risk_score": mine["after"]["score"], "risk_level": mine["after"]["level"]}
            if a.get("from_school", -1) >= 0 and int(g[a["from_school"]]) in scores:
                a["risk"]["source"] = scores[int(g[a["from_school"]])]

    def input(self, from_start, start, lat, lon, states=None):  # noqa: ANN001, ANN202 - the models load lazily
        """The optimisers' input: a depot holds its logged stock (consignments received less what it
        sent, never below zero) once one is logged in the twin, else the assumed `depot_days` of
        its block's need."""
        inp = from_start(start, lat, lon)
        inp.depot_stock *= self.depot_days / DEFAULT_DEPOT_DAYS
        if states is not None:
            held, logged = depot_stocks(states, inp.n_blocks)
            inp.depot_stock[logged] = np.maximum(held[logged], 0.0)
        inp.vehicle_kg_per_day[:] = self.vehicle_kg_per_day
        return inp

    def area_start(self, states: list[ShardState], area: Area,
                   today: int | None = None) -> tuple[StartState, np.ndarray]:
        """The live start state of `area`'s schools and their directory indices. `today` is the
        twin's day (default: the latest of `states`'): copies of some districts hold only the days
        of the shards hosting them."""
        from simulation.start_state import StartState

        today = max(int(s.today[0]) for s in states) if today is None else today
        if today < 0:
            raise InvalidInput("the live twin has no reports yet: nothing to optimise",
                               {"fields": [{"field": "area", "message": "no live state yet"}]})
        start = StartState.from_shards(states, self._directory, today=today)
        g = self._directory.lookup(start.school_ids)
        inside = np.ones(g.size, bool)
        if not area.is_state:  # one comparison a column, not a call a school
            d = district_index(area.district)
            inside &= self._directory.school_district[g] == d
            if area.block is not None:
                inside &= self._directory.school_block[g] == self._directory.blocks.index(d, area.block)
            if area.school_id is not None:
                inside &= self._directory.school_ids[g] == int(area.school_id)
        if not inside.any():
            raise NotFound(f"no active schools in {area.label()}", {"area": area.label()})
        rows = np.flatnonzero(inside)
        return start.subset(rows), g[rows]

    def _record(self, run_id: str, action: dict, computed: dict) -> dict:
        d = self._directory
        g = computed["g"]
        to = int(g[action["to"]])
        district = geography.district_names()[int(d.school_district[to])]
        block = d.blocks.names[int(d.school_block[to])]
        from_school = _udise(d, int(g[action["from_school"]])) if action["from_school"] >= 0 else None
        from_depot = None if from_school else f"{district}/{block}"
        body = {"action": {"from": {"school_id": from_school, "depot": from_depot}, "to": {"school_id": _udise(d, to)},
                           "items": action["items"], "km": action["km"]},
                "quantities": action["quantities"], "risk": action["risk"],
                "explanation": action["explanation"] if from_school else self._depot_said(action["explanation"],
                                                                                          from_depot, computed)}
        return {"id": uuid.uuid4().hex, "kind": "stock_transfer", "run_id": run_id, "district": district,
                "block": block, "school_id": _udise(d, to), "from_school_id": from_school, "from_depot": from_depot,
                "quantity_kg": action["quantity_kg"], "cost_inr": action["cost_inr"],
                "children_affected": action["children"], "twin_seq": computed["twin_seq"], "body": body}

    def _depot_said(self, explanation: dict, depot: str, computed: dict) -> dict:
        """A depot's part says where the depot's stock came from: logged in the twin, or assumed."""
        if depot in computed["assumptions"]["depots_logged"]:
            return {**explanation, "depot_stock": "logged: the consignments the depot received less what it "
                                                  "delivered and transferred"}
        return {**explanation, "depot_stock": f"assumed: no consignment to this depot is logged, so it is taken to "
                                              f"hold {self.depot_days:g} days of its block's need"}

    def _delivery_record(self, run_id: str, action: dict, computed: dict) -> dict:
        d = self._directory
        to = int(computed["g"][action["to"]])
        district = geography.district_names()[int(d.school_district[to])]
        block = d.blocks.names[int(d.school_block[to])]
        depot = f"{district}/{block}"
        body = {"action": {"from": {"school_id": None, "depot": depot}, "to": {"school_id": _udise(d, to)},
                           "items": action["items"], "km": action["km"], "school_day": action["day"]},
                "quantities": action["quantities"], "risk": action["risk"],
                "explanation": self._depot_said(action["explanation"], depot, computed)}
        return {"id": uuid.uuid4().hex, "kind": DELIVERY, "run_id": run_id, "district": district, "block": block,
                "school_id": _udise(d, to), "from_school_id": None, "from_depot": depot,
                "quantity_kg": action["quantity_kg"], "cost_inr": action["cost_inr"],
                "children_affected": action["children"], "twin_seq": computed["twin_seq"], "body": body}

    def _fund_record(self, run_id: str, action: dict, computed: dict) -> dict:
        d = self._directory
        to = int(computed["g"][action["to"]])
        district = geography.district_names()[int(d.school_district[to])]
        block = d.blocks.names[int(d.school_block[to])]
        body = {"action": {"from": {"block": f"{district}/{block}"}, "to": {"school_id": _udise(d, to)},
                           "amount_inr": action["amount_inr"]},
                "quantities": action["quantities"], "risk": action["risk"], "explanation": action["explanation"]}
        return {"id": uuid.uuid4().hex, "kind": FUNDS, "run_id": run_id, "district": district, "block": block,
                "school_id": _udise(d, to), "from_school_id": None, "from_depot": None, "quantity_kg": 0.0,
                "cost_inr": action["amount_inr"], "children_affected": action["children"],
                "twin_seq": computed["twin_seq"], "body": body}

    def check_edit(self, states: list[ShardState], rec: dict, items: dict[str, float], lat: np.ndarray,
                   lon: np.ndarray, loaded_kg: float = 0.0, today: int | None = None) -> dict:
        """A transfer's new quantities against the stock LP's constraints on the live twin: the
        receiver's deficit, the giving school's buffer, the depot's stock, and what today's other
        transfers and visits (`loaded_kg`) leave of the block's vehicle (422 naming the one broken)."""
        from scenarios.optimise_actions import days_of_grain
        from scenarios.optimise_input import from_start
        from scenarios.optimise_stock import StockRule

        rule = StockRule()
        start, g = self.area_start(states, Area(rec["district"], rec["block"]), today)
        inp = self.input(from_start, start, lat[g], lon[g], states)
        row_of = {int(x): k for k, x in enumerate(g.tolist())}
        to = row_of.get(int(self._directory.index(rec["school_id"])))
        src = row_of.get(int(self._directory.index(rec["from_school_id"]))) if rec["from_school_id"] else None
        if to is None or (rec["from_school_id"] and src is None):
            raise Conflict(f"recommendation {rec['id']} names a school no longer in the twin", {"id": rec["id"]})
        moved = np.array([float(items.get(name, 0.0)) for name in ITEMS])
        if not moved.any():
            raise broken("something_moves", "a transfer must move something: reject it instead")
        target = inp.need_per_day * (inp.days_to_delivery + np.asarray(rule.buffer_days, float))
        deficit = np.maximum(target[to] - inp.stock[to], 0.0)
        for k, name in enumerate(ITEMS):
            if moved[k] > deficit[k] + SHOWN_TO:
                raise broken("receiver_deficit", f"{name} {moved[k]:g} is more than the {deficit[k]:.3f} the receiver "
                                                  "lacks before its next delivery and buffer", name, deficit[k])
            if src is not None and moved[k] > max(inp.stock[src, k] - target[src, k], 0.0) + SHOWN_TO:
                room = max(inp.stock[src, k] - target[src, k], 0.0)
                raise broken("donor_buffer", f"{name} {moved[k]:g} would take the giving school below its own "
                                              f"buffer: it can give {room:.3f}", name, room)
            if src is None:
                _within_depot(inp, to, k, moved[k])
        kg = _within_vehicle(inp, to, moved, loaded_kg)
        quantities = {"receiver": {"current": item_dict(inp.stock[to]), "recommended": item_dict(inp.stock[to] + moved)}}
        if src is not None:
            quantities["source"] = {"current": item_dict(inp.stock[src]),
                                    "recommended": item_dict(inp.stock[src] - moved)}
        child_per_unit = np.divide(inp.children[to], inp.need_per_day[to], out=np.zeros(4),
                                   where=inp.need_per_day[to] > 0)
        after = float((np.maximum(deficit - moved, 0.0) * child_per_unit).sum())
        days = days_of_grain(inp.stock[to] + moved, inp.need_per_day[to])
        return {"quantities": quantities, "quantity_kg": round(kg, 3),
                "cost_inr": round(rule.rate_inr_per_kg_km * kg * float(rec["action"]["km"]), 2),
                "risk_after": {"shortfall_child_days": round(after, 2),
                               "days_of_grain": None if not np.isfinite(days) else round(days, 2)}}


    def check_delivery_edit(self, states: list[ShardState], rec: dict, items: dict[str, float], lat: np.ndarray,
                            lon: np.ndarray, loaded_kg: float = 0.0, today: int | None = None) -> dict:
        """A visit's new quantities against the delivery schedule's constraints on the live twin: grain
        only, within the school's store (`top_up_days` of its need), the depot's stock and what the
        day's other visits and transfers (`loaded_kg`) leave of the block's vehicle (422 naming the
        one broken)."""
        from scenarios.optimise_actions import days_of_grain
        from scenarios.optimise_delivery import DeliveryRule
        from scenarios.optimise_input import from_start

        rule = DeliveryRule()
        start, g = self.area_start(states, Area(rec["district"], rec["block"]), today)
        inp = self.input(from_start, start, lat[g], lon[g], states)
        to = {int(x): k for k, x in enumerate(g.tolist())}.get(int(self._directory.index(rec["school_id"])))
        if to is None:
            raise Conflict(f"recommendation {rec['id']} names a school no longer in the twin", {"id": rec["id"]})
        moved = np.array([float(items.get(name, 0.0)) for name in ITEMS])
        if moved[3] > 0:
            raise broken("grain_only", "a depot visit carries rice, pulses and oil: eggs come with the weekly drop",
                          "eggs", 0.0)
        if not moved.any():
            raise broken("something_moves", "a visit must carry something: reject it instead")
        store = inp.need_per_day[to] * rule.top_up_days
        for k, name in enumerate(ITEMS[:3]):
            room = max(store[k] - inp.stock[to, k], 0.0)
            if moved[k] > room + SHOWN_TO:
                raise broken("store", f"{name} {moved[k]:g} would fill the school past its store of "
                                      f"{rule.top_up_days:g} days of need: it has room for {room:.3f}", name, room)
            _within_depot(inp, to, k, moved[k])
        kg = _within_vehicle(inp, to, moved, loaded_kg)
        km = float(rec["action"]["km"])
        days = days_of_grain(inp.stock[to] + moved, inp.need_per_day[to])
        return {"quantities": {"receiver": {"current": item_dict(inp.stock[to]),
                                            "recommended": item_dict(inp.stock[to] + moved)}},
                "quantity_kg": round(kg, 3),
                "cost_inr": round(rule.trip_inr_per_km * 2 * km + rule.rate_inr_per_kg_km * kg * km, 2),
                "risk_after": {"days_of_grain": None if not np.isfinite(days) else round(days, 2)}}

    def check_fund_edit(self, states: list[ShardState], rec: dict, amount_inr: float, claimed_inr: float,
                        lat: np.ndarray, lon: np.ndarray, today: int | None = None) -> dict:
        """An advance's new amount against the advances LP's constraints on the live twin: within the
        block's balance less what its other live advances (`claimed_inr`) already hold, and no more
        than the school needs to cook to the horizon (422 naming the one broken)."""
        from scenarios.optimise_funds import FundRule
        from scenarios.optimise_input import from_start

        start, g = self.area_start(states, Area(rec["district"], rec["block"]), today)
        inp = self.input(from_start, start, lat[g], lon[g], states)
        row_of = {int(x): k for k, x in enumerate(g.tolist())}
        to = row_of.get(int(self._directory.index(rec["school_id"])))
        if to is None:
            raise Conflict(f"recommendation {rec['id']} names a school no longer in the twin", {"id": rec["id"]})
        b = int(inp.block[to])
        room = float(block_balances(states, inp.n_blocks)[b]) - claimed_inr
        if amount_inr > room + 1e-6:
            raise broken("block_balance", f"{amount_inr:g} INR is more than the block can advance: it holds "
                                          f"{room + claimed_inr:.2f} INR, {claimed_inr:.2f} of it claimed by its other "
                                          f"live advances", "amount_inr", max(room, 0.0))
        horizon = FundRule().horizon_days
        bill = max(float(inp.meal_cost_inr_per_day[to]), 0.0)
        need = max(bill * horizon - float(inp.funds_inr[to]), 0.0)
        if amount_inr > need + 1e-6:
            raise broken("school_need", f"{amount_inr:g} INR is more than the school needs to cook for "
                                        f"{horizon:g} school days ({need:.2f} INR)", "amount_inr", need)
        balance = float(inp.funds_inr[to])
        stop_days = (need - amount_inr) / bill if bill > 0 else 0.0
        return {"quantities": {"receiver": {"current": {"balance_inr": round(balance, 2)},
                                            "recommended": {"balance_inr": round(balance + amount_inr, 2)}}},
                "risk_after": {"kitchen_stop_days": round(max(stop_days, 0.0), 2)}}


def _after_transfers(inp, plan, change: np.ndarray):  # noqa: ANN001, ANN202 - the models load lazily
    """`inp` as today's transfers leave it: the schools' stock moved by `change`, the depots' stock
    less what they send. (Their load on the vehicles is day 0's of the schedule: `_transfer_kg`.)"""
    depot = inp.depot_stock.copy()
    sent = plan.from_school < 0
    np.subtract.at(depot, (plan.from_depot[sent], plan.item[sent]), plan.quantity[sent])
    return replace(inp, stock=np.maximum(inp.stock + change, 0.0), depot_stock=np.maximum(depot, 0.0))


def _transfer_kg(inp, plan) -> np.ndarray:  # noqa: ANN001 - an OptimiseInput and a StockPlan
    """float64 [blocks]: the kilograms the plan's transfers put on each block's vehicle today (a
    school arc rides on its sender's, as in the stock LP; arcs stay within a block)."""
    from scenarios.optimise_input import ITEM_KG

    sender = np.where(plan.from_school >= 0, inp.block[np.maximum(plan.from_school, 0)], plan.from_depot)
    return np.bincount(sender.astype(np.int64), plan.quantity * ITEM_KG[plan.item], inp.n_blocks)


def _visit_change(n: int, visits: list[dict]) -> np.ndarray:
    out = np.zeros((n, 4))
    for v in visits:
        out[v["to"]] += [v["items"].get(name, 0.0) for name in ITEMS]
    return out


def _within_depot(inp, to: int, k: int, amount: float) -> None:  # noqa: ANN001 - an OptimiseInput
    """422 `depot_stock` if school `to`'s block depot holds less than `amount` of item `k`."""
    depot = inp.depot_stock[inp.block[to], k]
    if amount > depot + SHOWN_TO:
        raise broken("depot_stock", f"{ITEMS[k]} {amount:g} is more than the depot holds ({depot:.3f})",
                     ITEMS[k], depot)


def _within_vehicle(inp, to: int, moved: np.ndarray, loaded_kg: float = 0.0) -> float:  # noqa: ANN001
    """The kilograms `moved` weighs; 422 `vehicle_kg` past what the day's other loads (`loaded_kg`)
    leave of a day's load of school `to`'s block vehicle (`inp`: an OptimiseInput)."""
    from scenarios.optimise_input import ITEM_KG

    kg = float(moved @ ITEM_KG)
    truck = float(inp.vehicle_kg_per_day[inp.block[to]])
    room = max(truck - loaded_kg, 0.0)
    if kg > room + 1e-6:
        taken = f", {loaded_kg:g} kg of it taken by the day's other transfers and visits" if loaded_kg > 0 else ""
        raise broken("vehicle_kg", f"{kg:g} kg is more than the block's vehicle has room for: it carries "
                                   f"{truck:g} kg a day{taken}", None, room)
    return kg


def broken(constraint: str, message: str, item: str | None = None, limit: float | None = None) -> InvalidInput:
    """422 naming the LP constraint an edited quantity breaks."""
    field = "amount_inr" if item == "amount_inr" else f"items.{item}" if item else "items"
    return InvalidInput(f"{constraint}: {message}", {"constraint": constraint, "limit": limit,
                                                     "fields": [{"field": field, "message": message}]})


def item_dict(row: np.ndarray) -> dict:
    return {name: round(float(q), 3) for name, q in zip(ITEMS, row)}


def depot_stocks(states: list[ShardState], n_blocks: int) -> tuple[np.ndarray, np.ndarray]:
    """(float64 [n_blocks, 4] each block depot's logged stock, bool [n_blocks] whether any
    consignment to it is logged), by global block."""
    held, logged = np.zeros((n_blocks, 4)), np.zeros(n_blocks, bool)
    for s in states:
        held[s.block_global] = s.block_depot_stock
        logged[s.block_global] = s.block_depot_logged > 0
    return held, logged


def _logged_in(states: list[ShardState], g: np.ndarray, directory: Directory) -> list[str]:
    """The depots ("District/Block") of schools `g` (directory indices) whose stock is logged."""
    _, logged = depot_stocks(states, len(directory.blocks))
    blocks = np.unique(directory.school_block[g])
    names = geography.district_names()
    return sorted(f"{names[int(directory.blocks.district[b])]}/{directory.blocks.names[int(b)]}"
                  for b in blocks[logged[blocks]])


def block_balances(states: list[ShardState], n_blocks: int) -> np.ndarray:
    """float64 [n_blocks]: what each block holds to advance (received from its district, less what
    it passed down), by global block."""
    out = np.zeros(n_blocks)
    for s in states:
        out[s.block_global] = s.block_funds[:, RECEIVED] - s.block_funds[:, PASSED_DOWN]
    return out


def _udise(directory: Directory, i: int) -> str:
    return f"{int(directory.school_ids[i]):011d}"


def _twin_seq(states: list[ShardState], area: Area, directory: Directory) -> int:
    """The log position the area's districts were folded to: the twin version a recommendation was computed on."""
    names = geography.district_names()
    seq = 0
    for s in states:
        for d_local, d in enumerate(s.district_global.tolist()):
            if area.is_state or area.district == names[d]:
                seq = max(seq, int(s.district_applied_seq[d_local]))
    return seq
