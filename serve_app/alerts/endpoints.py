"""The alerts API: list, read, mark read, unread counts, and subscriptions to deliveries.

Alerts are raised and resolved by the twin's rules (the risk desk in the state actor); through the
API they can only be read and marked read.

No `from __future__ import annotations`: this module defines routes (see `serve_app.app`)."""

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request

from serve_app.alerts.schemas import Alert, AlertPage, Category, NewSubscription, Severity, Subscription, UnreadCount
from serve_app.alerts.service import AlertService
from serve_app.auth.guard import authenticated
from serve_app.auth.principal import Permission
from serve_app.shared.access import allowed
from serve_app.shared.app_services import services_of
from serve_app.shared.envelope import Envelope, JSONResponse, ok
from serve_app.shared.examples import errors
from serve_app.shared.fields import UDISE_PATTERN
from serve_app.shared.paths import API
from serve_app.shared.page import PageNumber, PageSize


_District = Annotated[str | None, Query(description="district name", examples=["Ariyalur"])]
_Block = Annotated[str | None, Query(description="block name; with `district` when the name is not unique")]
_School = Annotated[str | None, Query(description="UDISE code", pattern=UDISE_PATTERN)]


def _service(request: Request) -> AlertService:
    return services_of(request).alerts


def alerts_router() -> APIRouter:
    r = APIRouter(prefix=f"{API}/alerts", tags=["alerts"], dependencies=[Depends(authenticated)])

    @r.get("", summary="List alerts, newest change first",
           description="Filtered by where (district, block, school), severity, category and read state; open "
                       "alerts only unless `status` says otherwise. `data.pagination` as for schools.",
           response_model=Envelope[AlertPage], responses=errors(404, 422))
    async def list_alerts(
        request: Request, district: _District = None, block: _Block = None, school_id: _School = None,
        severity: Severity | None = None, category: Category | None = None,
        is_read: Annotated[bool | None, Query(description="only read (true) or unread (false) alerts")] = None,
        status: Annotated[Literal["open", "resolved", "all"], Query()] = "open",
        page: PageNumber = 1, page_size: PageSize = 50,
    ) -> JSONResponse:
        service = _service(request)
        where = service.scope(district, block, school_id, allowed(request).area, severity=severity.value if severity else None,
                              category=category.value if category else None, is_read=is_read,
                              is_resolved=None if status == "all" else status == "resolved")
        data = await service.page(where, page, page_size)
        return ok(data, f"{data['pagination']['total']} alerts")

    @r.get("/unread-count", summary="Open alerts not yet read, by severity",
           response_model=Envelope[UnreadCount], responses=errors(404, 422))
    async def unread_count(request: Request, district: _District = None, block: _Block = None,
                           school_id: _School = None) -> JSONResponse:
        service = _service(request)
        return ok(await service.unread_count(service.scope(district, block, school_id, allowed(request).area)))

    @r.get("/{alert_id}", summary="One alert", response_model=Envelope[Alert], responses=errors(404, 422))
    async def get_alert(request: Request, alert_id: Annotated[int, Path(ge=1, le=2**62, examples=[41])]) -> JSONResponse:
        return ok(await _service(request).get(alert_id, allowed(request).area))

    @r.post("/mark-read/{alert_id}", summary="Mark an alert read", response_model=Envelope[Alert],
            responses=errors(403, 404, 422))
    async def mark_read(request: Request, alert_id: Annotated[int, Path(ge=1, le=2**62, examples=[41])]) -> JSONResponse:
        principal = allowed(request, Permission.ALERTS_MANAGE)
        return ok(await _service(request).mark_read(alert_id, principal.area), "marked read")

    @r.post("/subscribe", summary="Subscribe to alerts by email, webhook or SMS", status_code=201,
            description="New and escalated alerts matching the filters are delivered on the channel. Webhook "
                        "bodies are signed: header `X-Mealtwin-Signature`, HMAC-SHA256 with the subscription's "
                        "secret, which is never shown again.",
            response_model=Envelope[Subscription], responses=errors(403, 422))
    async def subscribe(request: Request, subscription: Annotated[NewSubscription, Body()]) -> JSONResponse:
        principal = allowed(request, Permission.ALERTS_MANAGE)
        return ok(await _service(request).subscribe(subscription, principal.area), "subscribed", status_code=201)

    return r
