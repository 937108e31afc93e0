"""The FastAPI application: the edge and its middleware, the error envelope, health, and every
domain's routes (`serve_app/<domain>/endpoints.py`).

No `from __future__ import annotations` here: Serve pickles the routes into its replicas by value,
and string annotations such as "Request" would no longer resolve there."""

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import PlainTextResponse, Response

from configs import Settings
from serve_app.accounts.endpoints import (
    account_requests_router, api_keys_router, audit_router, auth_router, users_router,
)
from serve_app.alerts.endpoints import alerts_router
from serve_app.auth.edge import Edge
from serve_app.dashboard.endpoints import dashboard_router
from serve_app.dashboard.pages import mount_pages
from serve_app.finance.endpoints import finance_router
from serve_app.forecasts.endpoints import forecasts_router
from serve_app.observability import Metrics, RequestContext
from serve_app.optimization.endpoints import optimization_router
from serve_app.reports.endpoints import reports_router
from serve_app.risk.endpoints import risk_router
from serve_app.scenarios.endpoints import scenarios_router
from serve_app.schools.endpoints import school_directory_router, schools_router
from serve_app.shared.envelope import ErrorEnvelope, JSONResponse, error, install_error_handlers, ok
from serve_app.shared.examples import READY, envelope, errors
from serve_app.streams.endpoints import streams_router
from serve_app.streams.schemas import stream_schemas
from serve_app.twin.endpoints import twin_router
from twin.events import event_adapter


def create_api(open_services: Callable[[], Awaitable[Any]] | None = None, settings: Settings | None = None) -> FastAPI:
    """The app. Services (`startup.services.Services`) come from `open_services` at startup, or are set on `app.state.services`
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
                       expose_headers=["X-Request-ID", "Server-Timing", "Retry-After", "X-Levels-Version"])
    app.add_middleware(RequestContext, metrics=app.state.metrics)  # outermost: times everything
    install_error_handlers(app)
    app.include_router(_public_routes())
    app.include_router(twin_router())
    app.include_router(auth_router())
    app.include_router(users_router())
    app.include_router(account_requests_router())
    app.include_router(api_keys_router())
    app.include_router(audit_router())
    app.include_router(schools_router())
    app.include_router(school_directory_router())
    app.include_router(streams_router())
    app.include_router(risk_router())
    app.include_router(forecasts_router())
    app.include_router(alerts_router())
    app.include_router(scenarios_router())
    app.include_router(optimization_router())
    app.include_router(finance_router())
    app.include_router(reports_router())
    app.include_router(dashboard_router())
    mount_pages(app)  # the web application at `/`
    _publish_event_schema(app)
    return app


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


def _document_refusals(schema: dict) -> None:
    """Every signed-in route may answer 401, and every route past the edge 429 (rate limit) and
    503 (overload): say so once here rather than on each route. A request FastAPI finds invalid
    is answered in the error envelope (`install_error_handlers`), not in FastAPI's own shape."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("ErrorEnvelope", ErrorEnvelope.model_json_schema(ref_template="#/components/schemas/{model}"))
    refusals = {}
    for code, answer in errors(401, 422, 429, 503).items():  # as a route's own `responses=` come out, model as a $ref
        example = answer["content"]["application/json"]["example"]
        refusals[code] = {"description": answer["description"], "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/ErrorEnvelope"}, "example": example}}}
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            invalid = responses.get("422", {}).get("content", {}).get("application/json", {}).get("schema", {})
            if invalid.get("$ref", "").endswith("/HTTPValidationError"):  # FastAPI's shape; ours answers the envelope
                responses["422"] = refusals[422]
            if operation.get("security"):
                responses.setdefault("401", refusals[401])
            if not path.startswith(("/health", "/ready", "/metrics")):
                responses.setdefault("429", refusals[429])
                responses.setdefault("503", refusals[503])


def _publish_event_schema(app: FastAPI) -> None:
    """Publish the event union in the OpenAPI components (the body is parsed by hand, for speed),
    and the live streams' messages."""
    base = app.openapi

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        schema = base()
        event_schema = event_adapter.json_schema(ref_template="#/components/schemas/{model}")
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(event_schema.pop("$defs", {}))
        components["Event"] = event_schema
        components.update(stream_schemas())  # the WebSocket messages, which OpenAPI has no operation for
        _document_refusals(schema)
        return schema
    app.openapi = openapi  # type: ignore[method-assign]
