"""The FastAPI application: routes of the twin core (ingest, twin reads, health).

No `from __future__ import annotations` here: Serve pickles the routes into its replicas by value,
and string annotations such as "Request" would no longer resolve there."""

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import PlainTextResponse, Response

from configs import Settings
from serve_app.access import allowed, block_in_area, district_in_area, school_in_area, state_in_area
from serve_app.accounts_api import api_keys_router, audit_router, auth_router, users_router
from serve_app.alerts import alerts_router
from serve_app.app_services import services_of
from serve_app.auth.accounts import Caller
from serve_app.auth.edge import Edge
from serve_app.auth.guard import authenticated, caller_of
from serve_app.auth.principal import Permission, Principal
from serve_app.auth.rate_limit import enforce
from serve_app.envelope import JSONResponse, error, install_error_handlers, ok
from serve_app.examples import AREA_TWIN, INGEST_RESULT, READY, SCHOOL_TWIN, envelope
from serve_app.forecasts import forecasts_router
from serve_app.observability import Metrics, RequestContext
from serve_app.risk import risk_router
from serve_app.scenarios import scenarios_router
from serve_app.schools import schools_router
from serve_app.services import Services
from serve_app.streams import streams_router
from twin.events import event_adapter

API = "/api/v1"

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


def create_api(open_services: Callable[[], Awaitable[Services]] | None = None, settings: Settings | None = None) -> FastAPI:
    """The app. Services come from `open_services` at startup, or are set on `app.state.services`
    by the host (the Serve deployment opens them in its constructor). `settings` gives the edge's
    limits and CORS origins."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        opened = None
        if open_services is not None and getattr(app.state, "services", None) is None:
            opened = app.state.services = await open_services()
        yield
        if opened is not None:
            await opened.close()

    app = FastAPI(title="mealtwin", version="0.1.0", lifespan=lifespan, docs_url="/api/docs", redoc_url="/api/redoc",
                  openapi_url="/api/openapi.json", default_response_class=JSONResponse,
                  description="A live digital twin of Tamil Nadu's school noon-meal programme.")
    app.state.metrics = Metrics()
    app.add_middleware(GZipMiddleware, minimum_size=2048)
    app.add_middleware(Edge, limits=settings.limits, production=settings.environment == "production")
    # outside the edge, so a browser can read even a 429 or a 413
    app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["*"],
                       allow_headers=["Authorization", "Content-Type", "X-API-Key", "X-Request-ID"],
                       expose_headers=["X-Request-ID", "Server-Timing", "Retry-After"])
    app.add_middleware(RequestContext, metrics=app.state.metrics)  # outermost: times everything
    install_error_handlers(app)
    app.include_router(_public_routes())
    app.include_router(_routes())
    app.include_router(auth_router())
    app.include_router(users_router())
    app.include_router(api_keys_router())
    app.include_router(audit_router())
    app.include_router(schools_router())
    app.include_router(streams_router())
    app.include_router(risk_router())
    app.include_router(forecasts_router())
    app.include_router(alerts_router())
    app.include_router(scenarios_router())
    _publish_event_schema(app)
    return app


def _services(request: Request) -> Services:
    return services_of(request)


def _public_routes() -> APIRouter:
    """Health and metrics: for load balancers and Prometheus, no sign-in (they hold no school data)."""
    r = APIRouter()

    @r.get("/health", tags=["health"], summary="Liveness: the API process answers",
           responses=envelope({"status": "alive"}))
    async def health() -> JSONResponse:
        return ok({"status": "alive"})

    @r.get("/ready", tags=["health"], summary="Readiness: database, Redis when configured, every shard",
           responses=envelope(READY, 503, message="ready"))
    async def ready(request: Request) -> JSONResponse:
        services = getattr(request.app.state, "services", None)
        if services is None:
            return error(503, "SERVICE_UNAVAILABLE", "starting")
        checks = await services.readiness()
        if not checks["ready"]:
            return error(503, "SERVICE_UNAVAILABLE", "not ready", checks)
        return ok(checks, "ready")

    @r.get("/metrics", tags=["health"], summary="Prometheus metrics of this API replica",
           response_class=PlainTextResponse)
    async def metrics(request: Request) -> Response:
        metrics: Metrics = request.app.state.metrics
        services = getattr(request.app.state, "services", None)
        if services is not None:
            hub = getattr(services, "hub", None)
            if hub is not None:
                metrics.websocket_clients.set(hub.connected_clients())
            if services.shard_restarts is not None:
                try:
                    restarts = await asyncio.wait_for(services.shard_restarts(), 2.0)
                except Exception:  # noqa: BLE001 - metrics answer even when the state actor does not
                    restarts = {}
                for shard, count in restarts.items():
                    metrics.shard_restarts.labels(str(shard)).set(count)
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    return r


def _routes() -> APIRouter:
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
        out = await services.ingest.ingest(body, all_results=results == "all", area=principal.area)
        timings = out.pop("timings_ms")
        await _audit_funds(services, principal, caller_of(request), out.pop("fund_events"))
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


async def _throttle_ingest(services: Services, principal: Principal) -> None:
    """Ingest has its own budget per key or user: devices report in bursts, and a runaway one must
    not crowd out the rest."""
    limit = services.settings.limits.ingest_per_minute
    await enforce(services.limiter, f"ingest:{principal.subject}", limit, 60, f"over {limit} event batches a minute")


async def _audit_funds(services: Services, principal: Principal, caller: Caller, events: list) -> None:
    """Money moved: one audit entry per batch, naming every fund event in it."""
    if not events:
        return
    after = {"events": [{"event_id": e.event_id, "type": e.type, "amount_inr": float(e.amount_inr),
                         "school_id": e.school_id, "district": getattr(e, "district", None),
                         "block": getattr(e, "block", None)} for e in events[:1000]],
             "count": len(events), "total_inr": round(sum(float(e.amount_inr) for e in events), 2)}
    await services.accounts.record(principal, caller, "funds.events", district=principal.area.district, after=after)


def _document_refusals(schema: dict) -> None:
    """Every signed-in route may answer 401, and every route past the edge 429: say so once here
    rather than on each route."""
    refusals = envelope(None, 401, 429)
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            if operation.get("security"):
                responses.setdefault("401", refusals[401])
            if not path.startswith(("/health", "/ready", "/metrics")):
                responses.setdefault("429", refusals[429])


def _publish_event_schema(app: FastAPI) -> None:
    """Publish the event union in the OpenAPI components (the body is parsed by hand, for speed)."""
    base = app.openapi

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        schema = base()
        event_schema = event_adapter.json_schema(ref_template="#/components/schemas/{model}")
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(event_schema.pop("$defs", {}))
        components["Event"] = event_schema
        _document_refusals(schema)
        return schema
    app.openapi = openapi  # type: ignore[method-assign]
