"""`SmsChannel`: alerts as short texts, through any `SmsProvider`; `HttpSmsGateway` is the
provider for the usual HTTP SMS gateway (one POST per message, an API key in a header)."""

from __future__ import annotations

from typing import Literal, Protocol

import httpx
from pydantic import SecretStr

from serve_app.alerts.delivery import alert_text
from serve_app.alerts.delivery.channel import post
from serve_app.alerts.delivery.subscription import Alert, Subscription


class SmsProvider(Protocol):
    async def send_sms(self, to: str, text: str) -> None:
        """Send `text` to the E.164 number `to`; raise (`DeliveryError` preferably) if it fails."""
        ...

    async def close(self) -> None: ...


class HttpSmsGateway:
    """POSTs `{"to": ..., "from": <sender>, "text": ...}` as JSON or as a form to `url`, with the
    API key in the `api_key_header` header. Any answer but 2xx is a failure."""

    def __init__(self, *, url: str, api_key: SecretStr | None, sender: str, api_key_header: str = "X-API-Key",
                 body_format: Literal["json", "form"] = "json", timeout_s: float = 10.0) -> None:
        self._url, self._sender = url, sender
        self._api_key, self._api_key_header = api_key, api_key_header
        self._body_format = body_format
        self._client = httpx.AsyncClient(timeout=timeout_s, follow_redirects=False)

    async def send_sms(self, to: str, text: str) -> None:
        fields = {"to": to, "from": self._sender, "text": text}
        headers = {self._api_key_header: self._api_key.get_secret_value()} if self._api_key else {}
        body = {"json": fields} if self._body_format == "json" else {"data": fields}
        await post(self._client, "SMS gateway", self._url, headers=headers, **body)

    async def close(self) -> None:
        await self._client.aclose()


class SmsChannel:
    def __init__(self, provider: SmsProvider, *, timeout_s: float = 10.0) -> None:
        self._provider = provider
        self.timeout_s = timeout_s

    async def send(self, alert: Alert, subscription: Subscription, delivery_id: str) -> None:
        await self._provider.send_sms(subscription.target, alert_text.sms_text(alert))

    async def close(self) -> None:
        await self._provider.close()
