"""The response envelope of every endpoint, and the one place errors become HTTP responses."""

from __future__ import annotations

import logging
from typing import Any, Generic, Literal, TypeVar

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse as FastAPIJSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from db.outage import database_unreachable
from db.times import now_iso
from serve_app.auth.errors import Forbidden, PayloadTooLarge, TooManyRequests, Unauthenticated
from serve_app.shared.fields import Timestamp
from twin.errors import Conflict, InvalidInput, NotFound, TwinError, Unavailable

log = logging.getLogger(__name__)
UNAVAILABLE_RETRY_S = 2  # what a 503 tells the client when nothing more precise is known

_STATUS = {NotFound: 404, Conflict: 409, InvalidInput: 422, Unavailable: 503, Unauthenticated: 401, Forbidden: 403,
           TooManyRequests: 429, PayloadTooLarge: 413}


T = TypeVar("T")


class Envelope(BaseModel, Generic[T]):
    """Every success: the answer's `data`, a short message, and when it was answered. Routes
    declare `response_model=Envelope[TheirData]`, so the OpenAPI document shows each answer's shape."""

    success: Literal[True] = True
    data: T
    message: str = Field(examples=["OK"])
    timestamp: Timestamp


class ErrorDetail(BaseModel):
    code: str = Field(description="stable, machine-readable", examples=["NOT_FOUND"])
    message: str = Field(description="for people", examples=["no school 33999999999"])
    details: dict[str, Any] = Field(default_factory=dict, description="what was wrong, e.g. the fields")


class ErrorEnvelope(BaseModel):
    """Every refusal and failure."""

    success: Literal[False] = False
    error: ErrorDetail
    timestamp: Timestamp


class JSONResponse(FastAPIJSONResponse):
    """JSON by orjson (numpy arrays included). A FastAPI JSONResponse, so that routes answering
    with it are documented as JSON with their `response_model`."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)


def ok(data: Any, message: str = "OK", status_code: int = 200) -> JSONResponse:
    return JSONResponse({"success": True, "data": data, "message": message, "timestamp": now_iso()}, status_code)


def error(status_code: int, code: str, message: str, details: dict | None = None) -> JSONResponse:
    body = {"success": False, "error": {"code": code, "message": message, "details": details or {}}, "timestamp": now_iso()}
    return JSONResponse(body, status_code)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(TwinError)
    async def _twin(_: Request, exc: TwinError) -> JSONResponse:
        # by the nearest mapped class, so a domain's own subclass (e.g. ScenarioError) maps as its base
        status = next((_STATUS[c] for c in type(exc).__mro__ if c in _STATUS), 400)
        response = error(status, exc.code, exc.message, exc.details)
        if isinstance(exc, Unauthenticated):
            response.headers["WWW-Authenticate"] = 'Bearer realm="mealtwin"'
        elif isinstance(exc, TooManyRequests):
            response.headers["Retry-After"] = str(exc.retry_after_s)
        elif isinstance(exc, Unavailable):
            response.headers["Retry-After"] = str(exc.details.get("retry_after_s", UNAVAILABLE_RETRY_S))
        return response

    @app.exception_handler(PoolTimeout)
    async def _pool(request: Request, exc: PoolTimeout) -> JSONResponse:
        # every connection busy for the pool's whole timeout: the database is the bottleneck now,
        # and the client should come back, not wait on (or be failed by) a queue that is not moving
        log.warning("no database connection free for %s %s", request.method, request.url.path)
        response = error(503, "SERVICE_UNAVAILABLE", "the database is busy; try again shortly",
                         {"retry_after_s": UNAVAILABLE_RETRY_S})
        response.headers["Retry-After"] = str(UNAVAILABLE_RETRY_S)
        return response

    @app.exception_handler(DBAPIError)
    @app.exception_handler(OSError)
    async def _database(request: Request, exc: Exception) -> JSONResponse:
        # the database stopped or restarting: nothing was acknowledged, and the same request
        # succeeds once it is back (a repeated event id is applied once)
        if not database_unreachable(exc):
            return await _unexpected(request, exc)
        log.warning("database unreachable for %s %s: %s", request.method, request.url.path, exc)
        response = error(503, "SERVICE_UNAVAILABLE", "the database cannot be reached; try again shortly",
                         {"retry_after_s": UNAVAILABLE_RETRY_S})
        response.headers["Retry-After"] = str(UNAVAILABLE_RETRY_S)
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [{"field": ".".join(str(p) for p in e["loc"][1:]) or str(e["loc"][0]), "message": e["msg"]}
                  for e in exc.errors()]
        return error(422, "VALIDATION_ERROR", "The request is not valid: " + "; ".join(
            f"{f['field']}: {f['message']}" for f in fields), {"fields": fields})

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED",
                413: "PAYLOAD_TOO_LARGE"}.get(exc.status_code, "HTTP_ERROR")
        return error(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error(500, "INTERNAL_ERROR", "Something went wrong on our side; it has been logged.")
