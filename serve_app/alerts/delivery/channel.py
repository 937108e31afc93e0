"""`Channel`: the port every delivery channel (email, webhook, SMS) implements, and the error
a channel raises when a send fails."""

from __future__ import annotations

from typing import Protocol

import httpx

from serve_app.alerts.delivery.subscription import Alert, Subscription

# a client error will fail again unchanged, except these, which ask to come back later
_RETRYABLE_CLIENT_ERRORS = frozenset({408, 425, 429})


class DeliveryError(Exception):
    """A send failed. `permanent`: trying again cannot help (the delivery goes straight to the
    dead letters). The message says why and never holds a secret or a target URL."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent


def describe(exc: BaseException) -> str:
    """`Type: message`, or the type alone when the message is empty (as for many timeouts)."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def http_status_error(what: str, status: int) -> DeliveryError:
    """The failure for a non-2xx answer from an HTTP endpoint."""
    permanent = 400 <= status < 500 and status not in _RETRYABLE_CLIENT_ERRORS
    return DeliveryError(f"{what} answered HTTP {status}", permanent=permanent)


async def post(client: httpx.AsyncClient, what: str, url: str, **request) -> None:  # noqa: ANN003
    """POST to an HTTP endpoint; `DeliveryError` on a transport failure or a non-2xx answer.
    Transport errors name the host at most, never the path (where some services put a token)."""
    try:
        response = await client.post(url, **request)
    except httpx.TransportError as exc:
        raise DeliveryError(f"{what} request failed: {describe(exc)}") from exc
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{what} request failed: {type(exc).__name__}") from exc
    if not response.is_success:
        raise http_status_error(what, response.status_code)


class Channel(Protocol):
    timeout_s: float  # the dispatcher ends an attempt that takes longer

    async def send(self, alert: Alert, subscription: Subscription, delivery_id: str) -> None:
        """Deliver `alert` to `subscription.target`; raise (`DeliveryError` preferably) if it fails.
        `delivery_id` is the same on every retry of one delivery, for receivers to drop repeats."""
        ...

    async def close(self) -> None: ...
