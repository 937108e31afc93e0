"""The composition root: builds the services an API replica (or a test, or the CLI) works with."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from actors.broker import MemoryBroker
from actors.router import ShardRouter, local_router
from actors.state_twin import StateTwin
from configs import Settings
from configs.settings import models_root
from db.alert_repository import AlertRepository
from db.engine import create_engine
from db.impact_job_repository import ImpactJobRepository
from db.recommendation_repository import RecommendationRepository
from db.report_job_repository import ReportJobRepository
from db.report_schedule_repository import ReportScheduleRepository
from db.scenario_repository import ScenarioRepository
from db.school_map_repository import SchoolMapRepository
from db.event_log import SqlEventLog
from db.school_repository import SchoolRepository
from db.snapshot_store import SqlSnapshotStore
from serve_app.alerts.service import AlertService
from serve_app.dashboard.service import DashboardService
from serve_app.finance.forecast import BudgetForecaster
from serve_app.finance.service import FinanceService
from serve_app.accounts.service import Accounts
from startup.access_control import SharedAccessState, open_access_actor_state, open_access_control
from serve_app.auth.rate_limit import RateLimiter
from serve_app.alerts.delivery.notifier import SubscriberNotifier
from startup.actor_ports import load_schools, open_broker, open_notifier, open_shard_ports
from serve_app.twin.ingest import IngestService
from serve_app.forecasts.service import Background, ModelService, thread_background
from adapters.report_mail import SmtpReportMailer
from serve_app.reports.jobs import ReportJobs
from serve_app.reports.scheduled_delivery import ScheduledDelivery
from serve_app.reports.schedules import ScheduleService
from serve_app.reports.service import ReportService
from serve_app.risk.service import RiskService, RiskSource
from serve_app.optimization.impact_jobs import ImpactJobs
from serve_app.optimization.service import OptimisationService
from serve_app.scenarios.service import ScenarioRuns
from serve_app.twin.history import SchoolHistoryService
from serve_app.schools.service import SchoolService
from serve_app.streams.hub import StreamHub
from serve_app.twin.time_travel import TimeTravel
from startup.read_cache import open_read_cache
from serve_app.twin.service import TwinReader
from twin import geography
from twin.directory import Directory
from twin.placement import shard_of_district
from twin.ports import DeskPorts, StreamBroker

if TYPE_CHECKING:
    from actors.district_shard import DistrictShard
    from actors.risk_desk import RiskDesk
    from twin.risk_answers import RiskColumns


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

    async def risks(self, schools) -> list[dict | None]:  # noqa: ANN001
        await self.refresh()
        return self.desk.risks(schools)

    async def risk_columns(self, schools) -> RiskColumns:  # noqa: ANN001
        await self.refresh()
        return self.desk.risk_columns(schools)

    async def schools_changed(self) -> None:
        await self.desk.reload_schools(*await self.desk._ports.load_schools())
        for shard in self._shards:
            shard.forget_sent_features()


@dataclass
class Services:
    """What one API replica serves with. Several replicas run at once, so whatever must agree
    across requests lives outside them: the database (accounts, failure counts and lockouts, used
    TOTP steps, API keys and their revocation, scenario runs and their cancel flags), the shard
    and state actors (the twin), and Redis or the `access-state` actor (token revocations, refresh
    families, rate-limit windows). What a replica keeps in its own memory is safe to be local:
    - the school directory (`directory`): an append-only index of ids, read as the stored arrays
      and the rows changed since (`db.school_arrays`), and extended the same way when an event
      names an id it lacks; whether a school is active lives in its shard;
    - a scenario run's in-process cancel event: a shortcut for runs this replica started; the
      flag itself is in the database, which every runner polls (`scenario_runs.CANCEL_POLL_S`);
    - the models' cached panel (`models`): derived from the shared twin, rebuilt on a new day;
    - the alert notifier's subscriptions (in-process twins only): re-read every few seconds;
    - the stream hub's cursors and followers: this replica's own WebSocket clients."""

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
    accounts: Accounts
    limiter: RateLimiter
    models: ModelService
    finance: FinanceService  # money: allocations by the norms, releases and utilisation from the twin
    reports: ReportService  # CSV exports and PDF reports, read from the other domains
    optimisation: OptimisationService | None = None  # recommendations: computed, verified, decided, applied
    impact_jobs: ImpactJobs | None = None  # ... and their impact simulated in the background
    dashboard: DashboardService | None = None  # the web page's map and places
    report_jobs: ReportJobs | None = None  # long reports built in the background, kept in the database
    report_schedules: ScheduleService | None = None  # reports sent by email on a schedule
    report_delivery: ScheduledDelivery | None = None  # ... and their sender (None without an SMTP server)
    access_redis: object | None = None  # the Redis client of tokens' revocation and rate limits
    shard_restarts: Callable[[], Awaitable[dict[int, int]]] | None = None  # None: in-process shards
    hub: StreamHub | None = None  # the live streams of this replica
    notifier: SubscriberNotifier | None = None  # in-process alert delivery (with in-process shards)
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)  # what else `close` must close

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
            statuses = await asyncio.wait_for(self.router.statuses(), timeout_s)
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
        if self.report_jobs is not None:
            await self.report_jobs.close()
        if self.report_delivery is not None:
            await self.report_delivery.close()
        if self.hub is not None:
            await self.hub.close()
        if self.notifier is not None:
            await self.notifier.close()
        if self.access_redis is not None:
            await self.access_redis.aclose()  # type: ignore[attr-defined]
        for close in self.closers:
            await close()
        await self.engine.dispose()


def open_engine(settings: Settings) -> AsyncEngine:
    """The replica's engine, its pool sized by the settings (a request that waits too long for a
    connection is answered 503)."""
    pool = settings.database_pool
    return create_engine(settings.database_url, pool_size=pool.size, max_overflow=pool.overflow,
                         pool_timeout_s=pool.timeout_s)


def _cached(load: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[object]]:
    """`load` read once, on first use (the schools' coordinates: they do not move)."""
    kept: list = []

    async def cached() -> object:
        if not kept:
            kept.append(await load())
        return kept[0]
    return cached


def _report_delivery(settings: Settings, repo: ReportScheduleRepository, reports: ReportService,
                     accounts: Accounts) -> ScheduledDelivery | None:
    """Every replica's sender of scheduled reports, ticking; none without an SMTP server. The
    replicas share the work through the database's claims, never through memory."""
    smtp = settings.alert_delivery
    if not smtp.smtp_host:
        return None
    mailer = SmtpReportMailer(host=smtp.smtp_host, port=smtp.smtp_port, sender=smtp.smtp_from,
                              starttls=smtp.smtp_starttls, username=smtp.smtp_username,
                              password=smtp.smtp_password, timeout_s=max(smtp.smtp_timeout_s, 60.0))
    delivery = ScheduledDelivery(repo, reports, mailer, accounts.why_not_reading)
    delivery.start()
    return delivery


def _serial_map() -> Callable:
    from scenarios.montecarlo import serial_map

    return serial_map


def _build(settings: Settings, engine: AsyncEngine, directory: Directory, router: ShardRouter,
           state_view: Callable[[], Awaitable[dict]], risk_source: RiskSource | None = None,
           replication_pool: Callable[[], Callable] = lambda: _serial_map(),
           broker: StreamBroker | None = None, background: Background = thread_background,
           access_state: SharedAccessState | None = None) -> Services:
    event_log = SqlEventLog(engine)
    repo = SchoolRepository(engine)
    accounts, limiter, access_redis = open_access_control(settings, engine, access_state)
    read_cache = open_read_cache(settings, access_redis)
    time_travel = TimeTravel(event_log, SqlSnapshotStore(engine), repo.load_directory, router.placement(),
                             cache=read_cache, settled_s=settings.read_cache.settled_s)
    schools = SchoolService(repo, directory, router, on_changed=risk_source.schools_changed if risk_source else None,
                            audit=accounts.record)

    models = ModelService(Path(models_root(settings)), directory, router.state_copies,
                          router.twin_day, background, settings.models.cache_s, read_cache=read_cache,
                          recent_schools=settings.models.recent_schools)
    risk = RiskService(directory, risk_source, learned=models.learned_risk)
    ingest = IngestService(event_log, directory, router, settings.max_events_per_request, settings.apply_timeout_s,
                           refresh_directory=schools.refresh_directory, audit=accounts.record)
    reader, history = TwinReader(directory, router, state_view), SchoolHistoryService(event_log, directory, read_cache)
    alerts = AlertService(AlertRepository(engine), directory, settings.alert_delivery.webhook_private_targets)
    budget = BudgetForecaster(len(directory.blocks), Path(models_root(settings)),
                              lambda schools: models.forecast(schools, None))
    money = FinanceService(directory, router, ingest, budget=budget, log=event_log)
    # the reports read risk through a service of their own without the learned probability, which
    # they do not show and which costs a model evaluation per school
    reports = ReportService(directory, router, reader, schools, RiskService(directory, risk_source), alerts,
                            history, money, locations=_cached(repo.load_locations), forecast=models.forecast,
                            read_cache=read_cache, max_schools=settings.limits.report_schools)
    school_map = SchoolMapRepository(engine)
    dashboard = DashboardService(school_map.points, school_map.levels, reader.block, directory)
    report_jobs = ReportJobs(ReportJobRepository(engine), reports)
    report_jobs.start()  # takes over the jobs of replicas that died mid-build
    schedule_repo = ReportScheduleRepository(engine)
    report_delivery = _report_delivery(settings, schedule_repo, reports, accounts)
    services = Services(settings, engine, event_log, directory, router, ingest, reader,
                    schools, history,
                    time_travel, risk, alerts,
                    ScenarioRuns(ScenarioRepository(engine), directory, router.state_copies, router.twin_day,
                                 time_travel.shard_states, replication_pool, broker,
                                 max_schools=settings.limits.scenario_schools),
                    accounts, limiter, models, money, reports,
                    dashboard=dashboard, report_jobs=report_jobs, report_schedules=ScheduleService(schedule_repo),
                    report_delivery=report_delivery, access_redis=access_redis)
    services.optimisation = OptimisationService(
        RecommendationRepository(engine), directory, router.state_copies, router.twin_day, repo.load_locations,
        ingest.ingest, replication_pool, broker, audit=accounts.record,
        block_officer_limit_kg=settings.optimisation.block_officer_limit_kg, risk_rules=settings.risk,
        block_officer_limit_inr=settings.optimisation.block_officer_limit_inr,
        apply_grace_s=settings.optimisation.apply_grace_s, depot_stock_days=settings.optimisation.depot_stock_days,
        vehicle_kg_per_day=settings.optimisation.vehicle_kg_per_day)
    services.closers.append(services.optimisation.start_recovery(settings.optimisation.recover_every_s))
    services.impact_jobs = ImpactJobs(ImpactJobRepository(engine), services.optimisation)
    services.impact_jobs.start()  # takes over the jobs of replicas that died mid-simulation
    services.closers.append(services.impact_jobs.close)
    return services


async def open_ray_services(settings: Settings) -> Services:
    """Services of a Serve replica: the twin's actors are found by name in the Ray cluster."""
    from actors.remote import TwinCluster
    from actors.background import run_on_ray
    from actors.replication_pool import RayReplicationPool

    engine = open_engine(settings)
    directory, _ = await SchoolRepository(engine).load_directory()
    cluster = await asyncio.to_thread(TwinCluster.attach)
    broker = await asyncio.to_thread(open_broker, settings.redis_url, settings.streams.history_messages,
                                     settings.streams.redis_prefix)
    # replicas share their security state: in Redis when configured, else in the `access-state` actor
    access_state = None if settings.redis_url else await asyncio.to_thread(open_access_actor_state)
    services = _build(settings, engine, directory, cluster.router(), cluster.twin_state, risk_source=cluster,
                      replication_pool=RayReplicationPool, broker=broker, background=run_on_ray,
                      access_state=access_state)
    services.shard_restarts = cluster.shard_restarts
    services.hub = StreamHub(broker, settings.streams)
    from actors.background import call_on_ray

    services.report_jobs.offload = call_on_ray  # type: ignore[union-attr]  # a PDF's layout as a Ray task
    return services


async def open_local_services(settings: Settings, placement: list[list[int]] | None = None) -> Services:
    """Services with in-process shards and no Ray: tests and single-process tools."""
    # Shards fold with numba and the desk's graph needs scipy: only in-process twins load them here,
    # not every API replica (~70 MiB each).
    from actors.district_shard import DistrictShard
    from actors.risk_desk import RiskDesk
    from actors.shard_publisher import ShardPublisher

    engine = open_engine(settings)
    ports = await open_shard_ports(settings.database_url)
    n = len(geography.district_names())
    placement = placement or [list(range(n))]
    history = settings.streams.history_messages
    broker = open_broker(settings.redis_url, history, settings.streams.redis_prefix) if settings.redis_url \
        else MemoryBroker(history, settings.streams.history_seconds)
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
                              levels=SchoolRepository(engine), load_schools=functools.partial(load_schools, engine)),
                    settings.risk, settings.alerts)
    await desk.start()
    risk = LocalRisk(desk, shards)

    async def state_view() -> dict:
        for k, shard in enumerate(shards):
            state.update(k, shard.district_rows())
        await risk.refresh()
        return state.state() | {"risk": desk.summary()}

    services = _build(settings, engine, ports.directory, router, state_view, risk, broker=broker)
    services.notifier = notifier
    # the shards (a snapshot may be being stored), then their engine: its pooled connections must not outlive the loop
    services.closers.extend([*(shard.close for shard in shards), ports.close])
    services.shards = shards  # type: ignore[attr-defined]  # tests inspect them
    services.publisher = publisher  # type: ignore[attr-defined]  # tests wait for it to flush
    services.hub = StreamHub(broker, settings.streams)
    if settings.optimisation.recompute_on_risk:  # this process is the whole twin: it follows the alerts itself
        from startup.recommendation_triggers import follow_in_process

        services.closers.insert(0, follow_in_process(settings, services.optimisation, broker))
    return services
