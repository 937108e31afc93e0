"""The Ray Serve application: one function from settings to a deployable app.

`serve run configs/serve.yaml` imports `app_builder`; `mealtwin up` calls
`build_app`. Replicas hold no twin state: they find the shard actors by name.
"""

from __future__ import annotations

import functools
import logging
import re
from pathlib import Path
from typing import Any

import psutil
from ray import serve
from ray.serve import Application

from actors.heap import settle_heap
from actors.node_placement import TOKEN_MEMORY
from configs import Settings
from serve_app.app import create_api
from serve_app.observability import configure_json_logging
from startup.services import Services, open_ray_services


def build_app(settings: Settings) -> Application:
    # The replica opens its services in the app's lifespan: Serve unpickles its own copy of `api`
    # in each replica, so state set on this object here would never reach the one that serves.
    api = create_api(functools.partial(open_replica_services, settings), settings)

    # Every open WebSocket and every in-flight ingest holds a slot: Serve's default of 5 would
    # queue a dashboard behind four others, so the limit comes from settings (default 8,192 a replica).
    # Serve spreads replicas over a cluster's nodes, but Ray would place replicas asking for
    # nothing at random: each asks for a token of memory (see `actors.node_placement`).
    @serve.deployment(name="api", num_replicas=settings.serve_replicas,
                      max_ongoing_requests=settings.max_ongoing_requests,
                      ray_actor_options={"num_cpus": 0, "memory": TOKEN_MEMORY}, health_check_period_s=5,
                      # our middleware logs each request as JSON with its id; Serve's own access
                      # log would say it twice
                      logging_config={"encoding": "JSON", "enable_access_log": False})
    @serve.ingress(api)
    class Api:
        pass

    return Api.bind()


async def open_replica_services(settings: Settings) -> Services:
    """What an API replica opens at start (the plain-uvicorn baseline of `bench api` uses it too)."""
    configure_json_logging(logging.INFO if settings.access_log else logging.WARNING)
    services = await open_ray_services(settings)
    # Everything built so far lives as long as the replica: out of the cyclic GC's reach, or every
    # full collection rescans it while ingest allocates (a third of ingest CPU, measured).
    settle_heap()
    return services


def app_builder(args: dict[str, Any]) -> Application:
    """Entry point for Serve config files: `args` override settings from the environment."""
    return build_app(Settings(**args))


def run_app(settings: Settings) -> None:
    """Start Serve's HTTP proxy on the configured address and deploy the app; blocks until healthy."""
    stop_leftover_haproxy(settings.port, orphans_only=True)  # a twin that was killed may have left one
    serve.start(http_options={"host": settings.host, "port": settings.port})
    serve.run(build_app(settings), name="mealtwin", route_prefix="/")


def shutdown_app(port: int | None = None) -> None:
    try:
        serve.shutdown()
    finally:
        if port is not None:
            stop_leftover_haproxy(port)


def stop_leftover_haproxy(port: int, orphans_only: bool = False) -> None:
    """Stop a Serve HAProxy still serving `port`. HAProxy is a child of a Serve actor and is not
    killed with it when Ray stops before Serve has finished shutting down (seen after Ctrl-C
    during a feed, and when every process of the twin was sent SIGTERM at once): it would keep the
    API port, and the next `mealtwin up` could not bind it. `orphans_only` (at start): only one
    whose manager actor is gone, so a running twin's proxy on the same port is left alone."""
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info["cmdline"] or []
        if not cmd or not cmd[0].endswith("/haproxy") or "-f" not in cmd[:-1]:
            continue
        try:
            config = Path(cmd[cmd.index("-f") + 1]).read_text()
        except OSError:
            continue
        if re.search(rf"^\s*bind\s+\S*:{port}\s*$", config, re.MULTILINE) and not (orphans_only and _managed(proc)):
            proc.terminate()


def _managed(proc: psutil.Process) -> bool:
    """The HAProxy's parent is still Serve's HAProxy manager actor."""
    try:
        parent = proc.parent()
        return parent is not None and "HAProxyManager" in " ".join(parent.cmdline())
    except psutil.Error:
        return False
