"""A scenario's start from the twin's own database, for the command line: the twin as it is now
(`start: live`) or as it was on the spec's date, rebuilt from snapshots and the log by throwaway
shards in this process (read-only: a running twin is not disturbed)."""

from __future__ import annotations

import asyncio
import datetime as dt

from configs import Settings
from db.engine import create_engine
from db.event_log import SqlEventLog
from db.school_repository import SchoolRepository
from db.snapshot_store import SqlSnapshotStore
from scenarios.spec import ScenarioSpec
from serve_app.twin.time_travel import TimeTravel
from simulation.start_state import StartState
from twin import geography


async def twin_start(settings: Settings, spec: ScenarioSpec) -> StartState:
    engine = create_engine(settings.database_url)
    try:
        repo = SchoolRepository(engine)
        every_district = [list(range(len(geography.district_names())))]
        travel = TimeTravel(SqlEventLog(engine), SqlSnapshotStore(engine), repo.load_directory, every_district)
        live = spec.start == "live"
        as_of = dt.datetime.now(dt.UTC) if live else dt.datetime.combine(spec.start, dt.time(), tzinfo=dt.UTC)
        states = await travel.shard_states(as_of)
        directory, _ = await repo.load_directory()
        return await asyncio.to_thread(StartState.from_shards, states, directory, None if live else spec.start)
    finally:
        await engine.dispose()
