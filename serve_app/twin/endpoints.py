"""The twin's own routes: ingest of event batches, a school's events, and the twin's reads (live,
as it was at a moment, and a school's daily history).

No `from __future__ import annotations` here: Serve pickles the routes into its replicas by value,
and string annotations such as "Request" would no longer resolve there."""

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request

from serve_app.auth.guard import authenticated, caller_of
from serve_app.auth.principal import Permission, Principal
from serve_app.auth.rate_limit import enforce
from serve_app.observability import Metrics
from serve_app.shared.access import allowed, block_in_area, district_in_area, school_in_area, state_in_area
from serve_app.shared.app_services import services_of
from serve_app.shared.envelope import Envelope, JSONResponse, ok
from serve_app.shared.examples import errors
from serve_app.shared.fields import UDISE_PATTERN
from serve_app.shared.paths import API
from serve_app.twin.schemas import (EVENTS_BODY_EXAMPLE, BlockTwin, DistrictTwin, EventsPage, IngestResult,
                                    SchoolHistory, SchoolTwin, StateTwin)

AsOf = Annotated[dt.datetime | None, Query(
    description="Answer with the twin as it was at this moment (ISO date-time; UTC if no zone is given): "
                "rebuilt from snapshots and the events received by then (without the live risk summary). "
                "Omit for the live twin.",
    examples=["2025-07-01T12:00:00Z"])]



def _services(request: Request):  # noqa: ANN202 - startup.services.Services
    return services_of(request)


def twin_router() -> APIRouter:
    """Ingest, a school's events, and the twin's reads: live, as it was (`as_of`), and a school's history."""
    r = APIRouter(dependencies=[Depends(authenticated)])

    @r.post(
        f"{API}/events", tags=["events"], summary="Ingest a batch of events",
        description="Each event is validated on its own: bad ones are rejected with the reason and good ones "
                    "are kept. An event is acknowledged once durable in the log; a repeated `event_id` is a "
                    "duplicate; a second attendance report for a (school, date) is a correction.",
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
            "schema": {"type": "object", "required": ["events"], "properties": {
                "events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}}}},
            "example": EVENTS_BODY_EXAMPLE}}}},
        response_model=Envelope[IngestResult], responses=errors(403, 413, 422, 503),
    )
    async def post_events(
        request: Request,
        results: Annotated[Literal["all", "problems"], Query(description="`problems`: list only events not plainly accepted")] = "all",
    ) -> JSONResponse:
        principal = allowed(request, Permission.EVENTS_WRITE)
        services = _services(request)
        await _throttle_ingest(services, principal)
        body = await request.body()
        out = await services.ingest.ingest(body, all_results=results == "all", principal=principal,
                                           caller=caller_of(request))
        timings = out.pop("timings_ms")
        metrics: Metrics = request.app.state.metrics
        metrics.count_ingest(out)
        if "apply" in timings and out["applied"]:
            metrics.apply_lag_seconds.observe(timings["apply"] / 1000)
        message = f"{out['accepted']} accepted, {out['corrections']} corrections, {out['duplicates']} duplicates, {out['rejected']} rejected"
        response = ok(out, message, status_code=200 if out["rejected"] < out["received"] else 422)
        response.headers["Server-Timing"] = ", ".join(f"{k};dur={v}" for k, v in timings.items())
        return response

    @r.get(f"{API}/events", tags=["events"], summary="A school's events, newest first",
           response_model=Envelope[EventsPage], responses=errors(404, 422, 503))
    async def list_events(
        request: Request,
        school_id: Annotated[str, Query(pattern=UDISE_PATTERN, examples=["33010100101"])],
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        before_seq: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    ) -> JSONResponse:
        school_in_area(request, school_id)
        return ok(await _services(request).history.events(school_id, limit, before_seq))

    @r.get(f"{API}/twin/schools/{{school_id}}", tags=["twin"], summary="A school's live twin, or as it was at `as_of`",
           response_model=Envelope[SchoolTwin], responses=errors(404, 422, 503))
    async def twin_school(request: Request, school_id: Annotated[str, Path(examples=["33010100101"])],
                          as_of: AsOf = None) -> JSONResponse:
        school_in_area(request, school_id)
        services = _services(request)
        if as_of is None:
            return ok(await services.reader.school(school_id))
        return ok(await services.time_travel.school(school_id, as_of))

    @r.get(f"{API}/twin/schools/{{school_id}}/history", tags=["twin"], summary="A school's daily history",
           description="Per day from `from` to `to` (at most 366 days): attendance as finally reported (late "
                       "reports and corrections count on the day they are for), and stock and funds balance at "
                       "the end of the day. Derived from the school's events in the log.",
           response_model=Envelope[SchoolHistory], responses=errors(404, 422, 503))
    async def twin_school_history(
        request: Request, school_id: Annotated[str, Path(examples=["33010100101"])],
        date_from: Annotated[dt.date, Query(alias="from", description="first day (YYYY-MM-DD)", examples=["2025-07-01"])],
        date_to: Annotated[dt.date, Query(alias="to", description="last day, included", examples=["2025-07-31"])],
    ) -> JSONResponse:
        school_in_area(request, school_id)
        return ok(await _services(request).history.history(school_id, date_from, date_to))

    @r.get(f"{API}/twin/blocks/{{name}}", tags=["twin"], summary="A block's live twin (roll-up of its schools)",
           response_model=Envelope[BlockTwin], responses=errors(404, 422, 503))
    async def twin_block(request: Request, name: str,
                         district: Annotated[str | None, Query(description="needed when the name is not unique")] = None,
                         as_of: AsOf = None) -> JSONResponse:
        principal, _ = block_in_area(request, name, district)
        district = district or principal.area.district
        services = _services(request)
        if as_of is None:
            return ok(await services.reader.block(name, district))
        return ok(await services.time_travel.block(name, district, as_of))

    @r.get(f"{API}/twin/districts/{{name}}", tags=["twin"], summary="A district's live twin",
           response_model=Envelope[DistrictTwin], responses=errors(404, 422, 503))
    async def twin_district(request: Request, name: str, as_of: AsOf = None) -> JSONResponse:
        district_in_area(allowed(request).area, name)
        services = _services(request)
        if as_of is None:
            return ok(await services.reader.district(name))
        return ok(await services.time_travel.district(name, as_of))

    @r.get(f"{API}/twin/state", tags=["twin"], summary="Tamil Nadu: state-wide totals and each district",
           response_model=Envelope[StateTwin], responses=errors(403, 404, 422, 503))
    async def twin_state(request: Request, as_of: AsOf = None) -> JSONResponse:
        state_in_area(allowed(request).area)
        services = _services(request)
        if as_of is None:
            return ok(await services.reader.state())
        return ok(await services.time_travel.state(as_of))

    return r


async def _throttle_ingest(services, principal: Principal) -> None:  # noqa: ANN001
    """Ingest has its own budget per key or user: devices report in bursts, and a runaway one must
    not crowd out the rest."""
    limit = services.settings.limits.ingest_per_minute
    await enforce(services.limiter, f"ingest:{principal.subject}", limit, 60, f"over {limit} event batches a minute")
