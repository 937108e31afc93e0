"""The alerts domain's request and response shapes: alerts and their pages, unread counts,
subscriptions and their filters. The examples the API's documentation shows are the fields' own."""

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from serve_app.shared.fields import Timestamp, UdiseCode
from serve_app.shared.page import Pagination
from twin import geography
from twin.alert_rules import BLOCK_CAUSE, CATEGORIES, CAUSES, SEVERITIES

Severity = StrEnum("Severity", {s: s for s in SEVERITIES})
Category = StrEnum("Category", {c: c for c in CATEGORIES})
AlertType = StrEnum("AlertType", {c: c for c in (*CAUSES, BLOCK_CAUSE)})


class Filters(BaseModel):
    """Which alerts a subscription delivers; every field left out matches all."""

    severity_at_least: Severity = Severity.high
    categories: list[Category] | None = Field(default=None, examples=[None])
    districts: list[str] | None = Field(default=None, examples=[["Ariyalur"]])

    @field_validator("districts")
    @classmethod
    def _known(cls, names: list[str] | None) -> list[str] | None:
        if names is None:
            return None
        unknown = [n for n in names if n not in geography.district_names()]
        if unknown:
            raise ValueError(f"unknown districts {unknown}")
        return names


Channel = Literal["email", "webhook", "sms"]


class NewSubscription(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "owner": "beo.sendurai@example.org", "channel": "webhook", "target": "https://example.org/mealtwin-hook",
        "secret": "a-long-shared-secret-0001", "filters": {"severity_at_least": "high", "districts": ["Ariyalur"]}}]})

    owner: str = Field(min_length=3, max_length=200, description="who subscribes (an officer's email or name)",
                       examples=["beo.sendurai@example.org"])
    channel: Channel
    target: str = Field(min_length=3, max_length=500, description="email address, https URL or phone number (+91...)",
                        examples=["https://example.org/mealtwin-hook"])
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


class StoredFilters(Filters):
    """A subscription's filters as stored: what was asked, within the subscriber's own area."""

    within_district: str | None = Field(description="the subscriber's area: nothing outside it is delivered",
                                        examples=["Ariyalur"])
    within_block: str | None = Field(examples=[None])
    within_school: UdiseCode | None = Field(examples=[None])


class Subscription(BaseModel):
    """A subscription as its owner sees it: the webhook secret is never shown again."""

    id: int = Field(examples=[3])
    owner: str = Field(examples=["beo.sendurai@example.org"])
    channel: Channel
    target: str = Field(examples=["https://example.org/mealtwin-hook"])
    filters: StoredFilters
    active: bool
    created_at: Timestamp


class Alert(BaseModel):
    """An alert the twin's rules raised for a school, a block or a district, open until the rules resolve it."""

    id: int = Field(examples=[41])
    subject: str = Field(description="school:<UDISE code>, block:<block index> or district:<district index> (the "
                                     "funds alerts of a block's or district's schools summed)",
                         examples=["school:33010100101"])
    school_id: UdiseCode | None = Field(description="none for a block's or district's alert")
    district: str = Field(examples=["Ariyalur"])
    block: str = Field(description="empty for a district's alert", examples=["Sendurai"])
    alert_type: AlertType = Field(description="the rule's cause", examples=["stock_low"])
    category: Category = Field(examples=["stock"])
    severity: Severity = Field(examples=["high"])
    title: str = Field(examples=["Rice running out at school 33010100101"])
    message: str = Field(examples=["Rice left for 2.4 school days."])
    # the figures behind the alert: which ones depends on the cause (stock days, a risk score,
    # schools at risk in a block), so the member stays open
    details: dict[str, Any] = Field(examples=[{"stock_days": 2.4, "risk_score": 41.0, "risk_level": "medium"}])
    is_read: bool
    is_resolved: bool
    created_at: Timestamp
    updated_at: Timestamp
    resolved_at: Timestamp | None


class AlertPage(BaseModel):
    alerts: list[Alert]
    pagination: Pagination


class UnreadCount(BaseModel):
    """Open alerts not yet read; severities with none are left out."""

    total: int = Field(ge=0, examples=[3])
    by_severity: dict[Severity, int] = Field(examples=[{"high": 2, "medium": 1}])
