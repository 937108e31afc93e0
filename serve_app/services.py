"""The composition root: builds the services an API replica (or a test, or the CLI) works with."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from actors.broker import MemoryBroker
from actors.district_shard import DistrictShard
from actors.risk_desk import RiskDesk
from actors.router import ShardRouter, local_router
from actors.shard_publisher import ShardPublisher
from actors.state_twin import StateTwin
from configs import Settings
from configs.settings import AlertDelivery
from scenarios.montecarlo import MapReplications, serial_map
from db.alert_repository import AlertRepository
from db.engine import create_engine
from db.scenario_repository import ScenarioRepository
from db.event_log import SqlEventLog
from db.school_repository import SchoolRepository
from db.snapshot_store import SqlSnapshotStore
from serve_app.alerts import AlertService
from serve_app.delivery import StoredDeliveryRecorder, open_dispatcher
from serve_app.delivery.notifier import SubscriberNotifier
from serve_app.ingest import IngestService
from serve_app.redis_broker import RedisBroker
from serve_app.risk import RiskService, RiskSource
from serve_app.scenario_runs import ScenarioRuns
from serve_app.school_history import SchoolHistoryService
from serve_app.schools import SchoolService
from serve_app.stream_hub import StreamHub
from serve_app.time_travel import TimeTravel
from serve_app.twin_reader import TwinReader
from twin import geography
from twin.directory import Directory
from twin.placement import shard_of_district
from twin.ports import DeskPorts, ShardPorts, StreamBroker


async def open_shard_ports(database_url: str, redis_url: str | None = None, stream_history: int = 10_000,
                           ray_broker: bool = False, redis_prefix: str = "mealtwin:",
                           low_stock_days: float = 3.0) -> ShardPorts:
    """Everything a shard needs, opened in the caller's process and event loop. The stream broker
    is Redis when `redis_url` is set, else the `stream-broker` actor when `ray_broker`, else none."""
    engine = create_engine(database_url)
    directory, enrolment = await SchoolRepository(engine).load_directory()
    broker = open_broker(redis_url, stream_history, redis_prefix) if redis_url or ray_broker else None
    return ShardPorts(SqlEventLog(engine), SqlSnapshotStore(engine), directory, enrolment, engine.dispose,
                      broker=broker, low_stock_days=low_stock_days)


def shard_ports_opener(settings: Settings) -> Callable[[], Awaitable[ShardPorts]]:
    """A picklable opener that shard actors call in their own process."""
    return functools.partial(open_shard_ports, settings.database_url, settings.redis_url,
                             settings.streams.history_messages, True, settings.streams.redis_prefix,
                             settings.streams.low_stock_days)


async def _load_schools(engine: AsyncEngine) -> tuple[Directory, object, object]:
    """The directory and every school's latitude and longitude, read afresh."""
    repo = SchoolRepository(engine)
    directory, _ = await repo.load_directory()
    return (directory, *await repo.load_locations())


async def open_desk_ports(database_url: str, redis_url: str | None = None, stream_history: int = 10_000,
                          redis_prefix: str = "mealtwin:", delivery: AlertDelivery | None = None) -> DeskPorts:
    """Everything the risk desk needs, opened in the state actor's process: the schools, the alert
    store, the stream broker, and alert delivery to subscribers."""
    engine = create_engine(database_url)
    directory, lat, lon = await _load_schools(engine)
    broker = open_broker(redis_url, stream_history, redis_prefix)
    store = AlertRepository(engine)
    notifier = await open_notifier(delivery or AlertDelivery(), store)

    async def close() -> None:
        await notifier.close()
        await engine.dispose()

    return DeskPorts(directory, lat, lon, store=store, broker=broker, notifier=notifier,
                     levels=SchoolRepository(engine), close=close, load_schools=functools.partial(_load_schools, engine))


async def open_notifier(delivery: AlertDelivery, store: AlertRepository) -> SubscriberNotifier:
    """Delivery of new and escalated alerts to the subscriptions in the table."""
    dispatcher = await open_dispatcher(delivery, StoredDeliveryRecorder(store))
    return SubscriberNotifier(dispatcher, store.subscriptions)


def desk_ports_opener(settings: Settings) -> Callable[[], Awaitable[DeskPorts]]:
    """A picklable opener the state actor calls in its own process."""
    return functools.partial(open_desk_ports, settings.database_url, settings.redis_url,
                             settings.streams.history_messages, settings.streams.redis_prefix,
                             settings.alert_delivery)


class LocalRisk:
    """The risk desk in-process (tests, tools): brought up to date with the shards before each read,
    as the state actor is by the shards' pushes."""

    def __init__(self, desk: RiskDesk, shards: list[DistrictShard]) -> None:
        self.desk, self._shards = desk, shards

    async def refresh(self) -> int:
        for shard in self._shards:
            self.desk.ingest(*shard.changed_risk_features())
        today = max(int(shard.state.today[0]) for shard in self._shards)
        return await self.desk.evaluate(today) if self.desk.pending else 0

    async def risk(self, school: int) -> dict | None:
        await self.refresh()
        return self.desk.risk(school)

    async def cascade_view(self, schools) -> dict | None:  # noqa: ANN001
        await self.refresh()
        return self.desk.cascade_view(schools)

    async def schools_changed(self) -> None:
        await self.desk.reload_schools(*await self.desk._ports.load_schools())
        for shard in self._shards:
            shard.forget_sent_features()


