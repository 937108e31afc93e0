"""The composition root: builds the services an API replica (or a test, or the CLI) works with."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from actors.district_shard import DistrictShard
from actors.router import ShardRouter, local_router
from actors.state_twin import StateTwin
from configs import Settings
from db.engine import create_engine
from db.event_log import SqlEventLog
from db.school_repository import SchoolRepository
from db.snapshot_store import SqlSnapshotStore
from serve_app.ingest import IngestService
from serve_app.twin_reader import TwinReader
from twin import geography
from twin.directory import Directory
from twin.placement import shard_of_district
from twin.ports import ShardPorts


async def open_shard_ports(database_url: str) -> ShardPorts:
    """Everything a shard needs, opened in the caller's process and event loop."""
    engine = create_engine(database_url)
    directory, enrolment = await SchoolRepository(engine).load_directory()
    return ShardPorts(SqlEventLog(engine), SqlSnapshotStore(engine), directory, enrolment, engine.dispose)


def shard_ports_opener(settings: Settings) -> Callable[[], Awaitable[ShardPorts]]:
    """A picklable opener that shard actors call in their own process."""
    return functools.partial(open_shard_ports, settings.database_url)


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    event_log: SqlEventLog
    directory: Directory
    router: ShardRouter
    ingest: IngestService
    reader: TwinReader
    shard_restarts: Callable[[], Awaitable[dict[int, int]]] | None = None  # None: in-process shards

    async def readiness(self, timeout_s: float = 5.0) -> dict:
        """Checks of everything a request depends on; `ready` only if all pass."""
        checks: dict = {}
        try:
            async with self.engine.connect() as conn:
                await asyncio.wait_for(conn.execute(text("SELECT 1")), timeout_s)
            checks["database"] = "ok"
        except Exception as exc:  # noqa: BLE001 - reported, not raised: this is a health check
            checks["database"] = f"error: {type(exc).__name__}"
        try:
            statuses = await asyncio.wait_for(self.router.each("status"), timeout_s)
            checks["shards"] = {"up": len(statuses), "of": self.router.n_shards,
                                "applied_seq_min": min(s["applied_seq"] for s in statuses)}
        except Exception as exc:  # noqa: BLE001
            checks["shards"] = f"error: {type(exc).__name__}"
        checks["ready"] = checks["database"] == "ok" and isinstance(checks["shards"], dict)
        return checks

    async def close(self) -> None:
        await self.engine.dispose()


def _build(settings: Settings, engine: AsyncEngine, directory: Directory, router: ShardRouter,
           state_view: Callable[[], Awaitable[dict]]) -> Services:
    event_log = SqlEventLog(engine)
    ingest = IngestService(event_log, directory, router, settings.max_events_per_request, settings.apply_timeout_s)
    return Services(settings, engine, event_log, directory, router, ingest, TwinReader(directory, router, state_view))


async def open_ray_services(settings: Settings) -> Services:
    """Services of a Serve replica: the twin's actors are found by name in the Ray cluster."""
    from actors.remote import TwinCluster

    engine = create_engine(settings.database_url)
    directory, _ = await SchoolRepository(engine).load_directory()
    cluster = await asyncio.to_thread(TwinCluster.attach)
    services = _build(settings, engine, directory, cluster.router(), cluster.twin_state)
    services.shard_restarts = cluster.shard_restarts
    return services


async def open_local_services(settings: Settings, placement: list[list[int]] | None = None) -> Services:
    """Services with in-process shards and no Ray: tests and single-process tools."""
    engine = create_engine(settings.database_url)
    ports = await open_shard_ports(settings.database_url)
    n = len(geography.district_names())
    placement = placement or [list(range(n))]
    shards = [DistrictShard(districts, ports.directory, ports.enrolment, ports.event_log, ports.snapshots,
                            settings.snapshot.every_events, settings.snapshot.every_seconds) for districts in placement]
    for shard in shards:
        await shard.recover()
    router = local_router(shards, shard_of_district(placement, n))
    state = StateTwin(placement)

    async def state_view() -> dict:
        for k, shard in enumerate(shards):
            state.update(k, shard.district_rows())
        return state.state()

    services = _build(settings, engine, ports.directory, router, state_view)
    services.shards = shards  # type: ignore[attr-defined]  # tests inspect them
    return services
