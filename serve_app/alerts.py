"""The alerts API: list, read, mark read, unread counts, and subscriptions to deliveries.

Alerts are raised and resolved by the twin's rules (the risk desk in the state actor); through the
API they can only be read and marked read.

No `from __future__ import annotations`: this module defines routes (see `serve_app.api`)."""

import math
from enum import StrEnum
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from pydantic import BaseModel, Field, field_validator

from db.alert_repository import AlertRepository, AlertScope
from serve_app.access import alert_in_area, allowed
from serve_app.app_services import services_of
from serve_app.auth.guard import authenticated
from serve_app.delivery.target_guard import refused_by_name
from serve_app.auth.principal import Permission
from serve_app.envelope import JSONResponse, ok
from serve_app.examples import envelope
from serve_app.twin_reader import block_index, district_index
from twin import geography
from twin.alert_rules import CATEGORIES, SEVERITIES
from twin.area import STATE, Area
from twin.directory import Directory
from twin.errors import InvalidInput, NotFound

API = "/api/v1"

Severity = StrEnum("Severity", {s: s for s in SEVERITIES})
Category = StrEnum("Category", {c: c for c in CATEGORIES})


class Filters(BaseModel):
    """Which alerts a subscription delivers; every field left out matches all."""

    severity_at_least: Severity = Severity.high
    categories: list[Category] | None = None
    districts: list[str] | None = None

    @field_validator("districts")
    @classmethod
    def _known(cls, names: list[str] | None) -> list[str] | None:
        if names is None:
            return None
        unknown = [n for n in names if n not in geography.district_names()]
        if unknown:
            raise ValueError(f"unknown districts {unknown}")
        return names


class Subscription(BaseModel):
    owner: str = Field(min_length=3, max_length=200, description="who subscribes (an officer's email or name)")
    channel: Literal["email", "webhook", "sms"]
    target: str = Field(min_length=3, max_length=500, description="email address, https URL or phone number (+91...)")
    secret: str | None = Field(default=None, min_length=16, max_length=200,
                               description="webhooks: the key the body's HMAC-SHA256 signature is made with")
    filters: Filters = Filters()

    @field_validator("target")
    @classmethod
    def _target_fits_channel(cls, target: str, info) -> str:  # noqa: ANN001
        channel = info.data.get("channel")
        checks = {"email": ("@" in target and " " not in target, "an email address"),
                  "webhook": (target.startswith(("https://", "http://")), "an http(s) URL"),
                  "sms": (target.startswith("+") and target[1:].isdigit() and 8 <= len(target) <= 16,
                          "a phone number in international form, e.g. +919876543210")}
        if channel in checks and not checks[channel][0]:
            raise ValueError(f"a {channel} target must be {checks[channel][1]}")
        return target


class AlertService:
    def __init__(self, repo: AlertRepository, directory: Directory, private_targets: bool = False) -> None:
        self._repo = repo
        self._directory = directory
        self._private_targets = private_targets  # webhooks to the twin's own network (see target_guard)

    async def page(self, where: AlertScope, page: int, page_size: int) -> dict:
        rows, total = await self._repo.page(where, (page - 1) * page_size, page_size)
        return {"alerts": rows, "pagination": {"page": page, "page_size": page_size, "total": total,
                                               "pages": math.ceil(total / page_size)}}

    async def get(self, alert_id: int, area: Area = STATE) -> dict:
        found = await self._repo.get(alert_id)
        if found is None or not alert_in_area(area, self._directory, found):
            raise NotFound(f"no alert {alert_id}", {"alert_id": alert_id})
        return found

    async def mark_read(self, alert_id: int, area: Area = STATE) -> dict:
        await self.get(alert_id, area)
        return await self._repo.mark_read(alert_id)

    async def unread_count(self, where: AlertScope) -> dict:
        return await self._repo.unread_count(where)

    async def subscribe(self, sub: Subscription, area: Area = STATE) -> dict:
        if sub.channel == "webhook" and not sub.secret:
            raise InvalidInput("a webhook subscription needs a `secret` (16+ characters) to sign its bodies",
                               {"fields": [{"field": "secret", "message": "required for webhooks"}]})
        if sub.channel == "webhook" and not self._private_targets and (reason := refused_by_name(sub.target)):
            raise InvalidInput(f"this webhook target is not allowed: {reason}",
                               {"fields": [{"field": "target", "message": reason}]})
        filters = sub.filters.model_dump(mode="json") | {
            "within_district": area.district, "within_block": area.block, "within_school": area.school_id}
        return await self._repo.subscribe(sub.owner, sub.channel, sub.target, sub.secret, filters)

    def scope(self, district: str | None, block: str | None, school_id: str | None, area: Area = STATE,
              **filters) -> AlertScope:  # noqa: ANN003
        """Filters, with names checked against the directory (unknown ones answer 404)."""
        if district is not None:
            district = geography.district_names()[district_index(district)]
        if block is not None:
            block = self._directory.blocks.names[block_index(self._directory, block, district)]
        if school_id is not None:
            i = self._directory.index(school_id)
            if i < 0 or not area.covers_index(self._directory, i):
                raise NotFound(f"no school {school_id}", {"school_id": school_id})
        return AlertScope(district=district, block=block, school_id=school_id, area=area, **filters)


