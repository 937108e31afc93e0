"""The twin's own routes: ingest of event batches, a school's events, and the twin's reads (live,
as it was at a moment, and a school's daily history).

No `from __future__ import annotations` here: Serve pickles the routes into its replicas by value,
and string annotations such as "Request" would no longer resolve there."""

import datetime as dt
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request

from serve_app.auth.guard import authenticated, caller_of
from serve_app.auth.principal import Permission, Principal
from serve_app.auth.rate_limit import enforce
from serve_app.observability import Metrics
from serve_app.shared.access import allowed, block_in_area, district_in_area, school_in_area, state_in_area
from serve_app.shared.app_services import services_of
from serve_app.shared.envelope import JSONResponse, ok
from serve_app.shared.examples import AREA_TWIN, INGEST_RESULT, SCHOOL_TWIN, envelope
from serve_app.shared.paths import API

_EVENTS_EXAMPLE = {
    "events": [
        {"type": "attendance_reported", "event_id": "cg-33010100101-2025-07-01", "date": "2025-07-01",
         "school_id": "33010100101", "present": 84, "meals_served": {"primary": 60, "upper_primary": 22}},
        {"type": "stock_delivered", "event_id": "dl-778", "date": "2025-07-01", "school_id": "33010100101",
         "rice_kg": 250, "pulses_kg": 50, "oil_kg": 12, "eggs": 600},
    ]
}

_HISTORY_EXAMPLE = {
    "success": True, "message": "OK", "timestamp": "2025-07-03T09:00:00.000000Z",
    "data": {"school_id": "33010100101", "district": "Ariyalur", "block": "Andimadam", "from": "2025-07-01",
             "to": "2025-07-01", "days": [{
                 "date": "2025-07-01", "day_kind": "school_day", "reported": True, "present": 84,
                 "meals_served": {"primary": 60, "upper_primary": 22, "secondary": 0}, "no_meal_reason": None,
                 "stock_kg": {"rice": 241.7, "pulses": 48.14, "oil": 11.54}, "stock_eggs": 518,
                 "stock_book_balance": {"rice_kg": 241.7, "pulses_kg": 48.14, "oil_kg": 11.54, "eggs": 518},
                 "funds_balance_inr": -630.54}]},
}
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
            "example": _EVENTS_EXAMPLE}}}},
        responses=envelope(INGEST_RESULT, 422, 503, message="1 accepted, 1 corrections, 0 duplicates, 1 rejected"),
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
           responses=envelope({"events": [{"seq": 2918, "received_at": "2025-06-04T10:15:02Z", **_EVENTS_EXAMPLE["events"][0]}],
                               "next_before_seq": None}, 404, 422))
    async def list_events(
        request: Request,
        school_id: Annotated[str, Query(pattern=r"^\d{11}$", examples=["33010100101"])],
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        before_seq: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    ) -> JSONResponse:
        school_in_area(request, school_id)
        services = _services(request)
        rows = await services.event_log.for_school(school_id, limit, before_seq)
        data = [{"seq": row["seq"], "received_at": row["received_at"], **orjson.loads(row["payload"])} for row in rows]
        return ok({"events": data, "next_before_seq": data[-1]["seq"] if len(data) == limit else None})

    @r.get(f"{API}/twin/schools/{{school_id}}", tags=["twin"], summary="A school's live twin, or as it was at `as_of`",
           responses=envelope(SCHOOL_TWIN, 404, 422))
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
           responses={200: {"content": {"application/json": {"example": _HISTORY_EXAMPLE}}}})
    async def twin_school_history(
        request: Request, school_id: Annotated[str, Path(examples=["33010100101"])],
        date_from: Annotated[dt.date, Query(alias="from", description="first day (YYYY-MM-DD)", examples=["2025-07-01"])],
        date_to: Annotated[dt.date, Query(alias="to", description="last day, included", examples=["2025-07-31"])],
    ) -> JSONResponse:
        school_in_area(request, school_id)
        return ok(await _services(request).history.history(school_id, date_from, date_to))

    @r.get(f"{API}/twin/blocks/{{name}}", tags=["twin"], summary="A block's live twin (roll-up of its schools)",
           responses=envelope({**AREA_TWIN, "name": "Ariyalur"}, 404, 422))
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
           responses=envelope(AREA_TWIN, 404, 422))
    async def twin_district(request: Request, name: str, as_of: AsOf = None) -> JSONResponse:
        district_in_area(allowed(request).area, name)
        services = _services(request)
        if as_of is None:
            return ok(await services.reader.district(name))
        return ok(await services.time_travel.district(name, as_of))

    @r.get(f"{API}/twin/state", tags=["twin"], summary="Tamil Nadu: state-wide totals and each district",
           responses=envelope({**{k: v for k, v in AREA_TWIN.items() if k != "district"}, "today": "2025-06-04",
                               "districts": [{"district": "Ariyalur", "schools": 6, "meals_today": 348, "stale": 1,
                                              "stock_days": 32.8}]}, 422))
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
