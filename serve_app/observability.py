"""Request ids, JSON access logs and Prometheus metrics for the API.

One pure ASGI middleware does all three, so it costs one wrapper per request and never buffers a
body or gets in the way of a WebSocket. Metrics live in this process's registry: with several
Serve replicas, each scrape of `/metrics` is answered by one replica (label `replica`), which is
how Prometheus scrapes any horizontally scaled service.
"""

import contextvars
import datetime as dt
import hashlib
import logging
import os
import re
import socket
import time
import uuid
from collections.abc import Callable

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
_VALID_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
access_log = logging.getLogger("mealtwin.access")


class Metrics:
    """The API's metrics, in a registry of their own (not the global one, so tests and several
    apps in one process do not collide)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        replica = {"replica": f"{socket.gethostname()}:{os.getpid()}"}  # one process per replica
        self.request_seconds = Histogram(
            "mealtwin_http_request_duration_seconds", "HTTP request latency by route",
            ["method", "route", "status"], registry=self.registry,
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.events_ingested = Counter(
            "mealtwin_events_ingested_total", "Events received at POST /api/v1/events, by outcome",
            ["status"], registry=self.registry)
        self.apply_lag_seconds = Histogram(
            "mealtwin_event_apply_lag_seconds", "From an event batch being durable in the log to every "
            "shard having folded it", registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
        self.websocket_clients = Gauge("mealtwin_websocket_clients", "Open WebSocket streams",
                                       registry=self.registry)
        self.shard_restarts = Gauge("mealtwin_shard_restarts", "Times shard actors were restarted since the "
                                    "twin started, by shard", ["shard"], registry=self.registry)
        self.replica_info = Gauge("mealtwin_api_replica", "This API replica", list(replica),
                                  registry=self.registry)
        self.replica_info.labels(**replica).set(1)

    def count_ingest(self, result: dict) -> None:
        for status in ("accepted", "corrections", "duplicates", "rejected"):
            if result.get(status):
                self.events_ingested.labels(status).inc(result[status])

    def exposition(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def replica_id() -> str:
    """An opaque name of the process answering (host and pid, hashed): which API replica served a
    request, for an operator tracing one, without telling the world the host's name."""
    return hashlib.sha256(f"{socket.gethostname()}:{os.getpid()}".encode()).hexdigest()[:12]


class RequestContext:
    """ASGI middleware: a request id for every HTTP request (the caller's `X-Request-ID` when it
    is sane, else a new one), echoed in the response, a JSON access-log line, and the latency
    histogram labelled by route template (not raw path, which would explode the label set)."""

    def __init__(self, app: Callable, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self.replica = replica_id().encode()

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _header(scope, b"x-request-id")
        rid = given if given and _VALID_ID.match(given) else uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode()),
                                      (b"x-mealtwin-replica", self.replica)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.request_seconds.labels(scope["method"], route, str(status)).observe(elapsed)
            if access_log.isEnabledFor(logging.INFO):
                access_log.info("request", extra={"fields": {
                    "method": scope["method"], "path": scope["path"], "route": route, "status": status,
                    "duration_ms": round(elapsed * 1000, 2)}})
            request_id.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the request id when there is one,
    and any `extra={"fields": {...}}`."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = request_id.get()
        if rid:
            line["request_id"] = rid
        line |= getattr(record, "fields", {})
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return orjson.dumps(line).decode()


def configure_json_logging(level: int = logging.INFO) -> None:
    """JSON lines on stderr for the `mealtwin` loggers (called where the app is started, never
    at import)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("mealtwin")
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False


def _header(scope: dict, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None
