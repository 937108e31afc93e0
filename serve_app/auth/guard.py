"""Authentication on every route: a bearer access token or an API key, resolved once per request
into the caller's `Principal`. Routes then ask `principal_of(request)` and check the area."""

from __future__ import annotations

from fastapi import Request, Security, WebSocket
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from serve_app.shared.app_services import services_of
from serve_app.auth.principal import Caller
from serve_app.auth.edge import EARLY_PRINCIPAL
from serve_app.auth.errors import Unauthenticated
from serve_app.auth.principal import Principal

bearer_scheme = HTTPBearer(auto_error=False, description="an access token from POST /api/v1/auth/login")
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False,
                              description="an integration's API key (POST /api/v1/api-keys)")


async def authenticated(request: Request, bearer: HTTPAuthorizationCredentials | None = Security(bearer_scheme),
                        api_key: str | None = Security(api_key_scheme)) -> Principal:
    """The router-wide dependency: 401 without valid credentials."""
    principal = await _resolve(request, bearer.credentials if bearer else None, api_key)
    request.state.principal = principal
    return principal


async def optionally_authenticated(request: Request,
                                   bearer: HTTPAuthorizationCredentials | None = Security(bearer_scheme),
                                   api_key: str | None = Security(api_key_scheme)) -> Principal | None:
    """For a route open to anyone that does more for a signed-in caller: None without credentials,
    401 with bad ones (a caller who meant to sign in is told, not treated as anonymous)."""
    if bearer is None and api_key is None:
        request.state.principal = None
        return None
    return await authenticated(request, bearer, api_key)


async def _resolve(connection: Request | WebSocket, token: str | None, api_key: str | None) -> Principal:
    accounts = services_of(connection).accounts
    if token:
        early = connection.scope.get("state", {}).get(EARLY_PRINCIPAL)
        if early is not None and early[0] == token:  # checked by the edge, with the rate limit
            if isinstance(early[1], Exception):
                raise early[1]
            return early[1]
        return await accounts.principal_from_token(token)
    if api_key:
        return await accounts.principal_from_key(api_key)
    raise Unauthenticated("sign in: send `Authorization: Bearer <access token>` or `X-API-Key: <key>`",
                          {"reason": "missing credentials"})


def principal_of(request: Request | WebSocket) -> Principal:
    return request.state.principal


def caller_of(request: Request | WebSocket) -> Caller:
    ip = request.scope.get("state", {}).get("client_ip") or (request.client.host if request.client else None)
    return Caller(ip)


async def websocket_principal(websocket: WebSocket) -> Principal:
    """Browsers cannot set headers on a WebSocket: the token may come as `?access_token=` (or
    `?api_key=`) instead. The access log never records query strings."""
    header = websocket.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else websocket.query_params.get("access_token")
    api_key = websocket.headers.get("x-api-key") or websocket.query_params.get("api_key")
    principal = await _resolve(websocket, token, api_key)
    websocket.state.principal = principal
    return principal
