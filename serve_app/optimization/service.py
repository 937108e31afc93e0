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
  `block_officer_limit_inr` (an advance); above, a district officer (or a state admin) decides.

Each reads a copy of the live state of only the district it works in (the run's area's, the
recommendation's; every district only for a state-wide run): at India scale one shard may host
every district, and a copy of all of them is ~1 GiB through Ray's object store. A block's
transfers, depot visits and advances stay inside it, so its district holds every school, depot
and balance they touch; the risk rescoring reads the schools' own features (the neighbours'
cascade is the state actor's, not read here). The twin's day is read from the shards' statuses."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import uuid
from collections.abc import Awaitable, Callable

import numpy as np

from configs.settings import RiskRules
from db.recommendation_repository import (
    APPLIED,
    APPROVED,
    PENDING,
    REJECTED,
    SUPERSEDED,
    RecommendationRepository,
)
from db.times import utc_now
from serve_app.auth.errors import Forbidden
from serve_app.auth.principal import Caller, Permission, Principal, Role
from serve_app.optimization.proposals import (
    DELIVERY,
    FUNDS,
    ITEMS,
    MODELS,
    Proposals,
    block_balances,
    broken,
)
from serve_app.optimization.vehicle_loads import KINDS as VEHICLE_KINDS
from serve_app.optimization.vehicle_loads import (
    load_day,
    loaded_kg,
    loaded_today_by_block,
)
from serve_app.optimization.verification import Verification
from serve_app.shared.live_copy import LiveStates, TwinDay, live_copy
from serve_app.shared.news import publish_news
from serve_app.shared.page import offset, pagination
from serve_app.shared.places import block_index, district_index
from twin import geography
from twin.area import STATE, Area
from twin.directory import Directory
from twin.errors import Conflict, InvalidInput, NotFound
from twin.norms import day_date
from twin.ports import StreamBroker
from twin.state import ShardState

log = logging.getLogger(__name__)

AuditRecord = Callable[..., Awaitable[None]]  # record(principal, caller, action, **fields) (`Accounts.record`)
IngestEvents = Callable[[bytes], Awaitable[dict]]  # the log's ingest, as the whole state (no area check)
DEFAULT_BLOCK_OFFICER_LIMIT_KG = 500.0
DEFAULT_BLOCK_OFFICER_LIMIT_INR = 50_000.0
EDIT_HORIZON_DAYS, EDIT_REPLICATIONS = 20, 10  # an edited recommendation's re-verification


# who a scheduled run is: the twin, over the whole state (its recommendations say `created_by` so)
SCHEDULE = Principal("system:schedule", Role.STATE_ADMIN, STATE, frozenset(Permission))
# who re-solves a block when the twin crosses a risk threshold in it
RISK = Principal("system:risk", Role.STATE_ADMIN, STATE, frozenset(Permission))
# who finishes an approval interrupted between its two writes (its audit entry says so)
RECOVERY = Principal("system:recovery", Role.STATE_ADMIN, STATE, frozenset(Permission))
DEFAULT_APPLY_GRACE_S = 30.0


def _stock_of(states: list[ShardState], i: int) -> np.ndarray | None:
    """float64 [4]: school `i`'s stock as the live twin holds it (clipped at zero), or None."""
    for s in states:
        local = int(s.school_local[i]) if 0 <= i < s.school_local.size else -1
        if local >= 0:
            return np.maximum(s.stock[local], 0.0)
    return None


def _today(day: int) -> str:
    """The twin's day `day` (ISO): what an approval's events are dated."""
    return day_date(max(day, 0)).isoformat()


def _districts_of(area: Area) -> list[int] | None:
    """The districts (indices) whose state work in `area` reads: its own, or every one (None) for
    the state."""
    return None if area.is_state else [district_index(area.district)]


def _place_of(rec: dict) -> Area:
    """The block a recommendation belongs to: what it moves stays inside it."""
    return Area(rec["district"], rec["block"])


def _unit(item: str) -> str:
    return item.replace("_kg", " kg")


def optimisation_topic(district: str) -> str:
    return f"optimisation:{district}"


class OptimisationService:
    def __init__(self, repo: RecommendationRepository, directory: Directory,
                 live_states: LiveStates, twin_day: TwinDay,
                 locations: Callable[[], Awaitable[tuple[np.ndarray, np.ndarray]]],
                 ingest: IngestEvents, replication_pool: Callable[[], Callable] | None = None,
                 broker: StreamBroker | None = None, audit: AuditRecord | None = None,
                 block_officer_limit_kg: float = DEFAULT_BLOCK_OFFICER_LIMIT_KG,
                 risk_rules: RiskRules | None = None,
                 block_officer_limit_inr: float = DEFAULT_BLOCK_OFFICER_LIMIT_INR,
                 apply_grace_s: float = DEFAULT_APPLY_GRACE_S, depot_stock_days: float | None = None,
                 vehicle_kg_per_day: float | None = None) -> None:
        self._repo = repo
        self._directory = directory
        self._live_states = live_states
        self._twin_day = twin_day
        self._locations = locations
        self._ingest = ingest
        self._pool = replication_pool
        self._broker = broker
        self._audit = audit
        self._limit_kg = block_officer_limit_kg
        self._limit_inr = block_officer_limit_inr
        self._apply_grace_s = apply_grace_s
        self._proposals = Proposals(directory, risk_rules)
        if depot_stock_days is not None:
            self.depot_days = depot_stock_days
        if vehicle_kg_per_day is not None:
            self.vehicle_kg_per_day = vehicle_kg_per_day
        self._verification = Verification(self._proposals, directory)
        self._coords: tuple[np.ndarray, np.ndarray] | None = None

    # -- computing ------------------------------------------------------------------------------
    async def run(self, principal: Principal, caller: Caller | None, district: str | None = None,
                  block: str | None = None, models: frozenset[str] = MODELS) -> dict:
        """Recompute the recommendations of an area (the caller's, or a district or block inside it)
        from the `models` asked for (stock transfers, depot visits, fund advances)."""
        area = self._area(principal.area, district, block)
        if area.school_id is not None:
            raise Forbidden("recommendations are computed for a block, a district or the state")
        states, today = await self._live(area)
        lat, lon = await self._coordinates()
        run_id = uuid.uuid4().hex
        # the vehicles' room today less what is already decided on them (the pending are superseded below)
        decided = [r for r in await self._vehicle_loads(area) if r["status"] != PENDING]
        loaded = loaded_today_by_block(decided, _today(today), self._block_of, len(self._directory.blocks))
        computed, recs = await asyncio.to_thread(self._proposals.propose, states, area, lat, lon, run_id, models,
                                                 loaded, today)
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
                "status": computed["status"], "message": f"{computed['message']}; deliveries: "
                f"{computed['delivery_message']}; funds: {computed['funds_message']}",
                "recommendations": len(recs), "fund_advances": len(computed["fund_actions"]),
                "deliveries": len(computed["delivery_actions"]), "assumptions": computed["assumptions"],
                "superseded": len(superseded), "schools": computed["schools"], "variables": computed["variables"],
                "build_s": computed["build_s"], "solve_s": computed["solve_s"], "twin_seq": computed["twin_seq"],
                "shortfall_child_days_before": computed["before"], "shortfall_child_days_after": computed["after"],
                "transport_cost_inr": computed["transport_cost_inr"]}

    # -- reading --------------------------------------------------------------------------------
    async def get(self, rec_id: str, area: Area) -> dict:
        """A recommendation inside `area`. Recommendations are the officers' (a transfer names the
        giving school too, outside a school admin's area): a school's area sees none."""
        rec = await self._repo.get(rec_id)
        if rec is None or not area.covers_block(rec["district"], rec["block"]):
            raise NotFound(f"no recommendation {rec_id}", {"id": rec_id})
        if rec["status"] == APPROVED and rec["id"] in await self.recover_approved(Area(rec["district"], rec["block"])):
            rec = await self._repo.get(rec_id)  # an interrupted approval, finished on this read
        return rec

    async def page(self, area: Area, status: str | None, kind: str | None, page: int, page_size: int,
                   district: str | None = None, block: str | None = None, run_id: str | None = None) -> dict:
        where = self._area(area, district, block)
        if where.school_id is not None:  # see `get`
            return {"recommendations": [], "pagination": pagination(page, page_size, 0)}
        await self.recover_approved(where)  # an interrupted approval shows applied, not stuck approved
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
        events = await self._events_of(rec)  # fixed now, stored with the approval: a retry writes these
        if not await self._repo.transition(rec_id, rec["version"], PENDING, APPROVED, decided_by=principal.actor(),
                                           apply_events=events):
            raise await self._lost(rec_id)
        # the decision is audited before its events are written: an approval interrupted there keeps
        # its officer in the audit, and the sweep that finishes it adds its own entry
        await self._record_audit(principal, caller, "optimisation.approve", f"recommendation:{rec_id}",
                                 rec["district"], before={"status": PENDING},
                                 after={"status": APPROVED, "events": [e["event_id"] for e in events]})
        await self._finish(rec_id, rec["version"] + 1, events)  # only the approval that won gets here
        await self._tell_status(rec_id)
        return await self._repo.get(rec_id)

    async def _finish(self, rec_id: str, version: int, events: list[dict]) -> bool:
        """The second write of an approval: its events into the log, then the recommendation applied.
        Safe to repeat: the log keeps one event per id (a repeat is a duplicate, not a second
        transfer) and the compare-and-set lets one finisher mark it. True if this call marked it."""
        ids = [e["event_id"] for e in events]
        for event in events:
            await self._log_event(rec_id, event)
        return await self._repo.transition(rec_id, version, APPROVED, APPLIED, events=ids)

    async def recover_approved(self, area: Area | None = None, grace_s: float | None = None) -> list[str]:
        """Finish approvals interrupted between their two writes (marked approved, events not
        confirmed in the log): approved more than `grace_s` ago (an approval under way takes less)
        and still not applied. Each is finished with the events fixed at its approval, so whether
        the interruption came before or after the log took them, the twin gets them once.
        The ids it marked applied."""
        cutoff = utc_now() - dt.timedelta(seconds=self._apply_grace_s if grace_s is None else grace_s)
        done = []
        for rec in await self._repo.approved_unapplied(cutoff, area):
            events = await self._repo.apply_events(rec["id"]) or await self._events_of(rec)
            try:
                marked = await self._finish(rec["id"], rec["version"], events)
            except InvalidInput:  # the log refuses it (a school gone): it stays approved, said in the log
                log.warning("recommendation %s is approved but the log refuses its events", rec["id"], exc_info=True)
                continue
            if marked:
                done.append(rec["id"])
                await self._record_audit(RECOVERY, Caller(), "optimisation.apply_recovered", f"recommendation:{rec['id']}",
                                         rec["district"], before={"status": APPROVED},
                                         after={"status": APPLIED, "events": [e["event_id"] for e in events]})
                await self._tell_status(rec["id"])
        return done

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

    def start_recovery(self, every_s: float) -> Callable[[], Awaitable[None]]:
        """Sweep interrupted approvals now (a replica starting after a crash) and every `every_s`
        seconds; the sweep is idempotent, so replicas sweeping at once apply nothing twice. The
        function that stops it."""
        async def sweep_forever() -> None:
            while True:
                try:
                    await self.recover_approved()
                except Exception:  # noqa: BLE001 - the next sweep, or the next read, tries again
                    log.warning("sweeping interrupted approvals failed", exc_info=True)
                await asyncio.sleep(every_s)

        task = asyncio.get_running_loop().create_task(sweep_forever())

        async def stop() -> None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        return stop

    # -- editing --------------------------------------------------------------------------------
    async def edit(self, rec_id: str, principal: Principal, caller: Caller | None, items: dict[str, float],
                   version: int | None = None, amount_inr: float | None = None) -> dict:
        """New quantities for a pending recommendation (a transfer's or a delivery's items, an
        advance's amount), checked against the LP's constraints on the live twin (422 naming the
        one broken); its risk after is recomputed, its version moves on, and it is verified again
        by simulation (`EDIT_REPLICATIONS` replications of the stress)."""
        rec = await self._decidable(rec_id, principal, version)
        states, today = await self._live(_place_of(rec))
        lat, lon = await self._coordinates()
        body = {k: rec[k] for k in ("action", "quantities", "risk", "explanation")}
        if rec["kind"] == FUNDS:
            if amount_inr is None:
                raise broken("kind", "an advance's amount is edited as amount_inr", "amount_inr")
            claimed = await self._claimed_in_block(rec)
            checked = await asyncio.to_thread(self._proposals.check_fund_edit, states, rec, amount_inr, claimed,
                                              lat, lon, today)
            body["action"] = {**body["action"], "amount_inr": round(amount_inr, 2)}
            before, after = {"amount_inr": rec["cost_inr"]}, {"amount_inr": round(amount_inr, 2)}
            kg, cost = 0.0, round(amount_inr, 2)
        else:
            if amount_inr is not None:
                raise broken("kind", "amount_inr is an advance's: a transfer moves items", "amount_inr")
            check = self._proposals.check_delivery_edit if rec["kind"] == DELIVERY else self._proposals.check_edit
            others = [r for r in await self._vehicle_loads(_place_of(rec)) if r["id"] != rec_id]
            on_vehicle = loaded_kg(others, _today(today), load_day(rec, _today(today)) or 0)
            checked = await asyncio.to_thread(check, states, rec, items, lat, lon, on_vehicle, today)
            body["action"] = {**body["action"], "items": {k: v for k, v in items.items() if v > 0}}
            before, after = {"items": rec["action"]["items"]}, {"items": body["action"]["items"]}
            kg, cost = checked["quantity_kg"], checked["cost_inr"]
        body["quantities"] = checked["quantities"]
        body["risk"] = {**body["risk"], "after": checked["risk_after"]}
        body["explanation"] = {**body["explanation"], "edited_by": principal.actor()}
        if not await self._repo.edit(rec_id, rec["version"], body, kg, cost):
            raise await self._lost(rec_id)
        await self._record_audit(principal, caller, "optimisation.edit", f"recommendation:{rec_id}", rec["district"],
                                 before=before, after=after)
        await self._tell_status(rec_id)
        await self.impact(rec_id, principal.area, EDIT_HORIZON_DAYS, EDIT_REPLICATIONS, stress=True)
        return await self._repo.get(rec_id)

    async def _vehicle_loads(self, area: Area) -> list[dict]:
        """The transfers and visits inside `area` that may load a vehicle today: pending, approved, or
        applied lately (the twin's day follows the calendar: one applied two days ago is not today's)."""
        return await self._repo.vehicle_loads(area, VEHICLE_KINDS, utc_now() - dt.timedelta(days=2))

    def _block_of(self, rec: dict) -> int:
        return self._directory.blocks.index(district_index(rec["district"]), rec["block"])

    async def _claimed_in_block(self, rec: dict) -> float:
        """What the other live (pending or approved) advances of `rec`'s block hold of its balance."""
        others, _ = await self._repo.page(Area(rec["district"], rec["block"]), None, FUNDS, 0, 100_000)
        return float(sum(r["cost_inr"] for r in others if r["id"] != rec["id"] and r["status"] in (PENDING, APPROVED)))

    async def _moved_on(self, rec: dict) -> str | None:
        """Why the live twin no longer allows `rec` (None: it does): the block's balance is less than
        the advance; the giving school holds less than it would give; or the receiver already holds
        what the transfer would bring it to (a delivery came meanwhile), so moving it would overfill.
        Every school and the block it reads are in the recommendation's district: only it is copied."""
        states = await self._live_states(_districts_of(_place_of(rec)))
        if rec["kind"] == FUNDS:
            b = self._directory.blocks.index(district_index(rec["district"]), rec["block"])
            balance = float(block_balances(states, len(self._directory.blocks))[b])
            if balance + 1e-6 < rec["cost_inr"]:
                return f"block {rec['block']} now holds {balance:.2f} INR, less than the {rec['cost_inr']:.2f} advance"
            return None
        items = rec["action"]["items"]
        receiver = _stock_of(states, self._directory.index(rec["school_id"]))
        if receiver is None:
            return f"school {rec['school_id']} is no longer in the twin"
        target = rec["quantities"].get("receiver", {}).get("recommended", {})
        for k, name in enumerate(ITEMS):
            if items.get(name, 0.0) > 0 and name in target and receiver[k] >= target[name] - 1e-6:
                return (f"school {rec['school_id']} now holds {receiver[k]:.3f} {_unit(name)}, as much as the "
                        f"transfer would bring it to")
        if rec["from_school_id"] is None:
            return None
        held = _stock_of(states, self._directory.index(rec["from_school_id"]))
        if held is None:
            return f"school {rec['from_school_id']} is no longer in the twin"
        for k, name in enumerate(ITEMS):
            if items.get(name, 0.0) > held[k] + 1e-6:
                return (f"school {rec['from_school_id']} now holds {held[k]:.3f} {_unit(name)}, "
                        f"less than the {items[name]:.3f} it would give")
        return None

    async def _events_of(self, rec: dict) -> list[dict]:
        """The events approving `rec` writes, dated the twin's day of the approval. The event id is
        derived from the recommendation alone (`rec-<id>`): it is approved at most once (a
        compare-and-set) and its quantities are frozen from then, so one id names one content.
        Only the twin's day is read: no state is copied."""
        date = _today(await self._twin_day())
        event_id = f"rec-{rec['id']}"
        if rec["kind"] == FUNDS:  # released from the school's block to the school
            return [{"type": "funds_released", "event_id": event_id, "date": date, "school_id": rec["school_id"],
                     "amount_inr": rec["cost_inr"]}]
        if rec["kind"] == DELIVERY:  # approving a planned visit dispatches it: delivered on the day approved
            return [{"type": "stock_delivered", "event_id": event_id, "date": date, "school_id": rec["school_id"],
                     "depot_id": rec["from_depot"], **rec["action"]["items"]}]
        event = {"type": "stock_transferred", "event_id": event_id, "date": date, "school_id": rec["school_id"],
                 "recommendation_id": rec["id"], **rec["action"]["items"]}
        if "eggs" in event:
            event["eggs"] = int(round(event["eggs"]))
        event |= {"from_school_id": rec["from_school_id"]} if rec["from_school_id"] else {"from_depot": rec["from_depot"]}
        return [event]

    async def _log_event(self, rec_id: str, event: dict) -> None:
        result = await self._ingest(json.dumps({"events": [event]}).encode())
        if result["rejected"]:
            raise InvalidInput(f"the log refused the event: {result['results'][0].get('error')}",
                               {"id": rec_id, "result": result["results"][0]})

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
        states, today = await self._live(block_area)
        lat, lon = await self._coordinates()
        pool = await asyncio.to_thread(self._pool) if self._pool is not None else None
        try:
            impact = await asyncio.to_thread(self._verification.recommendation, states, block_area, lat, lon, rec, plan_recs, horizon_days,
                                             replications, stress, seed, pool, today)
        finally:
            getattr(pool, "close", lambda: None)()
        await self._repo.set_impact(rec_id, rec["version"], impact)
        return impact

    async def run_recommendations(self, run_id: str, area: Area) -> list[dict]:
        """The run's recommendations inside `area`, whatever their status (404: none there)."""
        recs, _ = await self._repo.page(self._area(area, None, None), None, None, 0, 100_000, run_id)
        if not recs:
            raise NotFound(f"no optimisation run {run_id}", {"run_id": run_id})
        return recs

    async def run_impact(self, run_id: str, area: Area, horizon_days: int, replications: int, stress: bool,
                         seed: int = 1) -> dict:
        """A whole run's live recommendations inside `area` (transfers and advances together), simulated
        from the live state of the smallest area holding them against no action and the greedy
        baselines of both (lowest stock first from the depot, soonest broke first). A run of several
        districts is simulated over the state, from a copy of every district, as before."""
        recs = await self.run_recommendations(run_id, area)
        live = [r for r in recs if r["status"] in (PENDING, APPROVED)]
        places = {(r["district"], r["block"]) for r in recs}
        districts = {d for d, _ in places}
        where = (Area(*places.pop()) if len(places) == 1 else Area(districts.pop()) if len(districts) == 1
                 else Area())
        states, today = await self._live(where)
        lat, lon = await self._coordinates()
        pool = await asyncio.to_thread(self._pool) if self._pool is not None else None
        try:
            return await asyncio.to_thread(self._verification.run, states, where, lat, lon, live, horizon_days,
                                           replications, stress, seed, pool, today) | {
                "run_id": run_id, "area": {"district": where.district, "block": where.block},
                "plan_recommendations": len(live)}
        finally:
            getattr(pool, "close", lambda: None)()

    # -- helpers --------------------------------------------------------------------------------
    async def _live(self, area: Area) -> tuple[list[ShardState], int]:
        """A copy of the live state of `area`'s district (of every district for the state), and the
        twin's day (`serve_app.shared.live_copy`)."""
        return await live_copy(self._live_states, self._twin_day, _districts_of(area))

    @property
    def depot_days(self) -> float:
        """Days of its block's need a depot is taken to hold while no consignment to it is logged."""
        return self._proposals.depot_days

    @depot_days.setter
    def depot_days(self, days: float) -> None:
        self._proposals.depot_days = days

    @property
    def vehicle_kg_per_day(self) -> float:
        """What a block depot's vehicle is taken to carry a day (the twin keeps no vehicles)."""
        return self._proposals.vehicle_kg_per_day

    @vehicle_kg_per_day.setter
    def vehicle_kg_per_day(self, kg: float) -> None:
        self._proposals.vehicle_kg_per_day = kg

    async def _coordinates(self) -> tuple[np.ndarray, np.ndarray]:
        """The schools' positions, read once (schools do not move) and again when the directory grows."""
        if self._coords is None or self._coords[0].size < len(self._directory):
            self._coords = await self._locations()
        return self._coords

    async def run_scheduled(self) -> dict:
        """The state-wide run of the daily schedule, as the twin itself (`SCHEDULE`)."""
        return await self.run(SCHEDULE, Caller())

    async def run_on_risk(self, district: str, block: str) -> dict:
        """One block re-solved alone because the twin crossed a risk threshold in it, as the twin
        itself (`RISK`; see `serve_app.optimization.triggers`)."""
        return await self.run(RISK, Caller(), district, block)

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
        if self._audit is not None:  # the twin's own work comes from no address
            await self._audit(principal, caller or Caller(), action, target=target, district=district, **changes)

    async def _tell_status(self, rec_id: str) -> None:
        rec = await self._repo.get(rec_id)
        if rec is not None:
            await self._tell(rec["district"], {"event": "status", "id": rec_id, "status": rec["status"],
                                               "version": rec["version"], "block": rec["block"],
                                               "school_id": rec["school_id"], "reason": rec["reason"]})

    async def _tell(self, district: str, message: dict) -> None:
        await publish_news(self._broker, optimisation_topic(district), {"district": district, **message},
                           f"recommendations in {district}")

