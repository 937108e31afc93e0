"""Finance routes: a school's or an area's money for a financial year, the allocation (a dry run, or
recorded as events), and utilisation recorded through the ingest path.

No `from __future__ import annotations`: this module defines routes (see `serve_app.app`)."""

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response

from serve_app.auth.errors import Forbidden
from serve_app.auth.guard import authenticated, caller_of
from serve_app.auth.principal import Permission, Principal, Role
from serve_app.auth.rate_limit import enforce
from serve_app.finance.report import to_csv
from serve_app.finance.schemas import (
    AllocationPlan,
    AllocationRequest,
    AreaRef,
    BudgetForecast,
    Financial,
    FinancialReport,
    InstalmentRelease,
    InstalmentRequest,
    UtilisationBatch,
    UtilisationItem,
    UtilisationResult,
)
from serve_app.finance.service import FinanceService
from serve_app.observability import Metrics
from serve_app.shared.access import (
    allowed,
    block_in_area,
    district_in_area,
    school_in_area,
    state_in_area,
)
from serve_app.shared.app_services import services_of
from serve_app.shared.envelope import Envelope, JSONResponse, ok
from serve_app.shared.examples import errors
from serve_app.shared.page import PageNumber
from serve_app.shared.paths import API
from serve_app.shared.places import district_index
from twin.errors import InvalidInput

Year = Annotated[int | None, Query(
    ge=1900, le=2999, description="the financial year by the calendar year it starts in (2025 for 2025-26); "
                                  "default the year of the twin's current day", examples=[2025])]
From = Annotated[dt.date | None, Query(
    alias="from", description="first day of a range of dates (ISO, with `to`): released and utilised within it",
    examples=["2025-06-01"])]
To = Annotated[dt.date | None, Query(alias="to", description="last day of the range (inclusive), in the same financial year",
                                     examples=["2025-06-30"])]
_READ_DESCRIPTION = (
    "Allocated: the year's entitlement by the cost norms, from each school's enrolment by band and the year's school "
    "days (Centre/State shares, by component). Released, utilised (meal cost the twin accrues from attendance by the "
    "norms, plus recorded utilisation) and balance come from the twin's state: the twin keeps them as running totals, "
    "not by financial year. The release rules' flags: the burn (meal cost per school day over the last 20 school "
    "days of the twin's daily record), when 75% of the releases will be utilised and when the balance runs out within "
    "the year, and whether the next 25% instalment would be allowed. With `from` and `to` (ISO dates, both ends "
    "inclusive, within one financial year and the norms table), released, utilised and the offices' accounts are "
    "what moved in that range, folded from the event log as the shards fold it.")


def _service(request: Request) -> FinanceService:
    return services_of(request).finance


def _area_of(request: Request, area: str | None) -> tuple[int | None, int | None, int | None]:
    """(district, block, school) global indices of the asked area (None: not narrowed), checked
    against the caller's area; the caller's own area when none is asked."""
    principal = allowed(request)
    if area is None:
        own = principal.area
        if own.school_id is not None:
            school_in_area(request, own.school_id)
            i = services_of(request).directory.index(own.school_id)
            return district_index(own.district), None, i  # type: ignore[arg-type]
        if own.block is not None:
            _, b = block_in_area(request, own.block, own.district)
            return district_index(own.district), b, None  # type: ignore[arg-type]
        return (None if own.district is None else district_index(own.district)), None, None
    kind, _, rest = area.strip().partition(":")
    if kind == "state" and not rest:
        state_in_area(principal.area)
        return None, None, None
    if kind == "district" and rest:
        return district_in_area(principal.area, rest), None, None
    if kind == "block" and "/" in rest:
        district, block = rest.split("/", 1)
        _, b = block_in_area(request, block, district)
        return district_index(district), b, None
    message = "area must be state, district:<name> or block:<district>/<block>"
    raise InvalidInput(message, {"fields": [{"field": "area", "message": message}]})


def _allocator(request: Request) -> Principal:
    """The caller, if one who allocates and releases: a state admin or a district officer."""
    principal = allowed(request)
    if principal.role not in (Role.STATE_ADMIN, Role.DISTRICT_OFFICER):
        raise Forbidden(f"allocations and releases are made by state admins and district officers, not a "
                        f"{principal.role}", {"needs": "state_admin or district_officer"})
    return principal


def _allocation_area(request: Request, area: AreaRef) -> tuple[int | None, int | None]:
    """(district, block) global indices of an allocation's or release's area, checked against the
    caller's (None: the state, or the whole district)."""
    if area.block is not None:
        if area.district is None:
            raise InvalidInput("a block is named within its district: give area.district too",
                               {"fields": [{"field": "area.district", "message": "needed with area.block"}]})
        _, b = block_in_area(request, area.block, area.district)
        return district_index(area.district), b
    if area.district is not None:
        return district_in_area(allowed(request).area, area.district), None
    state_in_area(allowed(request).area)
    return None, None


