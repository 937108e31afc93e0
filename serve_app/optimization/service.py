"""Recommendations: the stock LP and the fund advances LP run on the live twin's state of an
area, their transfers and advances stored as actions to decide on, verified by simulation, approved or rejected by officers (audited), and an
approved one applied as `stock_transferred` events in the log, so the twin folds it like any report.

Rules:
- a run supersedes the pending recommendations of its area: they were computed on an older state;
- approving re-reads the live twin first: if the giving school no longer holds what it would give
  (the twin moved on), the recommendation is superseded, never applied blindly (409);
- every decision is a compare-and-set on the recommendation's version: two officers approving at
  once, or an approval retried, apply it once; the loser is answered 409;
- a block officer approves inside the block up to `block_officer_limit_kg` (a transfer) or
  `block_officer_limit_inr` (an advance); above, a district officer (or a state admin) decides."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import numpy as np

from db.recommendation_repository import (
    APPLIED, APPROVED, PENDING, REJECTED, SUPERSEDED, RecommendationRepository,
)
from serve_app.auth.errors import Forbidden
from serve_app.auth.principal import Caller, Principal, Role
from serve_app.shared.page import offset, pagination
from serve_app.shared.places import block_index, district_index
from twin import geography
from configs.settings import RiskRules
from twin.area import Area
from twin.directory import Directory
from twin.errors import Conflict, InvalidInput, NotFound
from twin.norms import day_date
from twin.ports import StreamBroker
from twin.state import PASSED_DOWN, RECEIVED, ShardState

if TYPE_CHECKING:  # the models and the engine load when first used: an API replica need not hold them
    from simulation.start_state import StartState

log = logging.getLogger(__name__)

AuditRecord = Callable[..., Awaitable[None]]  # record(principal, caller, action, **fields) (`Accounts.record`)
IngestEvents = Callable[[bytes], Awaitable[dict]]  # the log's ingest, as the whole state (no area check)
DEFAULT_BLOCK_OFFICER_LIMIT_KG = 500.0
DEFAULT_DEPOT_DAYS = 5.0  # as `scenarios.optimise_input` assumes
DEFAULT_BLOCK_OFFICER_LIMIT_INR = 50_000.0
STOCK, FUNDS = "stock_transfer", "fund_advance"
EDIT_HORIZON_DAYS, EDIT_REPLICATIONS = 20, 10  # an edited recommendation's re-verification
ITEMS = ("rice_kg", "pulses_kg", "oil_kg", "eggs")


def optimisation_topic(district: str) -> str:
    return f"optimisation:{district}"


class OptimisationService:
    def __init__(self, repo: RecommendationRepository, directory: Directory,
                 live_states: Callable[[], Awaitable[list[ShardState]]],
                 locations: Callable[[], Awaitable[tuple[np.ndarray, np.ndarray]]],
                 ingest: IngestEvents, replication_pool: Callable[[], Callable] | None = None,
                 broker: StreamBroker | None = None, audit: AuditRecord | None = None,
                 block_officer_limit_kg: float = DEFAULT_BLOCK_OFFICER_LIMIT_KG,
                 risk_rules: RiskRules | None = None,
                 block_officer_limit_inr: float = DEFAULT_BLOCK_OFFICER_LIMIT_INR) -> None:
        self._repo = repo
        self._directory = directory
        self._live_states = live_states
        self._locations = locations
        self._ingest = ingest
        self._pool = replication_pool
        self._broker = broker
        self._audit = audit
        self._limit_kg = block_officer_limit_kg
        self._limit_inr = block_officer_limit_inr
        self._risk_rules = risk_rules or RiskRules()
        self._coords: tuple[np.ndarray, np.ndarray] | None = None
        # the twin keeps no depot stock: a depot is taken to hold this many days of its block's need
        self.depot_days = DEFAULT_DEPOT_DAYS

    # -- computing ------------------------------------------------------------------------------
    async def run(self, principal: Principal, caller: Caller | None, district: str | None = None,
                  block: str | None = None) -> dict:
        """Recompute the recommendations of an area (the caller's, or a district or block inside it)."""
        area = self._area(principal.area, district, block)
        if area.school_id is not None:
            raise Forbidden("recommendations are computed for a block, a district or the state")
        states = await self._live_states()
        lat, lon = await self._coordinates()
        computed = await asyncio.to_thread(self._solve, states, area, lat, lon)
        run_id = uuid.uuid4().hex
        recs = [self._record(run_id, a, computed) for a in computed["actions"]]
        recs += [self._fund_record(run_id, a, computed) for a in computed["fund_actions"]]
        superseded = await self._repo.supersede_pending(area, f"superseded by run {run_id}: a newer state of the area")
        await self._repo.create_many(recs, principal.actor())
        await self._record_audit(principal, caller, "optimisation.run", f"area:{area.label()}", area.district,
                                 after={"run_id": run_id, "recommendations": len(recs), "superseded": len(superseded)})
        for rec in recs:
            await self._tell(rec["district"], {"event": "created", "id": rec["id"], "status": PENDING,
                                               "block": rec["block"], "school_id": rec["school_id"]})
        for rec_id in superseded:
            await self._tell_status(rec_id)
        return {"run_id": run_id, "area": {"district": area.district, "block": area.block},
                "status": computed["status"], "message": f"{computed['message']}; funds: {computed['funds_message']}",
                "recommendations": len(recs), "fund_advances": len(computed["fund_actions"]),
                "superseded": len(superseded), "schools": computed["schools"], "variables": computed["variables"],
                "build_s": computed["build_s"], "solve_s": computed["solve_s"], "twin_seq": computed["twin_seq"],
                "shortfall_child_days_before": computed["before"], "shortfall_child_days_after": computed["after"],
                "transport_cost_inr": computed["transport_cost_inr"]}

    def _solve(self, states: list[ShardState], area: Area, lat: np.ndarray, lon: np.ndarray) -> dict:
        from scenarios.optimise_actions import fund_actions, stock_actions
        from scenarios.optimise_funds import plan_fund_advances
        from scenarios.optimise_input import from_start
        from scenarios.optimise_stock import rebalance_stock

        start, g = self._area_start(states, area)
        inp = self._input(from_start, start, lat[g], lon[g])
        plan = rebalance_stock(inp)
        actions = stock_actions(inp, plan)
        self._rescore(states, actions, g, plan, inp.n)
        inp.block_balance_inr = block_balances(states, inp.n_blocks)
        funds = plan_fund_advances(inp)
        return {"actions": actions, "fund_actions": fund_actions(inp, funds), "funds_message": funds.message, "g": g, "status": plan.status, "message": plan.message,
                "schools": inp.n, "variables": plan.variables, "build_s": round(plan.build_s, 4),
                "solve_s": round(plan.solve_s, 4), "twin_seq": _twin_seq(states, area, self._directory),
                "before": round(float(plan.shortfall_before.sum()), 2),
                "after": round(float(plan.shortfall_after.sum()), 2),
                "transport_cost_inr": round(plan.transport_cost_inr, 2)}

    def _rescore(self, states: list[ShardState], actions: list[dict], g: np.ndarray, plan, n: int) -> None:  # noqa: ANN001
        """The twin's risk score of each receiver (and giving school) before and after the run's plan."""
        from scenarios.optimise_greedy import stock_change
        from scenarios.optimise_risk import rescored

        rows = np.unique([a["to"] for a in actions] + [a["from_school"] for a in actions if a["from_school"] >= 0])
        if rows.size == 0:
            return
        scores = rescored(states, self._directory, g[rows], stock_change(n, plan)[rows], self._risk_rules)
        for a in actions:
            mine = scores.get(int(g[a["to"]]))
            if mine is not None:
                a["risk"]["before"] |= {"risk_score": mine["before"]["score"], "risk_level": mine["before"]["level"]}
                a["risk"]["after"] |= {"risk_score": mine["after"]["score"], "risk_level": mine["after"]["level"]}
            if a["from_school"] >= 0 and int(g[a["from_school"]]) in scores:
                a["risk"]["source"] = scores[int(g[a["from_school"]])]

    def _input(self, from_start, start, lat, lon):  # noqa: ANN001, ANN202 - the models load lazily
        inp = from_start(start, lat, lon)
        inp.depot_stock *= self.depot_days / DEFAULT_DEPOT_DAYS
        return inp

    def _area_start(self, states: list[ShardState], area: Area) -> tuple[StartState, np.ndarray]:
        """The live start state of `area`'s schools and their directory indices."""
        from simulation.start_state import StartState

        if max(int(s.today[0]) for s in states) < 0:
            raise InvalidInput("the live twin has no reports yet: nothing to optimise",
                               {"fields": [{"field": "area", "message": "no live state yet"}]})
        start = StartState.from_shards(states, self._directory)
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
                "quantities": action["quantities"], "risk": action["risk"], "explanation": action["explanation"]}
        return {"id": uuid.uuid4().hex, "kind": "stock_transfer", "run_id": run_id, "district": district,
                "block": block, "school_id": _udise(d, to), "from_school_id": from_school, "from_depot": from_depot,
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

    # -- reading --------------------------------------------------------------------------------
    async def get(self, rec_id: str, area: Area) -> dict:
        """A recommendation inside `area`. Recommendations are the officers' (a transfer names the
        giving school too, outside a school admin's area): a school's area sees none."""
        rec = await self._repo.get(rec_id)
        if rec is None or not area.covers_block(rec["district"], rec["block"]):
            raise NotFound(f"no recommendation {rec_id}", {"id": rec_id})
        return rec

    async def page(self, area: Area, status: str | None, kind: str | None, page: int, page_size: int,
                   district: str | None = None, block: str | None = None, run_id: str | None = None) -> dict:
        where = self._area(area, district, block)
        if where.school_id is not None:  # see `get`
            return {"recommendations": [], "pagination": pagination(page, page_size, 0)}
        recs, total = await self._repo.page(where, status, kind, offset(page, page_size), page_size, run_id)
        return {"recommendations": recs, "pagination": pagination(page, page_size, total)}

    # -- deciding -------------------------------------------------------------------------------
    async def approve(self, rec_id: str, principal: Principal, caller: Caller | None,
                      version: int | None = None) -> dict:
        rec = await self._decidable(rec_id, principal, version)
        self._may_approve(rec, principal)
        stale = await self._moved_on(rec)
        if stale is not None:
            if await self._repo.transition(rec_id, rec["version"], PENDING, SUPERSEDED, reason=stale):
                await self._tell_status(rec_id)
            raise Conflict(f"recommendation {rec_id} is superseded: {stale}; run the optimisation again",
                           {"id": rec_id, "status": SUPERSEDED, "reason": stale})
        if not await self._repo.transition(rec_id, rec["version"], PENDING, APPROVED, decided_by=principal.actor()):
            raise await self._lost(rec_id)
        events = await self._apply(rec)  # only the approval that won gets here
        await self._repo.transition(rec_id, rec["version"] + 1, APPROVED, APPLIED, events=events)
        await self._record_audit(principal, caller, "optimisation.approve", f"recommendation:{rec_id}",
                                 rec["district"], before={"status": PENDING}, after={"status": APPLIED,
                                                                                    "events": events})
        await self._tell_status(rec_id)
        return await self._repo.get(rec_id)

    async def reject(self, rec_id: str, principal: Principal, caller: Caller | None, reason: str,
                     version: int | None = None) -> dict:
        rec = await self._decidable(rec_id, principal, version)
        if not await self._repo.transition(rec_id, rec["version"], PENDING, REJECTED, decided_by=principal.actor(),
                                           reason=reason):
            raise await self._lost(rec_id)
        await self._record_audit(principal, caller, "optimisation.reject", f"recommendation:{rec_id}",
                                 rec["district"], before={"status": PENDING}, after={"status": REJECTED,
                                                                                    "reason": reason})
        await self._tell_status(rec_id)
        return await self._repo.get(rec_id)

    async def _decidable(self, rec_id: str, principal: Principal, version: int | None) -> dict:
        rec = await self.get(rec_id, principal.area)
        if rec["status"] != PENDING:
            raise Conflict(f"recommendation {rec_id} is {rec['status']}: only a pending one can be decided",
                           {"id": rec_id, "status": rec["status"]})
        if version is not None and version != rec["version"]:
            raise Conflict(f"recommendation {rec_id} is at version {rec['version']}, not {version}: read it again",
                           {"id": rec_id, "version": rec["version"]})
        return rec

    def _may_approve(self, rec: dict, principal: Principal) -> None:
        if principal.role == Role.BLOCK_OFFICER and rec["kind"] == FUNDS and rec["cost_inr"] > self._limit_inr:
            raise Forbidden(f"a block officer approves advances up to {self._limit_inr:g} INR; this one is "
                            f"{rec['cost_inr']:g} INR: a district officer decides it",
                            {"limit_inr": self._limit_inr, "amount_inr": rec["cost_inr"]})
        if principal.role == Role.BLOCK_OFFICER and rec["quantity_kg"] > self._limit_kg:
            raise Forbidden(f"a block officer approves transfers up to {self._limit_kg:g} kg; this one moves "
                            f"{rec['quantity_kg']:g} kg: a district officer decides it",
                            {"limit_kg": self._limit_kg, "quantity_kg": rec["quantity_kg"]})
        if principal.role not in (Role.STATE_ADMIN, Role.DISTRICT_OFFICER, Role.BLOCK_OFFICER):
            raise Forbidden(f"a {principal.role.replace('_', ' ')} may not approve recommendations")

    async def _lost(self, rec_id: str) -> Conflict:
        """The answer to a decision whose compare-and-set matched nothing: someone decided first."""
        now = await self._repo.get(rec_id)
        status, version = (now["status"], now["version"]) if now else (None, None)
        return Conflict(f"recommendation {rec_id} was changed meanwhile (now {status}, version {version})",
                        {"id": rec_id, "status": status, "version": version})

    # -- editing --------------------------------------------------------------------------------
    async def edit(self, rec_id: str, principal: Principal, caller: Caller | None, items: dict[str, float],
                   version: int | None = None) -> dict:
        """New quantities for a pending recommendation, checked against the LP's constraints on the
        live twin (422 naming the one broken); its risk after is recomputed, its version moves on,
        and it is verified again by simulation (`EDIT_REPLICATIONS` replications of the stress)."""
        rec = await self._decidable(rec_id, principal, version)
        if rec["kind"] != STOCK:
            raise _broken("kind", "only a stock transfer's quantities are edited here: reject an advance and run "
                                  "the optimisation again")
        states = await self._live_states()
        lat, lon = await self._coordinates()
        checked = await asyncio.to_thread(self._check_edit, states, rec, items, lat, lon)
        body = {k: rec[k] for k in ("action", "quantities", "risk", "explanation")}
        body["action"] = {**body["action"], "items": {k: v for k, v in items.items() if v > 0}}
        body["quantities"], body["risk"]["after"] = checked["quantities"], checked["risk_after"]
        body["explanation"] = {**body["explanation"], "edited_by": principal.actor()}
        if not await self._repo.edit(rec_id, rec["version"], body, checked["quantity_kg"], checked["cost_inr"]):
            raise await self._lost(rec_id)
        await self._record_audit(principal, caller, "optimisation.edit", f"recommendation:{rec_id}", rec["district"],
                                 before={"items": rec["action"]["items"]}, after={"items": body["action"]["items"]})
        await self._tell_status(rec_id)
        await self.impact(rec_id, principal.area, EDIT_HORIZON_DAYS, EDIT_REPLICATIONS, stress=True)
        return await self._repo.get(rec_id)

    def _check_edit(self, states: list[ShardState], rec: dict, items: dict[str, float], lat: np.ndarray,
                    lon: np.ndarray) -> dict:
        from scenarios.optimise_actions import days_of_grain
        from scenarios.optimise_input import ITEM_KG, from_start
        from scenarios.optimise_stock import StockRule

        rule = StockRule()
        start, g = self._area_start(states, Area(rec["district"], rec["block"]))
        inp = self._input(from_start, start, lat[g], lon[g])
        row_of = {int(x): k for k, x in enumerate(g.tolist())}
        to = row_of.get(int(self._directory.index(rec["school_id"])))
        src = row_of.get(int(self._directory.index(rec["from_school_id"]))) if rec["from_school_id"] else None
        if to is None or (rec["from_school_id"] and src is None):
            raise Conflict(f"recommendation {rec['id']} names a school no longer in the twin", {"id": rec["id"]})
        moved = np.array([float(items.get(name, 0.0)) for name in ITEMS])
        if not moved.any():
            raise _broken("something_moves", "a transfer must move something: reject it instead")
        target = inp.need_per_day * (inp.days_to_delivery + np.asarray(rule.buffer_days, float))
        deficit = np.maximum(target[to] - inp.stock[to], 0.0)
        for k, name in enumerate(ITEMS):
            if moved[k] > deficit[k] + 1e-6:
                raise _broken("receiver_deficit", f"{name} {moved[k]:g} is more than the {deficit[k]:.3f} the receiver "
                                                  "lacks before its next delivery and buffer", name, deficit[k])
            if src is not None and moved[k] > max(inp.stock[src, k] - target[src, k], 0.0) + 1e-6:
                room = max(inp.stock[src, k] - target[src, k], 0.0)
                raise _broken("donor_buffer", f"{name} {moved[k]:g} would take the giving school below its own "
                                              f"buffer: it can give {room:.3f}", name, room)
            depot = inp.depot_stock[inp.block[to], k]
            if src is None and moved[k] > depot + 1e-6:
                raise _broken("depot_stock", f"{name} {moved[k]:g} is more than the depot holds ({depot:.3f})",
                              name, depot)
        kg = float(moved @ ITEM_KG)
        truck = float(inp.vehicle_kg_per_day[inp.block[to]])
        if kg > truck + 1e-6:
            raise _broken("vehicle_kg", f"{kg:g} kg is more than the block's vehicle carries in a day ({truck:g} kg)",
                          None, truck)
        quantities = {"receiver": {"current": _item_dict(inp.stock[to]), "recommended": _item_dict(inp.stock[to] + moved)}}
        if src is not None:
            quantities["source"] = {"current": _item_dict(inp.stock[src]),
                                    "recommended": _item_dict(inp.stock[src] - moved)}
        child_per_unit = np.divide(inp.children[to], inp.need_per_day[to], out=np.zeros(4),
                                   where=inp.need_per_day[to] > 0)
        after = float((np.maximum(deficit - moved, 0.0) * child_per_unit).sum())
        days = days_of_grain(inp.stock[to] + moved, inp.need_per_day[to])
        return {"quantities": quantities, "quantity_kg": round(kg, 3),
                "cost_inr": round(rule.rate_inr_per_kg_km * kg * float(rec["action"]["km"]), 2),
                "risk_after": {"shortfall_child_days": round(after, 2),
                               "days_of_grain": None if not np.isfinite(days) else round(days, 2)}}

    async def _moved_on(self, rec: dict) -> str | None:
        """Why the live twin no longer allows `rec` (None: it does): the giving school holds less
        than it would give, or the block's balance is less than the advance."""
        if rec["kind"] == FUNDS:
            states = await self._live_states()
            b = self._directory.blocks.index(district_index(rec["district"]), rec["block"])
            balance = float(block_balances(states, len(self._directory.blocks))[b])
            if balance + 1e-6 < rec["cost_inr"]:
                return f"block {rec['block']} now holds {balance:.2f} INR, less than the {rec['cost_inr']:.2f} advance"
            return None
        if rec["from_school_id"] is None:
            return None
        states = await self._live_states()
        i = self._directory.index(rec["from_school_id"])
        for s in states:
            local = int(s.school_local[i]) if 0 <= i < s.school_local.size else -1
            if local >= 0:
                held = np.maximum(s.stock[local], 0.0)
                for k, name in enumerate(ITEMS):
                    if rec["action"]["items"].get(name, 0.0) > held[k] + 1e-6:
                        return (f"school {rec['from_school_id']} now holds {held[k]:.3f} {name.replace('_kg', ' kg')}, "
                                f"less than the {rec['action']['items'][name]:.3f} it would give")
                return None
        return f"school {rec['from_school_id']} is no longer in the twin"

    async def _apply(self, rec: dict) -> list[str]:
        """The recommendation as events in the log. The event id is the recommendation's: the log
        keeps one event per id, so an approval interrupted after this and retried adds nothing."""
        states = await self._live_states()
        today = max(int(s.today[0]) for s in states)
        if rec["kind"] == FUNDS:  # released from the school's block to the school
            return await self._log_event(rec, {"type": "funds_released", "event_id": f"rec-{rec['id']}",
                                               "date": day_date(max(today, 0)).isoformat(),
                                               "school_id": rec["school_id"], "amount_inr": rec["cost_inr"]})
        event = {"type": "stock_transferred", "event_id": f"rec-{rec['id']}", "date": day_date(max(today, 0)).isoformat(),
                 "school_id": rec["school_id"], "recommendation_id": rec["id"], **rec["action"]["items"]}
        if "eggs" in event:
            event["eggs"] = int(round(event["eggs"]))
        event |= {"from_school_id": rec["from_school_id"]} if rec["from_school_id"] else {"from_depot": rec["from_depot"]}
        return await self._log_event(rec, event)

    async def _log_event(self, rec: dict, event: dict) -> list[str]:
        result = await self._ingest(json.dumps({"events": [event]}).encode())
        if result["rejected"]:
            raise InvalidInput(f"the log refused the event: {result['results'][0].get('error')}",
                               {"id": rec["id"], "result": result["results"][0]})
        return [event["event_id"]]

    # -- comments -------------------------------------------------------------------------------
    async def comment(self, rec_id: str, principal: Principal, body: str, parent_id: int | None) -> dict:
        rec = await self.get(rec_id, principal.area)
        if parent_id is not None and parent_id not in {c["id"] for c in await self._repo.comments(rec_id)}:
            raise NotFound(f"no comment {parent_id} on recommendation {rec_id}", {"parent_id": parent_id})
        comment = await self._repo.add_comment(rec_id, principal.actor(), body, parent_id)
        await self._tell(rec["district"], {"event": "comment", "id": rec_id, "block": rec["block"],
                                           "school_id": rec["school_id"], "comment": comment})
        return comment

    async def comments(self, rec_id: str, area: Area) -> list[dict]:
        await self.get(rec_id, area)
        return await self._repo.comments(rec_id)

    # -- impact ---------------------------------------------------------------------------------
    async def impact(self, rec_id: str, area: Area, horizon_days: int, replications: int, stress: bool,
                     seed: int = 1) -> dict:
        """The recommendation, and its run's whole plan in the same block, simulated against no action
        and the greedy baseline from the live twin's state of its block (see `scenarios.optimise_impact`)."""
        rec = await self.get(rec_id, area)
        block_area = Area(rec["district"], rec["block"])
        plan_recs, _ = await self._repo.page(block_area, None, rec["kind"], 0, 10_000, rec["run_id"])
        states = await self._live_states()
        lat, lon = await self._coordinates()
        pool = await asyncio.to_thread(self._pool) if self._pool is not None else None
        try:
            impact = await asyncio.to_thread(self._verify, states, block_area, lat, lon, rec, plan_recs, horizon_days,
                                             replications, stress, seed, pool)
        finally:
            getattr(pool, "close", lambda: None)()
        await self._repo.set_impact(rec_id, rec["version"], impact)
        return impact

    async def run_impact(self, run_id: str, area: Area, horizon_days: int, replications: int, stress: bool,
                         seed: int = 1) -> dict:
        """A whole run's live recommendations inside `area` (transfers and advances together), simulated
        from the live state of the smallest area holding them against no action and the greedy
        baselines of both (lowest stock first from the depot, soonest broke first)."""
        recs, _ = await self._repo.page(self._area(area, None, None), None, None, 0, 100_000, run_id)
        live = [r for r in recs if r["status"] in (PENDING, APPROVED)]
        if not recs:
            raise NotFound(f"no optimisation run {run_id}", {"run_id": run_id})
        places = {(r["district"], r["block"]) for r in recs}
        districts = {d for d, _ in places}
        where = (Area(*places.pop()) if len(places) == 1 else Area(districts.pop()) if len(districts) == 1
                 else Area())
        states = await self._live_states()
        lat, lon = await self._coordinates()
        pool = await asyncio.to_thread(self._pool) if self._pool is not None else None
        try:
            return await asyncio.to_thread(self._verify_run, states, where, lat, lon, live, horizon_days,
                                           replications, stress, seed, pool) | {
                "run_id": run_id, "area": {"district": where.district, "block": where.block},
                "plan_recommendations": len(live)}
        finally:
            getattr(pool, "close", lambda: None)()

    def _verify_run(self, states, area, lat, lon, live, horizon_days, replications, stress, seed, pool) -> dict:  # noqa: ANN001
        from scenarios.montecarlo import serial_map
        from scenarios.optimise_greedy import greedy_funds, greedy_stock, stock_change
        from scenarios.optimise_impact import PlanToVerify, stress_inputs, verify
        from scenarios.optimise_input import from_start
        from simulation.levers import ScenarioInputs

        start, g = self._area_start(states, area)
        inp = self._input(from_start, start, lat[g], lon[g])
        inp.block_balance_inr = block_balances(states, inp.n_blocks)
        row_of = {int(x): k for k, x in enumerate(g.tolist())}
        greedy = greedy_stock(inp)
        moves = [r for r in live if r["kind"] == STOCK]
        plans = [PlanToVerify("greedy", stock_change(inp.n, greedy), greedy.transport_cost_inr, greedy_funds(inp)),
                 PlanToVerify("plan", self._change(inp.n, moves, row_of), sum(r["cost_inr"] for r in moves),
                              self._advance(inp.n, [r for r in live if r["kind"] == FUNDS], row_of))]
        inputs = stress_inputs(horizon_days, seed) if stress else ScenarioInputs(horizon_days, seed)
        workers = getattr(pool, "workers", 1) if pool is not None else 1
        out = verify(start, inputs, plans, replications, pool or serial_map, workers,
                     ratios=(("plan", "none"), ("plan", "greedy")))
        return out | {"stress": stress}

    def _verify(self, states, area, lat, lon, rec, plan_recs, horizon_days, replications, stress, seed,  # noqa: ANN001
                pool) -> dict:
        from scenarios.montecarlo import serial_map
        from scenarios.optimise_greedy import greedy_funds, greedy_stock, stock_change
        from scenarios.optimise_impact import PlanToVerify, stress_inputs, verify
        from scenarios.optimise_input import from_start
        from simulation.levers import ScenarioInputs

        start, g = self._area_start(states, area)
        inp = self._input(from_start, start, lat[g], lon[g])
        row_of = {int(x): k for k, x in enumerate(g.tolist())}
        live = [r for r in plan_recs if r["status"] in (PENDING, APPROVED)]
        if rec["kind"] == FUNDS:  # money: the greedy clerk advances the soonest-broke first; no transport
            inp.block_balance_inr = block_balances(states, inp.n_blocks)
            plans = [PlanToVerify("greedy", None, 0.0, greedy_funds(inp)),
                     PlanToVerify("recommendation", None, 0.0, self._advance(inp.n, [rec], row_of)),
                     PlanToVerify("plan", None, 0.0, self._advance(inp.n, live, row_of))]
        else:
            greedy = greedy_stock(inp)
            plans = [PlanToVerify("greedy", stock_change(inp.n, greedy), greedy.transport_cost_inr),
                     PlanToVerify("recommendation", self._change(inp.n, [rec], row_of), rec["cost_inr"]),
                     PlanToVerify("plan", self._change(inp.n, live, row_of), sum(r["cost_inr"] for r in live))]
        inputs = stress_inputs(horizon_days, seed) if stress else ScenarioInputs(horizon_days, seed)
        workers = getattr(pool, "workers", 1) if pool is not None else 1
        out = verify(start, inputs, plans, replications, pool or serial_map, workers,
                     ratios=(("recommendation", "none"), ("plan", "none"), ("plan", "greedy")))
        return out | {"recommendation_id": rec["id"], "version": rec["version"], "stress": stress,
                      "area": {"district": area.district, "block": area.block}, "plan_recommendations": len(live)}

    def _advance(self, n: int, recs: list[dict], row_of: dict[int, int]) -> np.ndarray:
        out = np.zeros(n)
        for r in recs:
            to = row_of.get(int(self._directory.index(r["school_id"])))
            if to is not None:
                out[to] += r["cost_inr"]
        return out

    def _change(self, n: int, recs: list[dict], row_of: dict[int, int]) -> np.ndarray:
        out = np.zeros((n, 4))
        for r in recs:
            items = np.array([r["action"]["items"].get(name, 0.0) for name in ITEMS])
            to = row_of.get(int(self._directory.index(r["school_id"])))
            if to is None:
                continue
            out[to] += items
            if r["from_school_id"]:
                src = row_of.get(int(self._directory.index(r["from_school_id"])))
                if src is not None:
                    out[src] -= items
        return out

    # -- helpers --------------------------------------------------------------------------------
    async def _coordinates(self) -> tuple[np.ndarray, np.ndarray]:
        """The schools' positions, read once (schools do not move) and again when the directory grows."""
        if self._coords is None or self._coords[0].size < len(self._directory):
            self._coords = await self._locations()
        return self._coords

    def _area(self, area: Area, district: str | None, block: str | None) -> Area:
        """The narrower of the caller's area and the one asked for (names in any case); 404 for a
        place unknown or outside it."""
        if block is not None and district is None:
            district = area.district
            if district is None:
                raise InvalidInput("name the block's district too", {"fields": [{"field": "district",
                                                                                "message": "required with block"}]})
        if district is None:
            return area
        district = geography.district_names()[district_index(district)]
        if block is not None:
            block = self._directory.blocks.names[block_index(self._directory, block, district)]
        asked = Area(district, block)
        if area.contains(asked):
            return asked
        if asked.contains(area):
            return area
        raise NotFound(f"no {'block' if block else 'district'} {block or district!r}", {"area": asked.label()})

    async def _record_audit(self, principal: Principal, caller: Caller | None, action: str, target: str,
                            district: str | None, **changes) -> None:  # noqa: ANN003
        if self._audit is not None:
            await self._audit(principal, caller, action, target=target, district=district, **changes)

    async def _tell_status(self, rec_id: str) -> None:
        rec = await self._repo.get(rec_id)
        if rec is not None:
            await self._tell(rec["district"], {"event": "status", "id": rec_id, "status": rec["status"],
                                               "version": rec["version"], "block": rec["block"],
                                               "school_id": rec["school_id"], "reason": rec["reason"]})

    async def _tell(self, district: str, message: dict) -> None:
        if self._broker is None:
            return
        try:
            await self._broker.publish(optimisation_topic(district), {"district": district, **message})
        except Exception:  # noqa: BLE001 - the stream misses it; the stored recommendation has it
            log.warning("publishing news of recommendations in %s failed", district, exc_info=True)


def _broken(constraint: str, message: str, item: str | None = None, limit: float | None = None) -> InvalidInput:
    """422 naming the LP constraint an edited quantity breaks."""
    field = f"items.{item}" if item else "items"
    return InvalidInput(f"{constraint}: {message}", {"constraint": constraint, "limit": limit,
                                                     "fields": [{"field": field, "message": message}]})


def _item_dict(row: np.ndarray) -> dict:
    return {name: round(float(q), 3) for name, q in zip(ITEMS, row)}


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
