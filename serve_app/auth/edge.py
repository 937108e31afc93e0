"""The API's edge, before any route runs: request size limit, admission (`admission.InFlight`),
rate limits in fair buckets, the bearer token's check, security headers on every answer. A pure
ASGI middleware, so large bodies are refused as they stream in."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Awaitable, Callable

from configs.settings import Limits
from serve_app.auth.errors import PayloadTooLarge
from serve_app.auth.admission import InFlight
from serve_app.auth.api_keys import parse_api_key
from serve_app.shared.envelope import error
from serve_app.shared.paths import API
from twin.errors import TwinError

# Health checks and the docs are not counted: load balancers poll them, and they reveal nothing.
_UNLIMITED = ("/health", "/ready", "/metrics", "/api/docs", "/api/redoc", "/api/openapi.json")

_EVENTS = f"{API}/events"

_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"geolocation=(), camera=(), microphone=()"),
]
# The docs pages load Swagger UI's script and styles from its CDN; everything else is data only.
_API_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
_DOCS_CSP = (b"content-security-policy", b"default-src 'self'; script-src 'self' 'unsafe-inline' "
             b"https://cdn.jsdelivr.net; style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
             b"img-src 'self' data: https://fastapi.tiangolo.com; frame-ancestors 'none'")
_NO_STORE = (b"cache-control", b"no-store")
# The dashboard's page and its own scripts, styles and images; its data comes from this origin's
# API and streams. A page load fetches a dozen modules: they are not counted against the address.
_PAGE_CSP = (b"content-security-policy", b"default-src 'self'; img-src 'self' data: blob:; connect-src 'self'; "
             b"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def _is_page(path: str) -> bool:
    return path == "/" or path.startswith("/static/")


def client_ip(scope: dict, trusted_proxies: frozenset[str]) -> str:
    """The peer's address, or the first address in X-Forwarded-For when the peer is a proxy we
    run (HAProxy in front of the replicas); anyone else could write that header."""
    peer = (scope.get("client") or ("unknown", 0))[0]
    if peer in trusted_proxies:
        for key, value in scope.get("headers", ()):
            if key == b"x-forwarded-for":
                first = value.decode("latin-1").split(",")[0].strip()
                try:
                    return str(ipaddress.ip_address(first))
                except ValueError:
                    break
    return peer


class Edge:
    def __init__(self, app: Callable, limits: Limits, production: bool = False) -> None:
        self.app, self.limits = app, limits
        self._trusted = frozenset(limits.trusted_proxies)
        self._hsts = production
        self._load = InFlight(limits.max_in_flight, limits.max_ingest_in_flight)

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        scope.setdefault("state", {})["client_ip"] = ip = client_ip(scope, self._trusted)
        send = self._with_headers(send, path)
        declared = _content_length(scope)
        if declared is not None and declared > self.limits.max_body_bytes:
            await self._refuse(send, 413, "PAYLOAD_TOO_LARGE",
                               f"the request body is over {self.limits.max_body_bytes} bytes: split it",
                               {"limit_bytes": self.limits.max_body_bytes})
            return
        if path.startswith(_UNLIMITED) or _is_page(path):
            await self.app(scope, self._counting(receive), send)
            return
        ingest = path == _EVENTS and scope["method"] == "POST"
        if not self._load.enter(ingest):
            retry = self.limits.overload_retry_after_s
            await self._refuse(send, 503, "SERVICE_UNAVAILABLE",
                               f"the twin is serving as many requests as it can; try again in {retry} s",
                               {"retry_after_s": retry, "reason": "overloaded"},
                               [(b"retry-after", str(retry).encode())])
            return
        try:
            await self._admitted(scope, receive, send, ip)
        finally:
            self._load.leave(ingest)

    async def _admitted(self, scope: dict, receive: Callable, send: Callable, ip: str) -> None:
        verdict = await self._admit(scope, ip)
        if not verdict.allowed:
            await self._refuse(send, 429, "RATE_LIMITED",
                               f"over {verdict.limit} requests a minute; try again in {verdict.retry_after_s} s",
                               {"retry_after_s": verdict.retry_after_s},
                               [(b"retry-after", str(verdict.retry_after_s).encode())])
            return
        await self.app(scope, self._counting(receive), send)

    async def _admit(self, scope: dict, ip: str):  # noqa: ANN202 - serve_app.auth.rate_limit.Verdict
        """Count the request in its bucket and, at the same moment, check its bearer token: both
        questions go to the shared security state together (one call to the `access-state` actor,
        or two concurrent round trips to Redis), not one after the other. The token's answer waits
        in the request's state for `guard.authenticated`.

        Buckets are fair: a signed-in user has one of their own wherever they connect from (the
        token's signature proves who it is before any look-up), an API key one of its own, and the
        per-address limit is for requests without credentials, sign-in among them. So a busy user
        behind the same address as the feed cannot make the feed's key wait."""
        services = getattr(scope["app"].state, "services", None)
        if services is None:
            return await _NO_LIMIT.hit(f"ip:{ip}", self.limits.requests_per_minute, 60)
        token = bearer_token(scope)
        claims = None
        if token is not None:
            try:
                claims = services.accounts.access_claims(token)
            except TwinError as refused:  # the guard refuses it; the request counts against its address
                scope["state"][EARLY_PRINCIPAL] = (token, refused)
        key_id = api_key_id(scope) if claims is None else None
        if claims is not None:
            bucket, limit = f"user:{claims.subject}", self.limits.user_requests_per_minute
        elif key_id is not None:
            bucket, limit = f"key:{key_id}", self.limits.key_requests_per_minute
        else:
            bucket, limit = f"ip:{ip}", self.limits.requests_per_minute
        hit = services.limiter.hit(bucket, limit, 60)
        if claims is None:
            return await hit
        verdict, principal = await asyncio.gather(hit, _outcome(services.accounts.principal_from_claims(claims)))
        scope["state"][EARLY_PRINCIPAL] = (token, principal)
        return verdict

    def _counting(self, receive: Callable) -> Callable:
        """A chunked body has no Content-Length: count it as it arrives."""
        seen = 0
        limit = self.limits.max_body_bytes

        async def counted() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:  # raised inside the route, so the envelope answers 413
                    raise PayloadTooLarge(f"the request body is over {limit} bytes: split it", {"limit_bytes": limit})
            return message
        return counted

    def _with_headers(self, send: Callable, path: str) -> Callable:
        docs = path.startswith(("/api/docs", "/api/redoc"))
        extra = [*_HEADERS, _DOCS_CSP if docs else _PAGE_CSP if _is_page(path) else _API_CSP]
        if path.startswith("/api/v1/"):
            extra.append(_NO_STORE)  # answers are per caller: no shared cache may keep them
        if self._hsts:
            extra.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
        started = False

        async def sending(message: dict) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                if started:  # the app failed after answering: nothing more may be sent
                    return
                started = True
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in extra if h[0] not in names)]
            await send(message)
        return sending

    @staticmethod
    async def _refuse(send: Callable, status: int, code: str, message: str, details: dict,
                      headers: list[tuple[bytes, bytes]] = ()) -> None:  # type: ignore[assignment]
        response = error(status, code, message, details)
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), *headers]})
        await send({"type": "http.response.body", "body": response.body})


EARLY_PRINCIPAL = "early_principal"  # (token, Principal or the error refusing it), set by `Edge`


def bearer_token(scope: dict) -> str | None:
    """The token of an `Authorization: Bearer` header, if any."""
    for key, value in scope.get("headers", ()):
        if key == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() != "bearer":
                return None
            return token.strip() or None
    return None


def api_key_id(scope: dict) -> str | None:
    """The key id of a well-formed `X-API-Key` (its secret is checked by the guard, against the
    database); None without one."""
    for key, value in scope.get("headers", ()):
        if key == b"x-api-key":
            parsed = parse_api_key(value.decode("latin-1").strip())
            return parsed[0] if parsed else None
    return None


async def _outcome(check: Awaitable) -> object:
    try:
        return await check
    except TwinError as refused:
        return refused


def _content_length(scope: dict) -> int | None:
    for key, value in scope.get("headers", ()):
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class _Unlimited:
    async def hit(self, key: str, limit: int, window_s: int):  # noqa: ANN201
        from serve_app.auth.rate_limit import Verdict

        return Verdict(True, limit, limit, 0)


_NO_LIMIT = _Unlimited()
