"""Money of the noon-meal programme as the API reads it: a school's or an area's allocation for a
financial year, its releases, utilisation and balance, and the release rules' flags; the
allocation's dry run; utilisation recorded through the ingest path.

Every figure comes from the twin's state (the shards' funds columns and daily report record) and the
cost norms (`twin.finance`, `twin.release_rules`); nothing is kept here but a cache of entitlements
(computed from enrolment and the norms: not a ledger). How each is computed:
- allocated: the year's `funds_allocated` events as the shards folded them (one per school and
  year), summed over the area's schools: recorded by `POST /financial/allocate` with `commit=true`;
- entitlement: `twin.finance.financial_year_entitlement` of each school's enrolment by band (as the
  twin holds it now) over the year's school days (`twin.calendar`), summed over the area's schools:
  what an allocation by the norms would be, computed, not recorded;
- released: what reached the area's schools (`funds_released` events naming a school);
- utilised: the meal cost the twin accrues from attendance reports by the norms, plus `funds_utilised`;
- balance: released - utilised; an area office's own account (received, passed down) is apart;
- burn: the meal cost of the last `BURN_WINDOW_SCHOOL_DAYS` school days, rebuilt from the twin's
  daily report record (meals by band x the cost norm of their day) by
  `twin.release_rules.burn_rate_inr_per_school_day`; other utilisation has no daily record in the
  twin and is left out of the burn;
- projection: `project_balance` at that burn over the school days left in the financial year;
- next instalment: `check_release` on 25% of the year's recorded allocation, Centre and State in
  proportion (not allowed while none is recorded).
The twin keeps funds as running totals from the start of its log, not by financial year: released
and utilised are those totals whatever `year` is asked (the answer's `basis` says so). With a range
of dates (`from`, `to`), released and utilised (and the offices' received and passed down) are what
moved in the range, folded from the log by the shard's kernel (`twin.funds_range`); the release
rules stay those of the running totals, since they are about the next release.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import hashlib
import uuid
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import orjson

from serve_app.finance.allocation import (
    allocation_events,
    instalment_events,
    instalment_school_id,
)
from serve_app.finance.period import Period, check_period, with_range_funds
from serve_app.finance.report import summary_rows
from serve_app.shared.page import offset, pagination
from twin import calendar, finance, geography
from twin.errors import Conflict, InvalidInput, NotFound, Unavailable
from twin.funds_columns import FundsColumns
from twin.norms import BANDS, day_date
from twin.release_rules import (
    BURN_WINDOW_SCHOOL_DAYS,
    MAX_INSTALMENT_SHARE,
    MIN_UTILISED_SHARE,
    NEVER,
    REFUSAL_TEXT,
    burn_rate_inr_per_school_day,
    check_release,
    day_index_dates,
    project_balance,
)
from twin.state import (
    FUNDS_RELEASED,
    HISTORY_DAYS,
    MEAL_COST,
    NO_DAY,
    OTHER_UTILISED,
    RECEIVED,
)

if TYPE_CHECKING:
    from actors.router import ShardRouter
    from serve_app.auth.principal import Caller, Principal
    from serve_app.finance.forecast import BudgetForecaster
    from serve_app.finance.schemas import UtilisationItem
    from twin.directory import Directory

OVERSPENT = "more than the balance: recorded, and the school is overspent"
ENTITLEMENTS_KEPT = 64  # (year, enrolment) entitlements a service keeps
MAX_DATED_SCHOOL_DAYS = 2_500  # about ten years of school days: marks further away are counted, not dated
COMMIT_BATCH = 10_000  # events a commit sends to the ingest path at once (its limit is larger)
NO_ALLOCATION = "no allocation is recorded for the year: commit one with POST /financial/allocate"
FORECAST_METHOD = (
    "meals per school day of each quarter = the served meal-demand forecaster's next 7 school days for the area "
    "(P10, P50, P90, the sum of the schools') x last year's ratio of that quarter's meals per school day to those of "
    "the 7 school days after the same date (the history store); x the quarter's school days by the calendar; split "
    "into bands by enrolment and costed at the norm in force each day; honorarium by calendar day for the cooks the "
    "enrolment needs; MME its share. Backtest: the latest quarter of the history store held out, forecast from the "
    "day before it, against the naive forecast 'the same quarter last year' (its actual cost); WAPE over the area's "
    "blocks (districts for the state)")
BASIS = ("released and utilised are the twin's running totals since its event log began (it does not split "
         "them by financial year); allocated is the asked year's")
RANGE_BASIS = ("released and utilised (and an office's received and passed down) are what moved from {first} to "
               "{last}, folded from the event log as the shards fold it; allocated is the financial year's; the "
               "release rules are those of the running totals")


class Ingest(Protocol):
    """The ingest path (`serve_app.twin.ingest.IngestService`): validation, idempotency by event id,
    per-event results and the funds audit entry are its own."""

    async def ingest(self, body: bytes, all_results: bool = True, principal: Principal | None = None,
                     caller: Caller | None = None) -> dict: ...


class HeldEvents(Protocol):
    """Which event ids the log holds (`db.event_log.SqlEventLog`): what makes a release idempotent."""

    async def held(self, event_ids: Sequence[str]) -> set[str]: ...


class FinanceService:
    def __init__(self, directory: Directory, router: ShardRouter, ingest: Ingest,
                 norms: finance.FinanceNorms | None = None, budget: BudgetForecaster | None = None,
                 log: HeldEvents | None = None) -> None:
        self._directory = directory
        self._router = router
        self._ingest = ingest
        self._log = log
        self._norms = norms
        self._budget = budget
        self._entitlements: dict[tuple, finance.Entitlement] = {}

    @property
    def budget(self) -> BudgetForecaster | None:
        return self._budget

    @property
    def norms(self) -> finance.FinanceNorms:
        return self._norms or finance.load_finance_norms()

    # -- reads ------------------------------------------------------------------------------------
    async def school(self, school_id: str, year: int | None = None, first: dt.date | None = None,
                     last: dt.date | None = None) -> dict:
        period = check_period(first, last, year, self.norms)
        i = self._directory.index(school_id) if school_id.isdigit() else -1
        if i < 0:
            raise NotFound(f"no school {school_id}", {"school_id": school_id})
        d, b = int(self._directory.school_district[i]), int(self._directory.school_block[i])
        today, fy, schools = await self._columns(year, d, b, i, period)
        if not len(schools):  # deactivated
            raise NotFound(f"no school {school_id}", {"school_id": school_id})
        ranged = await self._in_range(schools, period, [d], school_id)
        out = await asyncio.to_thread(self._figures, ranged, fy, today, None, "school", period, schools)
        return {"level": "school", "district": geography.district_names()[d], "block": self._directory.blocks.names[b],
                "school_id": school_id, **out}

    async def block(self, b: int, year: int | None = None, first: dt.date | None = None,
                    last: dt.date | None = None) -> dict:
        """Block number `b` (global; the caller has checked the area)."""
        period = check_period(first, last, year, self.norms)
        d = int(self._directory.blocks.district[b])
        today, fy, schools = await self._columns(year, d, b, None, period)
        ranged = await self._in_range(schools, period, [d])
        at = np.flatnonzero(ranged.block_global == b)
        received, passed = (float(x) for x in ranged.block_funds[at[0]]) if len(at) else (0.0, 0.0)
        out = await asyncio.to_thread(self._figures, ranged, fy, today, (received, passed), "block", period, schools)
        return {"level": "block", "district": geography.district_names()[d], "block": self._directory.blocks.names[b],
                "school_id": None, **out}

    async def district(self, d: int, year: int | None = None, first: dt.date | None = None,
                       last: dt.date | None = None) -> dict:
        period = check_period(first, last, year, self.norms)
        today, fy, schools = await self._columns(year, d, None, None, period)
        ranged = await self._in_range(schools, period, [d])
        at = np.flatnonzero(ranged.district_global == d)
        received, passed = (float(x) for x in ranged.district_funds[at[0]]) if len(at) else (0.0, 0.0)
        out = await asyncio.to_thread(self._figures, ranged, fy, today, (received, passed), "district", period,
                                      schools)
        return {"level": "district", "district": geography.district_names()[d], "block": None, "school_id": None,
                **out}

    async def state(self, year: int | None = None, first: dt.date | None = None,
                    last: dt.date | None = None) -> dict:
        period = check_period(first, last, year, self.norms)
        today, fy, schools = await self._columns(year, None, None, None, period)
        ranged = await self._in_range(schools, period, self._districts_of(schools))
        passed = float(ranged.district_funds[:, RECEIVED].sum())
        out = await asyncio.to_thread(self._figures, ranged, fy, today, (None, passed), "state", period, schools)
        return {"level": "state", "district": None, "block": None, "school_id": None, **out}

    # -- the year's report ------------------------------------------------------------------------
    async def report(self, year: int | None, district: int | None, block: int | None,
                     school: int | None = None, first: dt.date | None = None, last: dt.date | None = None) -> dict:
        """The year's summary of the state, a district, a block or a school (global indices; the
        caller has checked the area) by district, block and school (`serve_app.finance.report`);
        with a range of dates, what moved in it."""
        period = check_period(first, last, year, self.norms)
        today, fy, schools = await self._columns(year, district, block, school, period)
        one = None if school is None else f"{int(self._directory.school_ids[school]):011d}"
        schools = await self._in_range(schools, period, [district] if district is not None
                                       else self._districts_of(schools), one)
        names, blocks = geography.district_names(), self._directory.blocks.names

        def compute() -> dict:
            ent = finance.financial_year_entitlement(schools.enrolment, fy, _year_school_days(fy), norms=self.norms)
            rows = summary_rows(schools, ent.total_inr, blocks)
            top = [r for r in rows if r["level"] == "district"]
            keys = ("schools", "enrolment", "allocated_inr", "allocated_centre_inr", "allocated_state_inr",
                    "entitlement_inr", "released_inr", "meal_cost_inr", "other_utilised_inr", "utilised_inr",
                    "balance_inr")
            totals = {k: (int if k in ("schools", "enrolment") else _r)(sum(r[k] for r in top)) for k in keys}
            return {"year": fy, "year_label": _label(fy), "as_of": _as_of(today).isoformat(),
                    "area": {"district": None if district is None else names[district],
                             "block": None if block is None else blocks[block]},
                    "totals": totals, "rows": rows, "period": None if period is None else period.as_dict(),
                    "basis": BASIS if period is None else RANGE_BASIS.format(first=period.first, last=period.last)}

        return await asyncio.to_thread(compute)

    # -- the budget forecast ----------------------------------------------------------------------
    async def forecast(self, district: int | None, block: int | None, quarters: int) -> dict:
        """The next `quarters` quarters' cost of the state, a district or a block (global indices;
        the caller has checked the area), and the backtest of a held-out quarter
        (`serve_app.finance.forecast`)."""
        if self._budget is None:
            raise Unavailable("the budget forecast is not set up on this twin")
        today = await self._today()
        origin = _as_of(today)
        schools = await self._router.funds_columns(finance.financial_year(origin), district, block)
        if not len(schools):
            raise NotFound("no active school in the area", {"area": {"district": district, "block": block}})
        index = self._directory.lookup(schools.ids)
        out = await self._budget.forecast(index, schools.block, schools.enrolment, origin, quarters, self.norms)
        names, blocks = geography.district_names(), self._directory.blocks.names
        out["area"] = {"district": None if district is None else names[district],
                       "block": None if block is None else blocks[block]}
        out["backtest"] = await self._budget.backtest(schools.block, schools.district, schools.enrolment, self.norms)
        out["method"] = FORECAST_METHOD
        return out

    # -- the allocation: a dry run, or recorded as events ------------------------------------------
    async def allocate(self, year: int, district: int | None, block: int | None, policy: str,
                       page: int, page_size: int, commit: bool = False, first_instalment: bool = False,
                       principal: Principal | None = None, caller: Caller | None = None) -> dict:
        """The entitlement of every active school of the state, a district or a block (global
        indices; the caller has checked the area) for financial year `year`, by `policy`. With
        `commit`, recorded through the ingest path as `funds_allocated` events (and the first
        instalment as `funds_released`, with `first_instalment`): see `serve_app.finance.allocation`."""
        self._check_year(year)
        schools = await self._router.funds_columns(year, district, block)
        norms = self.norms
        names, blocks = geography.district_names(), self._directory.blocks.names

        def compute() -> tuple[dict, FundsColumns, finance.Entitlement]:
            ordered = schools.take(np.argsort(schools.ids, kind="stable"))
            ent = finance.financial_year_entitlement(ordered.enrolment, year, _year_school_days(year),
                                                     policy=policy, norms=norms)
            first = offset(page, page_size)
            table = [{
                "school_id": f"{int(ordered.ids[i]):011d}", "district": names[int(ordered.district[i])],
                "block": blocks[int(ordered.block[i])], "enrolment": _bands(ordered.enrolment[i], int),
                "material_inr": _bands(ent.material_inr[i]), "honorarium_inr": _r(ent.honorarium_inr[i]),
                "mme_inr": _r(ent.mme_inr[i]), "total_inr": _r(ent.total_inr[i]), "centre_inr": _r(ent.centre_inr[i]),
                "state_inr": _r(ent.state_inr[i]), "grain_kg": _bands(ent.grain_kg[i]),
            } for i in range(first, min(first + page_size, len(ordered)))]
            plan = {
                "year": year, "year_label": _label(year), "policy": policy, "norms_version": norms.version,
                "area": {"district": None if district is None else names[district],
                         "block": None if block is None else blocks[block]},
                "school_days": int(_year_school_days(year).sum()), "dry_run": not commit,
                "totals": {"schools": len(ordered), "enrolment": _bands(ordered.enrolment.sum(axis=0), int),
                           "total_inr": _r(ent.total_inr.sum()), "centre_inr": _r(ent.centre_inr.sum()),
                           "state_inr": _r(ent.state_inr.sum()), "by_component": _components(ent),
                           "grain_kg": _bands(ent.grain_kg.sum(axis=0))},
                "rows": table, "pagination": pagination(page, page_size, len(ordered)), "recorded": None,
            }
            return plan, ordered, ent

        plan, ordered, ent = await asyncio.to_thread(compute)
        if commit:
            today = await self._today()
            made = await asyncio.to_thread(allocation_events, ordered, ent, year, policy, norms.version,
                                           _release_day(year, today), blocks, first_instalment)
            plan["recorded"] = {"allocations": await self._record(made.allocations, principal, caller),
                                "first_instalment": await self._record(made.releases, principal, caller)
                                if first_instalment else None}
        return plan

    async def entitlement_columns(self, year: int, district: int | None, block: int | None,
                                  policy: str = "norms") -> tuple[np.ndarray, finance.Entitlement]:
        """What `allocate`'s dry run lists, as arrays: the UDISE codes of the area's active schools
        in ascending order and their entitlement for `year` in that order (global indices; the
        caller has checked the area). A report of the whole state reads these columns rather
        than a row dict a school."""
        self._check_year(year)
        schools = await self._router.funds_columns(year, district, block)
        norms = self.norms

        def compute() -> tuple[np.ndarray, finance.Entitlement]:
            ordered = schools.take(np.argsort(schools.ids, kind="stable"))
            return ordered.ids, finance.financial_year_entitlement(ordered.enrolment, year, _year_school_days(year),
                                                                   policy=policy, norms=norms)

        return await asyncio.to_thread(compute)

    # -- a later instalment, released under the rules -------------------------------------------------
    async def release_instalment(self, year: int, number: int, district: int | None, block: int | None,
                                 principal: Principal | None = None, caller: Caller | None = None) -> dict:
        """Instalment `number` (2 or later) of `year` to the state's, a district's or a block's
        schools (global indices; the caller has checked the area), down the chain as the first
        instalment goes: 25% of each school's recorded allocation. Before anything is recorded
        the area, as one, must keep the release rules on the year's money (released to its schools
        and utilised within the financial year, folded from the log): at most 25% of the year's
        allocation an instalment, not past the allocation, at least 75% of the earlier releases
        utilised, the State's part in proportion with the Centre's; and the previous instalment
        must have reached every allocated school. Refused (Conflict) naming the rules broken.
        Idempotent: once any of the instalment's school events is in the log the instalment has
        been decided, and a repeat records only what is missing, without checking again."""
        self._check_year(year)
        if self._log is None:
            raise Unavailable("releasing an instalment needs the event log, which this service is not given")
        today, schools = await asyncio.gather(self._today(), self._router.funds_columns(year, district, block))
        ordered = schools.take(np.argsort(schools.ids, kind="stable"))
        alloc_c, alloc_s = ordered.allocation[:, 0], ordered.allocation[:, 1]
        allocated = alloc_c + alloc_s
        if not np.any(allocated > 0):
            raise Conflict(NO_ALLOCATION, {"rules": [{"rule": "no_allocation", "message": NO_ALLOCATION}]})
        events = instalment_events(ordered, allocated, year, number, _release_day(year, today),
                                   self._directory.blocks.names)
        ids = [f"{int(x):011d}" for x in ordered.ids[allocated > 0]]
        this = [instalment_school_id(year, number, s) for s in ids]
        earlier = [instalment_school_id(year, number - 1, s) for s in ids]
        held = await self._log.held(this + earlier)
        check = None
        if not held.intersection(this):
            missing = [s for s, e in zip(ids, earlier) if e not in held]
            if missing:
                message = (f"instalment {number - 1} has not reached {len(missing)} of the area's {len(ids)} "
                           f"allocated schools: instalments are released in order")
                raise Conflict(message, {"rules": [{"rule": "instalments_in_order", "message": message}],
                                         "schools": missing[:100]})
            first, last = finance.financial_year_bounds(year)
            year_money = await self._in_range(ordered, Period(first, last), self._districts_of(ordered))
            check = _instalment_check(ordered, year_money, events)
            if not check["allowed"]:
                rules = check["refusals"]
                raise Conflict(f"instalment {number} refused: " + "; ".join(r["message"] for r in rules),
                               {"rules": rules, "check": check})
        names = geography.district_names()
        return {"year": year, "year_label": _label(year), "instalment": number,
                "area": {"district": None if district is None else names[district],
                         "block": None if block is None else self._directory.blocks.names[block]},
                "schools": len(ids), "decided_before": check is None, "check": check,
                "recorded": await self._record(events, principal, caller)}

    async def _record(self, events: list[dict], principal: Principal | None, caller: Caller | None) -> dict:
        """`events` through the ingest path in batches of `COMMIT_BATCH`, in order; the counts."""
        totals = {"events": len(events), "accepted": 0, "corrections": 0, "duplicates": 0, "rejected": 0,
                  "applied": True, "amount_inr": 0.0, "errors": []}
        for start in range(0, len(events), COMMIT_BATCH):
            part = events[start:start + COMMIT_BATCH]
            out = await self._ingest.ingest(orjson.dumps({"events": part}), all_results=True, principal=principal,
                                            caller=caller)
            for key in ("accepted", "corrections", "duplicates", "rejected"):
                totals[key] += out[key]
            totals["applied"] &= bool(out["applied"])
            for event, result in zip(part, out["results"]):
                if result["status"] in ("accepted", "correction"):
                    totals["amount_inr"] += float(event.get("amount_inr") or event["centre_inr"] + event["state_inr"])
                elif result["status"] == "rejected" and len(totals["errors"]) < 100:
                    totals["errors"].append({"event_id": event["event_id"], **(result.get("error") or {})})
        totals["amount_inr"] = _r(totals["amount_inr"])
        return totals

    # -- recording utilisation --------------------------------------------------------------------
    async def record_utilisation(self, items: Sequence[UtilisationItem], principal: Principal,
                                 caller: Caller | None) -> dict:
        """`funds_utilised` events built from `items`, through the ingest path as one batch: an item
        it rejects is reported with the reason and the others are recorded. An item without a date
        is for the twin's current day; one without an event id gets a made-up one. Spending more
        than the school's balance is recorded, not refused (the money is spent: refusing it would
        hide the overspend), and flagged: the item's `warning`, the batch's `overspent`."""
        today = await self._today()
        default_date = (day_date(today) if today != NO_DAY else dt.datetime.now(dt.UTC).date()).isoformat()
        events = []
        for item in items:
            given = item.model_dump(exclude_unset=True)
            event: dict[str, Any] = {"type": "funds_utilised",
                                     "event_id": given.pop("event_id", None) or f"util-{uuid.uuid4().hex}",
                                     "date": given.pop("date", None) or default_date}
            event.update({k: v for k, v in given.items() if not (k == "purpose" and v is None)})
            events.append(event)
        balance = await self._balances([e.get("school_id") for e in events], today)
        out = await self._ingest.ingest(orjson.dumps({"events": events}), all_results=True, principal=principal,
                                        caller=caller)
        results, recorded, overspent = [], 0.0, 0
        for i, (event, result) in enumerate(zip(events, out["results"])):
            school = event.get("school_id")
            warning = None
            if result["status"] in ("accepted", "correction"):
                amount = float(event["amount_inr"])
                recorded += amount
                if school in balance:
                    before = balance[school]
                    balance[school] = before - amount  # the batch's later items see this one spent
                    if amount > before + 0.005:
                        overspent += 1
                        warning = (f"{OVERSPENT}: the school's balance was Rs {before:,.2f} and is now "
                                   f"Rs {before - amount:,.2f}")
            results.append({"index": i, "school_id": school if isinstance(school, str) else None,
                            "event_id": str(event["event_id"]), "status": result["status"],
                            "seq": result.get("seq"), "error": result.get("error"), "warning": warning})
        return {"received": out["received"], "accepted": out["accepted"] + out["corrections"],
                "duplicates": out["duplicates"], "rejected": out["rejected"], "applied": out["applied"],
                "recorded_inr": _r(recorded), "overspent": overspent, "results": results,
                "timings_ms": out.get("timings_ms", {})}

    async def _balances(self, school_ids: list, today: int) -> dict[str, float]:
        """The balance (released - utilised) of each known school named, from its shard."""
        named = sorted({x for x in school_ids if isinstance(x, str) and x.isdigit()})
        index = {s: i for s, i in zip(named, self._directory.indices(named).tolist()) if i >= 0}
        districts = sorted({int(self._directory.school_district[i]) for i in index.values()})
        fy = finance.financial_year(_as_of(today))
        parts = await asyncio.gather(*(self._router.funds_columns(fy, d) for d in districts))
        out = {}
        for part in parts:
            wanted = np.isin(part.ids, [int(s) for s in index])
            funds = part.funds[wanted]
            for school, f in zip(part.ids[wanted].tolist(), funds):
                out[f"{school:011d}"] = float(f[FUNDS_RELEASED] - f[MEAL_COST] - f[OTHER_UTILISED])
        return out

    # -- parts ------------------------------------------------------------------------------------
    async def _columns(self, year: int | None, district: int | None = None, block: int | None = None,
                       school: int | None = None, period: Period | None = None) -> tuple[int, int, FundsColumns]:
        """The twin's day, the financial year (`year`, or the range's, or the twin's day's) and the
        area's money columns; the two reads at once when the year is known."""
        if year is None and period is not None:
            year = period.year
        if year is None:
            today = await self._today()
            fy = self._year(None, today)
            return today, fy, await self._router.funds_columns(fy, district, block, school)
        self._check_year(year)
        today, schools = await asyncio.gather(self._today(), self._router.funds_columns(year, district, block, school))
        return today, year, schools

    async def _in_range(self, schools: FundsColumns, period: Period | None, districts: list[int],
                        school_id: str | None = None) -> FundsColumns:
        """`schools` as they are without a range; else with what moved in it, folded from the log
        of `districts` by the shards that host them (of the one school's events when `school_id`
        is given)."""
        if period is None or not districts:
            return schools
        moved = await self._router.funds_in_range(districts, period.first, period.last, school_id)
        return with_range_funds(schools, moved)

    @staticmethod
    def _districts_of(schools: FundsColumns) -> list[int]:
        return sorted({int(x) for x in schools.district_global.tolist()} | {int(x) for x in schools.district.tolist()})

    def _entitlement(self, enrolment: np.ndarray, fy: int) -> tuple[finance.Entitlement, dict]:
        """The year's entitlement of `enrolment` by the norms, and the answer's summary of it; the
        last few kept, since enrolment changes seldom and a state-wide read would otherwise spend
        most of its time here."""
        key = (fy, enrolment.shape, hashlib.blake2b(np.ascontiguousarray(enrolment).data, digest_size=16).digest())
        hit = self._entitlements.get(key)
        if hit is None:
            ent = finance.financial_year_entitlement(enrolment, fy, _year_school_days(fy), norms=self.norms)
            summary = {"policy": "norms", "norms_version": self.norms.version,
                       "school_days": int(_year_school_days(fy).sum()), "total_inr": _r(ent.total_inr.sum()),
                       "centre_inr": _r(ent.centre_inr.sum()), "state_inr": _r(ent.state_inr.sum()),
                       "by_component": _components(ent), "grain_kg": _bands(ent.grain_kg.sum(axis=0))}
            if len(self._entitlements) >= ENTITLEMENTS_KEPT:
                self._entitlements.pop(next(iter(self._entitlements)))
            hit = self._entitlements[key] = (ent, summary)
        return hit

    async def _today(self) -> int:
        """The twin's day (days since the epoch; NO_DAY before any report)."""
        return await self._router.twin_day()

    def _year(self, year: int | None, today: int) -> int:
        fy = finance.financial_year(_as_of(today)) if year is None else year
        self._check_year(fy)
        return fy

    def _check_year(self, fy: int) -> None:
        first = self.norms.effective_from[0]
        if finance.financial_year_bounds(fy)[0] < first:
            message = f"no cost norms for {_label(fy)}: the norms table starts on {first.isoformat()}"
            raise InvalidInput(message, {"fields": [{"field": "year", "message": message}]})

    def _figures(self, schools: FundsColumns, fy: int, today: int, office: tuple[float | None, float] | None,
                 level: str, period: Period | None = None, running: FundsColumns | None = None) -> dict:
        """The answer's figures for `schools` as one area (runs in a worker thread); with a range,
        `schools` hold what moved in it and `running` the running totals the release rules read."""
        ent, entitlement = self._entitlement(schools.enrolment, fy)
        released = float(schools.funds[:, FUNDS_RELEASED].sum())
        meal, other = float(schools.funds[:, MEAL_COST].sum()), float(schools.funds[:, OTHER_UTILISED].sum())
        utilised = meal + other
        alloc_c, alloc_s = (float(x) for x in schools.allocation.sum(axis=0))
        allocated = alloc_c + alloc_s
        as_of = _as_of(today)
        return {
            "year": fy, "year_label": _label(fy), "as_of": as_of.isoformat(), "schools": len(schools),
            "enrolment": int(schools.enrolment.sum()),
            "allocated": {"total_inr": _r(allocated), "centre_inr": _r(alloc_c), "state_inr": _r(alloc_s),
                          "schools_allocated": int((schools.allocation.sum(axis=1) > 0).sum())},
            "entitlement": copy.deepcopy(entitlement),
            "released_inr": _r(released),
            "utilised": {"meal_cost_inr": _r(meal), "other_utilised_inr": _r(other), "total_inr": _r(utilised)},
            "balance_inr": _r(released - utilised),
            "released_share_of_allocation": round(released / allocated, 4) if allocated > 0 else None,
            "utilisation_efficiency": round(utilised / released, 4) if released > 0 else None,
            "office": None if office is None else {
                "received_inr": None if office[0] is None else _r(office[0]), "passed_down_inr": _r(office[1]),
                "held_inr": None if office[0] is None else _r(office[0] - office[1])},
            "release_rules": _release_rules(schools, (alloc_c, alloc_s), fy, today, as_of, *_totals(running or schools)),
            "parts": self._parts(schools, ent.total_inr, level),
            "period": None if period is None else period.as_dict(),
            "basis": BASIS if period is None else RANGE_BASIS.format(first=period.first, last=period.last),
        }

    def _parts(self, schools: FundsColumns, entitled: np.ndarray, level: str) -> list[dict]:
        if level == "school":
            return []
        key = {"block": schools.ids, "district": schools.block, "state": schools.district}[level]
        groups, group = np.unique(key, return_inverse=True)
        released = np.bincount(group, schools.funds[:, FUNDS_RELEASED], len(groups))
        utilised = np.bincount(group, schools.funds[:, MEAL_COST] + schools.funds[:, OTHER_UTILISED], len(groups))
        counts = np.bincount(group, minlength=len(groups))
        alloc = np.bincount(group, schools.allocation.sum(axis=1), len(groups))
        entitled = np.bincount(group, entitled, len(groups))
        names = {"block": lambda g: f"{int(g):011d}", "district": lambda g: self._directory.blocks.names[int(g)],
                 "state": lambda g: geography.district_names()[int(g)]}[level]
        return [{"name": names(g), "schools": int(counts[k]), "allocated_inr": _r(alloc[k]),
                 "entitlement_inr": _r(entitled[k]), "released_inr": _r(released[k]), "utilised_inr": _r(utilised[k]),
                 "balance_inr": _r(released[k] - utilised[k])} for k, g in enumerate(groups)]