def finance_router() -> APIRouter:
    r = APIRouter(prefix=f"{API}/financial", tags=["finance"], dependencies=[Depends(authenticated)])

    @r.get("/schools/{school_id}", summary="A school's money for a financial year",
           description=_READ_DESCRIPTION, response_model=Envelope[Financial], responses=errors(404, 422, 503))
    async def school(request: Request, school_id: Annotated[str, Path(examples=["33010100101"])],
                     year: Year = None, first: From = None, last: To = None) -> JSONResponse:
        school_in_area(request, school_id)
        return ok(await _service(request).school(school_id, year, first, last))

    @r.get("/blocks/{name}", summary="A block's money for a financial year (its schools, and its office)",
           description=_READ_DESCRIPTION, response_model=Envelope[Financial], responses=errors(404, 422, 503))
    async def block(request: Request, name: Annotated[str, Path(examples=["Sendurai"])],
                    district: Annotated[str | None, Query(description="needed when the name is not unique")] = None,
                    year: Year = None, first: From = None, last: To = None) -> JSONResponse:
        _, b = block_in_area(request, name, district)
        return ok(await _service(request).block(b, year, first, last))

    @r.get("/districts/{name}", summary="A district's money for a financial year",
           description=_READ_DESCRIPTION, response_model=Envelope[Financial], responses=errors(404, 422, 503))
    async def district(request: Request, name: Annotated[str, Path(examples=["Ariyalur"])],
                       year: Year = None, first: From = None, last: To = None) -> JSONResponse:
        d = district_in_area(allowed(request).area, name)
        return ok(await _service(request).district(d, year, first, last))

    @r.get("/state", summary="Tamil Nadu's money for a financial year (state admins)",
           description=_READ_DESCRIPTION, response_model=Envelope[Financial], responses=errors(403, 422, 503))
    async def state(request: Request, year: Year = None, first: From = None, last: To = None) -> JSONResponse:
        state_in_area(allowed(request).area)
        return ok(await _service(request).state(year, first, last))

    @r.post("/allocate", summary="The year's allocation: each school's entitlement and the totals; recorded on commit",
            description="The entitlement of every school of the state, a district or a block for the financial year, "
                        "by the class-banded cost norms (`norms`, the default) or the original flat Rs 1,496 per "
                        "enrolled child (`legacy_flat`): per school (a page of them) and totals by component and by "
                        "payer over all of them. A dry run by default; with `commit=true` it is recorded as "
                        "`funds_allocated` events, one per school and year (a repeated commit records nothing new; "
                        "the reads' `allocated` then shows it), and with `first_instalment=true` also the year's "
                        "first instalment, 25% of each school's allocation, as `funds_released` events from the "
                        "state to the district, the block and the school. State admins for the state; district "
                        "officers within their district.",
            response_model=Envelope[AllocationPlan], responses=errors(403, 404, 422, 503))
    async def allocate(request: Request, body: AllocationRequest,
                       page: PageNumber = 1,
                       page_size: Annotated[int, Query(ge=1, le=1000)] = 100) -> JSONResponse:
        principal = _allocator(request)
        if body.first_instalment and not body.commit:
            message = "the first instalment is released only with commit=true"
            raise InvalidInput(message, {"fields": [{"field": "first_instalment", "message": message}]})
        d, b = _allocation_area(request, body.area)
        plan = await _service(request).allocate(body.year, d, b, body.policy, page, page_size, body.commit,
                                                body.first_instalment, principal, caller_of(request))
        totals = plan["totals"]
        if plan["recorded"] is None:
            return ok(plan, f"dry run: {totals['schools']} schools, Rs {totals['total_inr']:,.2f}")
        done = plan["recorded"]["allocations"]
        return ok(plan, f"recorded: {done['accepted'] + done['corrections']} allocations, {done['duplicates']} already "
                        f"recorded, {done['rejected']} rejected")

    @r.post("/release", summary="Release the year's next instalment to an area's schools, under the release rules",
            description="Instalment 2, 3 or 4 of the financial year: 25% of each school's recorded allocation, as "
                        "`funds_released` events from the state to the district, the block and the school (the "
                        "first goes with the allocation's commit). Before anything is recorded the area as one must "
                        "keep the release rules on the year's money (folded from the log): at most 25% of the "
                        "year's allocation an instalment and not past it, at least 75% of the earlier releases "
                        "utilised, the State's part released with the Centre's in proportion; and the previous "
                        "instalment must have reached every allocated school. A refusal is 409 naming the rules "
                        "broken (`error.details.rules`). A repeat of a released instalment records nothing new. "
                        "Audited through the ingest path. State admins for the state; district officers within "
                        "their district.",
            response_model=Envelope[InstalmentRelease], responses=errors(403, 404, 409, 422, 503))
    async def release(request: Request, body: InstalmentRequest) -> JSONResponse:
        principal = _allocator(request)
        d, b = _allocation_area(request, body.area)
        out = await _service(request).release_instalment(body.year, body.instalment, d, b, principal,
                                                         caller_of(request))
        done = out["recorded"]
        return ok(out, f"instalment {out['instalment']}: {done['accepted']} releases recorded "
                       f"(Rs {done['amount_inr']:,.2f}), {done['duplicates']} already recorded")

    @r.get("/reports", summary="The year's financial summary by district, block and school (JSON or CSV)",
           description="Every district, block and school of the area with the year's recorded allocation (and the "
                       "norms' entitlement), released, utilised (meal cost and other), balance, the shares, and a "
                       "district's or block's own office account; each level adds up to the totals. `area`: "
                       "`state`, `district:<name>` or `block:<district>/<block>` (default the caller's own area; a "
                       "school admin's is the school). `format=csv` answers `text/csv` with a header row. With `from` and `to` (as "
                       "for the reads), released, utilised and the offices' accounts are the range's.",
           response_model=Envelope[FinancialReport], responses=errors(403, 404, 422, 503))
    async def report(request: Request, year: Year = None,
                     area: Annotated[str | None, Query(max_length=200, examples=["district:Ariyalur"])] = None,
                     format: Annotated[Literal["json", "csv"], Query()] = "json",
                     first: From = None, last: To = None) -> Response:
        d, b, school = _area_of(request, area)
        out = await _service(request).report(year, d, b, school, first, last)
        if format == "csv":
            name = "-".join(p.replace(" ", "_") for p in ("finance", out["year_label"], out["area"]["district"],
                                                             out["area"]["block"]) if p)
            return Response(to_csv(out["rows"]), media_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
        return ok(out, f"{out['year_label']}: {len(out['rows'])} rows")

    @r.get("/forecast", summary="The next quarters' cost of an area, by component and payer, with P10-P90",
           description="From the served meal-demand forecaster's next 7 school days for the area, last year's seasonal "
                       "ratio in the history store, the school calendar and the cost norms; with the backtest of the "
                       "latest quarter of the history store against the naive 'same quarter last year'. `area` as "
                       "for the reports. 503 until a forecaster is trained and the history store exists.",
           response_model=Envelope[BudgetForecast], responses=errors(403, 404, 422, 503))
    async def forecast(request: Request,
                       area: Annotated[str | None, Query(max_length=200, examples=["district:Ariyalur"])] = None,
                       quarters: Annotated[int, Query(ge=1, le=8, description="quarters ahead")] = 4) -> JSONResponse:
        d, b, school = _area_of(request, area)
        if school is not None:
            raise Forbidden("the budget forecast is for areas: a block, a district or the state",
                            {"needs": "an area officer"})
        out = await _service(request).forecast(d, b, quarters)
        return ok(out, f"{len(out['quarters'])} quarters from {out['origin']}")

    @r.put("/update-utilization", summary="Record spending by schools (funds_utilised events)",
           description="One item or a batch (`items`), each a school's spending beyond the meal cost the twin "
                       "accrues itself. The items go through the event ingest path as `funds_utilised` events: each "
                       "is validated on its own (a bad one is rejected with its reason, the good ones are kept), a "
                       "repeated `event_id` is recorded once, and the money moved is written to the audit log. "
                       "Spending more than the school's balance is recorded, not refused (the money is spent), and "
                       "flagged: the item's `warning` and the batch's `overspent`.",
           response_model=Envelope[UtilisationResult], responses=errors(403, 413, 422, 503))
    async def update_utilisation(
        request: Request,
        body: Annotated[UtilisationBatch | UtilisationItem, Body(description="one item, or `items`")],
    ) -> JSONResponse:
        principal = allowed(request, Permission.EVENTS_WRITE)
        services = services_of(request)
        limit = services.settings.limits.ingest_per_minute
        await enforce(services.limiter, f"ingest:{principal.subject}", limit, 60,
                      f"over {limit} event batches a minute")
        items = body.items if isinstance(body, UtilisationBatch) else [body]
        out = await _service(request).record_utilisation(items, principal, caller_of(request))
        out.pop("timings_ms", None)
        metrics: Metrics = request.app.state.metrics
        metrics.count_ingest(out)
        message = f"{out['accepted']} recorded (Rs {out['recorded_inr']:,.2f}), {out['duplicates']} duplicates, " \
                  f"{out['rejected']} rejected" + (f", {out['overspent']} over the balance" if out["overspent"] else "")
        return ok(out, message, status_code=200 if out["rejected"] < out["received"] else 422)

    return r