def open_broker(redis_url: str | None, history: int, redis_prefix: str = "mealtwin:") -> StreamBroker:
    """Redis Streams when configured (every node shares it), else the embedded `stream-broker` actor."""
    if redis_url:
        return RedisBroker(redis_url, history, redis_prefix)
    from actors.broker import RayBroker

    return RayBroker()


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    event_log: SqlEventLog
    directory: Directory
    router: ShardRouter
    ingest: IngestService
    reader: TwinReader
    schools: SchoolService
    history: SchoolHistoryService
    time_travel: TimeTravel  # reads of the twin as it was at a past moment
    risk: RiskService
    alerts: AlertService
    scenarios: ScenarioRuns
    shard_restarts: Callable[[], Awaitable[dict[int, int]]] | None = None  # None: in-process shards
    hub: StreamHub | None = None  # the live streams of this replica
    notifier: SubscriberNotifier | None = None  # in-process alert delivery (with in-process shards)

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
        ok = checks["database"] == "ok" and isinstance(checks["shards"], dict)
        if self.settings.redis_url and self.hub is not None:  # the streams' broker, when it is Redis
            try:
                await asyncio.wait_for(self.hub.broker.bounds("readiness"), timeout_s)
                checks["redis"] = "ok"
            except Exception as exc:  # noqa: BLE001
                checks["redis"] = f"error: {type(exc).__name__}"
                ok = False
        checks["ready"] = ok
        return checks

    async def close(self) -> None:
        await self.scenarios.close()
        if self.hub is not None:
            await self.hub.close()
        if self.notifier is not None:
            await self.notifier.close()
        await self.engine.dispose()


def _build(settings: Settings, engine: AsyncEngine, directory: Directory, router: ShardRouter,
           state_view: Callable[[], Awaitable[dict]], risk_source: RiskSource | None = None,
           replication_pool: Callable[[], MapReplications] = lambda: serial_map,
           broker: StreamBroker | None = None) -> Services:
    event_log = SqlEventLog(engine)
    repo = SchoolRepository(engine)
    schools = SchoolService(repo, directory, router, on_changed=risk_source.schools_changed if risk_source else None)
    time_travel = TimeTravel(event_log, SqlSnapshotStore(engine), repo.load_directory, router.placement())
    ingest = IngestService(event_log, directory, router, settings.max_events_per_request, settings.apply_timeout_s,
                           refresh_directory=schools.refresh_directory)
    return Services(settings, engine, event_log, directory, router, ingest, TwinReader(directory, router, state_view),
                    schools, SchoolHistoryService(event_log, directory),
                    time_travel, RiskService(directory, risk_source), AlertService(AlertRepository(engine), directory),
                    ScenarioRuns(ScenarioRepository(engine), directory, functools.partial(router.each, "state_copy"),
                                 time_travel.shard_states, replication_pool, broker))


async def open_ray_services(settings: Settings) -> Services:
    """Services of a Serve replica: the twin's actors are found by name in the Ray cluster."""
    from actors.remote import TwinCluster
    from actors.replication_pool import RayReplicationPool

    engine = create_engine(settings.database_url)
    directory, _ = await SchoolRepository(engine).load_directory()
    cluster = await asyncio.to_thread(TwinCluster.attach)
    broker = await asyncio.to_thread(open_broker, settings.redis_url, settings.streams.history_messages,
                                     settings.streams.redis_prefix)
    services = _build(settings, engine, directory, cluster.router(), cluster.twin_state, risk_source=cluster,
                      replication_pool=RayReplicationPool, broker=broker)
    services.shard_restarts = cluster.shard_restarts
    services.hub = StreamHub(broker, settings.streams)
    return services


async def open_local_services(settings: Settings, placement: list[list[int]] | None = None) -> Services:
    """Services with in-process shards and no Ray: tests and single-process tools."""
    engine = create_engine(settings.database_url)
    ports = await open_shard_ports(settings.database_url)
    n = len(geography.district_names())
    placement = placement or [list(range(n))]
    history = settings.streams.history_messages
    broker = open_broker(settings.redis_url, history, settings.streams.redis_prefix) if settings.redis_url \
        else MemoryBroker(history)
    publisher = ShardPublisher(broker, ports.directory, settings.streams.low_stock_days)
    shards = [DistrictShard(districts, ports.directory, ports.enrolment, ports.event_log, ports.snapshots,
                            settings.snapshot.every_events, settings.snapshot.every_seconds,
                            on_applied=publisher.on_applied) for districts in placement]
    for shard in shards:
        await shard.recover()
    router = local_router(shards, shard_of_district(placement, n))
    state = StateTwin(placement)
    lat, lon = await SchoolRepository(engine).load_locations()
    alerts = AlertRepository(engine)
    notifier = await open_notifier(settings.alert_delivery, alerts)
    desk = RiskDesk(DeskPorts(ports.directory, lat, lon, store=alerts, broker=broker, notifier=notifier,
                              levels=SchoolRepository(engine), load_schools=functools.partial(_load_schools, engine)), settings.risk, settings.alerts)
    await desk.start()
    risk = LocalRisk(desk, shards)

    async def state_view() -> dict:
        for k, shard in enumerate(shards):
            state.update(k, shard.district_rows())
        await risk.refresh()
        return state.state() | {"risk": desk.summary()}

    services = _build(settings, engine, ports.directory, router, state_view, risk, broker=broker)
    services.notifier = notifier
    services.shards = shards  # type: ignore[attr-defined]  # tests inspect them
    services.publisher = publisher  # type: ignore[attr-defined]  # tests wait for it to flush
    services.hub = StreamHub(broker, settings.streams)
    return services