def _release_rules(schools: FundsColumns, allocation: tuple[float, float], fy: int, today: int, as_of: dt.date,
                   released: float, utilised: float) -> dict:
    # the burn: meal cost by day over the twin's record ending on its day, per school day of the window
    if today == NO_DAY:
        burn, counted = 0.0, 0
    else:
        days = [day_date(d) for d in range(today - HISTORY_DAYS + 1, today + 1)]
        school_day = np.array([calendar.is_school_day(d) for d in days], bool)
        burn = float(burn_rate_inr_per_school_day(schools.spent_by_day[None, :], school_day)[0])
        counted = int(min(school_day.sum(), BURN_WINDOW_SCHOOL_DAYS))
    method = (f"meal cost of the last {counted} school days (of a window of {BURN_WINDOW_SCHOOL_DAYS}) ending on "
              f"the twin's day, from its daily report record (meals by band x the cost norm of their day; any day's "
              f"meals from the window's first school day on count), over those school days; other utilisation has no "
              f"daily record in the twin and is left out of the burn") if counted else \
        "no school day in the twin's daily report record yet: the burn is 0"
    first, last = finance.financial_year_bounds(fy)
    horizon = _school_days_after(max(as_of, first - dt.timedelta(days=1)), last)
    p = project_balance(np.array([released]), np.array([utilised]), np.array([burn]), horizon)
    marks = np.array([p.days_to_utilisation_rule[0], p.days_to_exhaustion[0], p.flag_day[0]], np.int64)
    # a mark years away (a trickle of spending against a large balance) gets its count but no date:
    # walking the calendar to it would pass the last date there is
    dated = (marks != NEVER) & (marks <= MAX_DATED_SCHOOL_DAYS)
    dates = day_index_dates(np.where(dated, marks, NEVER), as_of)

    def day(k: int) -> str | None:
        return str(dates[k]) if dated[k] else None

    # the next standard instalment: 25% of the year's recorded allocation, the payers in proportion
    alloc_c, alloc_s = allocation
    prop_c, prop_s = MAX_INSTALMENT_SHARE * alloc_c, MAX_INSTALMENT_SHARE * alloc_s
    check = check_release(np.array([alloc_c]), np.array([alloc_s]), np.array([released]), np.array([utilised]),
                          np.array([prop_c]), np.array([prop_s]))
    reasons = check.reasons(0) if alloc_c + alloc_s > 0 else [NO_ALLOCATION]
    return {
        "burn": {"inr_per_school_day": _r(burn), "window_school_days": BURN_WINDOW_SCHOOL_DAYS,
                 "school_days_counted": counted, "method": method},
        "projection": {"horizon_school_days": horizon,
                       "days_to_utilisation_rule": None if marks[0] == NEVER else int(marks[0]),
                       "utilisation_rule_date": day(0),
                       "days_to_exhaustion": None if marks[1] == NEVER else int(marks[1]), "exhaustion_date": day(1),
                       "misses_utilisation_rule": bool(p.misses_utilisation_rule[0]),
                       "exhausts_balance": bool(p.exhausts_balance[0]), "flag_date": day(2)},
        "next_instalment": {"centre_inr": _r(prop_c), "state_inr": _r(prop_s), "total_inr": _r(prop_c + prop_s),
                            "allowed": bool(check.allowed[0]) and alloc_c + alloc_s > 0, "reasons": reasons},
    }


