"""`WebhookChannel`: alerts POSTed as JSON to a subscriber's URL, signed with its secret
(see `signature` for the headers and how a receiver verifies them).

The body is `{"delivery_id": "...", "subscription_id": ..., "alert": {...}}`. The delivery id,
also in the `X-Mealtwin-Delivery` header, is the same on every retry, so that a receiver can drop
a repeat of a delivery it already took (retries follow timeouts, which may hide a success); an
alert delivered again because it escalated comes with a new one."""

from __future__ import annotations

import time

import httpx
import orjson

from serve_app.alerts.delivery.channel import DeliveryError, post
from serve_app.alerts.delivery.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from serve_app.alerts.delivery.subscription import Alert, Subscription
from serve_app.alerts.delivery.target_guard import refused_by_address

DELIVERY_HEADER = "X-Mealtwin-Delivery"


class WebhookChannel:
    def __init__(self, *, timeout_s: float = 10.0, private_targets: bool = False) -> None:
        self.timeout_s = timeout_s
        self._private_targets = private_targets
        self._client = httpx.AsyncClient(timeout=timeout_s, follow_redirects=False,
                                         headers={"User-Agent": "mealtwin-alerts"})

    async def send(self, alert: Alert, subscription: Subscription, delivery_id: str) -> None:
        if subscription.secret is None:  # a validated webhook subscription always has one
            raise DeliveryError("webhook subscription has no secret", permanent=True)
        try:
            body = orjson.dumps({"delivery_id": delivery_id, "subscription_id": subscription.id, "alert": dict(alert)})
        except orjson.JSONEncodeError as exc:  # the alert itself is at fault: no retry will change it
            raise DeliveryError(f"the alert cannot be sent as JSON: {exc}", permanent=True) from exc
        if not self._private_targets and (reason := await refused_by_address(subscription.target)):
            raise DeliveryError(f"refused: {reason}", permanent=True)
        timestamp = int(time.time())
        headers = {"Content-Type": "application/json", DELIVERY_HEADER: delivery_id, TIMESTAMP_HEADER: str(timestamp),
                   SIGNATURE_HEADER: sign(subscription.secret.get_secret_value(), timestamp, body)}
        await post(self._client, "webhook", subscription.target, content=body, headers=headers)

    async def close(self) -> None:
        await self._client.aclose()
