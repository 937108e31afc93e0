"""The daily state-wide optimisation run, for the daily timer actor (`actors.daily`): it opens what
the run needs (the database, the twin's shards by name) in the timer's process, runs the stock and
advances LPs over the live twin as the twin itself, and closes them. Off unless
`optimisation.run_daily_at` is set."""

from __future__ import annotations

import asyncio

from configs import Settings
from db.engine import create_engine
from db.recommendation_repository import RecommendationRepository
from db.school_repository import SchoolRepository
from serve_app.optimization.service import OptimisationService


async def _no_ingest(body: bytes) -> dict:
    raise RuntimeError("a scheduled run proposes; only an officer's approval writes to the log")


async def daily_optimisation(settings: Settings) -> None:
    from actors.remote import TwinCluster

    cluster = await asyncio.to_thread(TwinCluster.attach)
    engine = create_engine(settings.database_url)
    try:
        schools = SchoolRepository(engine)
        directory, _ = await schools.load_directory()
        router = cluster.router()
        service = OptimisationService(
            RecommendationRepository(engine), directory, router.state_copies, router.twin_day, schools.load_locations,
            _no_ingest, risk_rules=settings.risk,
            block_officer_limit_kg=settings.optimisation.block_officer_limit_kg,
            block_officer_limit_inr=settings.optimisation.block_officer_limit_inr,
            depot_stock_days=settings.optimisation.depot_stock_days,
            vehicle_kg_per_day=settings.optimisation.vehicle_kg_per_day)
        await service.run_scheduled()
    finally:
        await engine.dispose()
