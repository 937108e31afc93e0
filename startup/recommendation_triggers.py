"""The follower that re-solves a block when the twin crosses a risk threshold in it
(`serve_app.optimization.triggers`), off unless `optimisation.recompute_on_risk` is set: on Ray, a
named actor of its own beside the shards (one per twin, restarted if it fails), opening the
database, the shards by name and the broker in its process; in an in-process twin, a task."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from configs import Settings
from serve_app.optimization.service import OptimisationService
from serve_app.optimization.triggers import RiskTriggeredRuns
from twin import geography
from twin.ports import StreamBroker


def _alerts_topics() -> list[str]:
    from actors.shard_publisher import alerts_topic

    return [alerts_topic(d) for d in range(len(geography.district_names()))]


def risk_follower(settings: Settings, service: OptimisationService) -> RiskTriggeredRuns:
    rule = settings.optimisation
    return RiskTriggeredRuns(service.run_on_risk, rule.risk_settle_s, rule.risk_debounce_s)


def follow_in_process(settings: Settings, service: OptimisationService,
                      broker: StreamBroker) -> Callable[[], Awaitable[None]]:
    """Follow the alerts in a task of this process; the function that stops it."""
    task = asyncio.get_running_loop().create_task(
        risk_follower(settings, service).follow(broker, _alerts_topics(), settings.streams.read_block_s))

    async def stop() -> None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return stop


async def follow_risk(settings: Settings) -> None:
    """The follower's job on Ray: runs until its actor stops."""
    from actors.remote import TwinCluster
    from db.engine import create_engine
    from db.recommendation_repository import RecommendationRepository
    from db.school_repository import SchoolRepository
    from startup.actor_ports import open_broker
    from startup.recommendation_schedule import _no_ingest

    cluster = await asyncio.to_thread(TwinCluster.attach)
    engine = create_engine(settings.database_url)
    broker = await asyncio.to_thread(open_broker, settings.redis_url, settings.streams.history_messages,
                                     settings.streams.redis_prefix)
    try:
        schools = SchoolRepository(engine)
        directory, _ = await schools.load_directory()
        router = cluster.router()
        service = OptimisationService(
            RecommendationRepository(engine), directory, router.state_copies, router.twin_day, schools.load_locations,
            _no_ingest, broker=broker, risk_rules=settings.risk,
            block_officer_limit_kg=settings.optimisation.block_officer_limit_kg,
            block_officer_limit_inr=settings.optimisation.block_officer_limit_inr,
            depot_stock_days=settings.optimisation.depot_stock_days,
            vehicle_kg_per_day=settings.optimisation.vehicle_kg_per_day)
        await risk_follower(settings, service).follow(broker, _alerts_topics(), settings.streams.read_block_s)
    finally:
        await broker.close()
        await engine.dispose()
