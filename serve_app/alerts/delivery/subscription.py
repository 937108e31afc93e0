"""`Subscription`: who wants which alerts, over which channel, and the filter that decides it.

An alert is a plain mapping as the alert rules raise it and the alerts table stores it (`id`,
`school_id`, `district`, `block`, `category`, `alert_type` or `cause`, `severity`, `title`,
`message`, `created_at`, ...). A subscription arrives as the subscriptions table gives it
(`owner`) or as `user`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, model_validator

from twin.alert_rules import SEVERITIES

Alert = Mapping[str, Any]
ChannelName = Literal["email", "webhook", "sms"]
Severity = Literal["low", "medium", "high", "critical"]  # SEVERITIES, least severe first (a test keeps them equal)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+[1-9]\d{7,14}$")  # E.164


class SubscriptionFilters(BaseModel):
    """Which alerts a subscription wants. A filter left out (None) admits every value."""

    # a misspelt filter would silently widen what is sent, so unknown keys are refused
    model_config = ConfigDict(extra="forbid", frozen=True)

    severity_at_least: Severity | None = None
    categories: tuple[str, ...] | None = None
    districts: tuple[str, ...] | None = None
    # the subscriber's own area (set from who subscribed, never from the request): nothing outside it
    within_district: str | None = None
    within_block: str | None = None
    within_school: str | None = None

    def admit(self, alert: Alert) -> bool:
        if not self._within_area(alert):
            return False
        if self.severity_at_least is not None:
            severity = alert.get("severity")
            # a severity this code does not know is let through: a new level must never silence alerts
            if severity in SEVERITIES and SEVERITIES.index(severity) < SEVERITIES.index(self.severity_at_least):
                return False
        if self.categories is not None and alert.get("category") not in self.categories:
            return False
        if self.districts is not None:
            district = str(alert.get("district") or "").casefold()
            if district not in {d.casefold() for d in self.districts}:
                return False
        return True

    def _within_area(self, alert: Alert) -> bool:
        wanted = (("district", self.within_district), ("block", self.within_block), ("school_id", self.within_school))
        return all(value is None or alert.get(key) == value for key, value in wanted)


class Subscription(BaseModel):
    """One user's wish to hear of some alerts on one channel: an email address, an http(s) URL
    (its deliveries signed with `secret`) or a phone number in E.164 form."""

    model_config = ConfigDict(frozen=True)

    id: int
    user: str = Field(validation_alias=AliasChoices("user", "owner"))
    channel: ChannelName
    target: str = Field(min_length=1)
    secret: SecretStr | None = Field(default=None, description="signs webhook bodies; webhooks only")
    filters: SubscriptionFilters = SubscriptionFilters()

    @model_validator(mode="after")
    def _target_fits_channel(self) -> Subscription:
        if self.channel == "email" and not _EMAIL.match(self.target):
            raise ValueError("an email subscription's target must be an email address")
        if self.channel == "sms" and not _PHONE.match(self.target):
            raise ValueError("an sms subscription's target must be a phone number like +919876543210")
        if self.channel == "webhook":
            url = urlsplit(self.target)
            if url.scheme not in ("http", "https") or not url.netloc:
                raise ValueError("a webhook subscription's target must be an http(s) URL")
            if self.secret is None or not self.secret.get_secret_value():
                raise ValueError("a webhook subscription needs a secret to sign its deliveries")
        return self
