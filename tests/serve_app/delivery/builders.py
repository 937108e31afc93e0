"""Alerts and subscriptions as the alert rules and the subscription store hand them over."""

from __future__ import annotations

from typing import Any

from serve_app.delivery.retry import RetryPolicy

# tiny delays: a retry test takes milliseconds, yet the backoff is real
FAST_RETRY = RetryPolicy(attempts=4, base_delay_s=0.01, max_delay_s=0.04)
WEBHOOK_SECRET = "whsec-test-0f3a9c"


def alert(alert_id: int = 42, **overrides: Any) -> dict[str, Any]:
    return {"id": alert_id, "school_id": "33010100101", "district": "Ariyalur", "block": "Ariyalur",
            "category": "stock", "cause": "stock_low", "severity": "high",
            "title": "Rice stock below 3 days",
            "message": "Rice stock will last 2.1 school days at current attendance.",
            "created_at": "2026-11-29T03:00:00Z", "status": "open"} | overrides


def email_subscription(sub_id: int = 1, target: str = "officer@example.org", **filters: Any) -> dict[str, Any]:
    return {"id": sub_id, "user": "officer", "channel": "email", "target": target, "filters": filters}


def webhook_subscription(sub_id: int, url: str, secret: str = WEBHOOK_SECRET, **filters: Any) -> dict[str, Any]:
    return {"id": sub_id, "user": "ops", "channel": "webhook", "target": url, "secret": secret, "filters": filters}


def sms_subscription(sub_id: int = 3, target: str = "+919876543210", **filters: Any) -> dict[str, Any]:
    return {"id": sub_id, "user": "head-teacher", "channel": "sms", "target": target, "filters": filters}
