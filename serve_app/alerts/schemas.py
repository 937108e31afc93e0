"""The alerts domain's request and response shapes: subscriptions and their filters, and the
examples the API's documentation shows."""

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from twin import geography
from twin.alert_rules import CATEGORIES, SEVERITIES

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