_ALERT = {
    "id": 41, "subject": "school:33010100101", "school_id": "33010100101", "district": "Ariyalur", "block": "Sendurai",
    "alert_type": "stock_low", "category": "stock", "severity": "high", "title": "Rice running out at school 33010100101",
    "message": "Rice left for 2.4 school days.", "details": {"stock_days": 2.4, "risk_score": 41.0, "risk_level": "medium"},
    "is_read": False, "is_resolved": False, "created_at": "2025-06-04T10:15:02Z", "updated_at": "2025-06-04T10:15:02Z",
    "resolved_at": None,
}
_SUBSCRIPTION = {"id": 3, "owner": "beo.sendurai@example.org", "channel": "webhook",
                 "target": "https://example.org/mealtwin-hook",
                 "filters": {"severity_at_least": "high", "categories": None, "districts": ["Ariyalur"]},
                 "active": True, "created_at": "2025-06-04T10:15:02Z"}
_Page = Annotated[int, Query(ge=1, le=1_000_000)]
_PageSize = Annotated[int, Query(ge=1, le=200)]
_District = Annotated[str | None, Query(description="district name", examples=["Ariyalur"])]
_Block = Annotated[str | None, Query(description="block name; with `district` when the name is not unique")]
_School = Annotated[str | None, Query(description="UDISE code", pattern=r"^\d{11}$")]


def _service(request: Request) -> AlertService:
    return services_of(request).alerts


def alerts_router() -> APIRouter:
    r = APIRouter(prefix=f"{API}/alerts", tags=["alerts"], dependencies=[Depends(authenticated)])

    @r.get("", summary="List alerts, newest change first",
           description="Filtered by where (district, block, school), severity, category and read state; open "
                       "alerts only unless `status` says otherwise. `data.pagination` as for schools.",
           responses=envelope({"alerts": [_ALERT], "pagination": {"page": 1, "page_size": 50, "total": 1, "pages": 1}},
                              404, 422, message="1 alerts"))
    async def list_alerts(
        request: Request, district: _District = None, block: _Block = None, school_id: _School = None,
        severity: Severity | None = None, category: Category | None = None,
        is_read: Annotated[bool | None, Query(description="only read (true) or unread (false) alerts")] = None,
        status: Annotated[Literal["open", "resolved", "all"], Query()] = "open",
        page: _Page = 1, page_size: _PageSize = 50,
    ) -> JSONResponse:
        service = _service(request)
        where = service.scope(district, block, school_id, allowed(request).area, severity=severity.value if severity else None,
                              category=category.value if category else None, is_read=is_read,
                              is_resolved=None if status == "all" else status == "resolved")
        data = await service.page(where, page, page_size)
        return ok(data, f"{data['pagination']['total']} alerts")

    @r.get("/unread-count", summary="Open alerts not yet read, by severity",
           responses=envelope({"total": 3, "by_severity": {"high": 2, "medium": 1}}, 404, 422))
    async def unread_count(request: Request, district: _District = None, block: _Block = None,
                           school_id: _School = None) -> JSONResponse:
        service = _service(request)
        return ok(await service.unread_count(service.scope(district, block, school_id, allowed(request).area)))

    @r.get("/{alert_id}", summary="One alert", responses=envelope(_ALERT, 404, 422))
    async def get_alert(request: Request, alert_id: Annotated[int, Path(ge=1, le=2**62, examples=[41])]) -> JSONResponse:
        return ok(await _service(request).get(alert_id, allowed(request).area))

    @r.post("/mark-read/{alert_id}", summary="Mark an alert read", responses=envelope({**_ALERT, "is_read": True}, 404, 422))
    async def mark_read(request: Request, alert_id: Annotated[int, Path(ge=1, le=2**62, examples=[41])]) -> JSONResponse:
        principal = allowed(request, Permission.ALERTS_MANAGE)
        return ok(await _service(request).mark_read(alert_id, principal.area), "marked read")

    @r.post("/subscribe", summary="Subscribe to alerts by email, webhook or SMS", status_code=201,
            description="New and escalated alerts matching the filters are delivered on the channel. Webhook "
                        "bodies are signed: header `X-Mealtwin-Signature`, HMAC-SHA256 with the subscription's "
                        "secret, which is never shown again.",
            responses=envelope(_SUBSCRIPTION, 422, status=201, message="subscribed"))
    async def subscribe(request: Request, subscription: Annotated[Subscription, Body(examples=[{
            "owner": "beo.sendurai@example.org", "channel": "webhook", "target": "https://example.org/mealtwin-hook",
            "secret": "a-long-shared-secret-0001", "filters": {"severity_at_least": "high", "districts": ["Ariyalur"]}}])]
    ) -> JSONResponse:
        principal = allowed(request, Permission.ALERTS_MANAGE)
        return ok(await _service(request).subscribe(subscription, principal.area), "subscribed", status_code=201)

    return r