def _instalment_check(schools: FundsColumns, year_money: FundsColumns, events: list[dict]) -> dict:
    """The release rules on the area as one: the year's allocation by payer, the year's releases
    to its schools and their utilisation, and the proposed instalment (its school legs) split
    between the payers as each school's allocation is."""
    alloc_c, alloc_s = (float(x) for x in schools.allocation.sum(axis=0))
    released, utilised = _totals(year_money)
    to_school = {e["school_id"]: e["amount_inr"] for e in events if e.get("school_id")}
    amounts = np.array([to_school.get(f"{int(x):011d}", 0.0) for x in schools.ids])
    allocated = schools.allocation.sum(axis=1)
    state_part = np.divide(schools.allocation[:, 1], allocated, out=np.zeros_like(allocated), where=allocated > 0)
    prop_s = float((amounts * state_part).sum())
    prop_c = float(amounts.sum()) - prop_s
    # each school's leg is rounded to the paisa: the area's sum may be that far from an exact 25%
    verdict = check_release(np.array([alloc_c]), np.array([alloc_s]), np.array([released]), np.array([utilised]),
                            np.array([prop_c]), np.array([prop_s]), tolerance_inr=1.0 + 0.01 * len(schools))
    flags = int(verdict.refusals[0])
    return {"allocated_centre_inr": _r(alloc_c), "allocated_state_inr": _r(alloc_s), "released_inr": _r(released),
            "utilised_inr": _r(utilised), "utilised_share": round(utilised / released, 4) if released > 0 else None,
            "needed_utilised_share": MIN_UTILISED_SHARE, "proposed_centre_inr": _r(prop_c),
            "proposed_state_inr": _r(prop_s), "allowed": bool(verdict.allowed[0]),
            "refusals": [{"rule": flag.name.lower(), "message": text}
                         for flag, text in REFUSAL_TEXT.items() if flags & flag]}


def _totals(schools: FundsColumns) -> tuple[float, float]:
    """Released and utilised (meal cost and other) of `schools`."""
    return (float(schools.funds[:, FUNDS_RELEASED].sum()),
            float(schools.funds[:, MEAL_COST].sum() + schools.funds[:, OTHER_UTILISED].sum()))


@cache
def _school_days_after(day: dt.date, last: dt.date) -> int:
    """School days after `day` up to `last` (0 once `day` is past it)."""
    return 0 if day >= last else int(finance.school_days(day + dt.timedelta(days=1), last).sum())


@cache
def _year_school_days(fy: int) -> np.ndarray:
    first, last = finance.financial_year_bounds(fy)
    days = finance.school_days(first, last)
    days.flags.writeable = False
    return days


def _release_day(year: int, today: int) -> dt.date:
    """The date a release for financial year `year` is recorded on: the twin's day, kept inside
    the year, so that a year's releases are dated in it (a read by dates counts them there) even
    when an earlier year's are made late or a coming year's early."""
    first, last = finance.financial_year_bounds(year)
    return min(max(_as_of(today), first), last)


def _as_of(today: int) -> dt.date:
    return day_date(today) if today != NO_DAY else dt.datetime.now(dt.UTC).date()


def _label(fy: int) -> str:
    return f"{fy}-{(fy + 1) % 100:02d}"


def _r(x: float) -> float:
    return round(float(x), 2)


def _bands(values: np.ndarray, kind: type = float) -> dict:
    return {band: (round(float(v)) if kind is int else _r(v)) for band, v in zip(BANDS, values)}


def _components(ent: finance.Entitlement) -> dict:
    return {"material_inr": _bands(ent.material_inr.sum(axis=0)), "material_total_inr": _r(ent.material_inr.sum()),
            "honorarium_inr": _r(ent.honorarium_inr.sum()), "mme_inr": _r(ent.mme_inr.sum())}
