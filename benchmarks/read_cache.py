"""`mealtwin bench cache`: what the read cache saves. A small state fed `days` school days in process
(the API app with local shards, SQLite), then a school's year-long history and the state `as_of` a
settled moment, each asked `runs` times missing the cache (a different range or moment every
time) and `runs` times hitting it; in memory, and in Redis when `--redis` names one."""

from __future__ import annotations

import asyncio
import datetime as dt
import statistics
import tempfile
import time
from collections.abc import Callable

import httpx

from benchmarks.credentials import bench_settings


async def _fed_app(settings, days: int, say: Callable[[str], None]):  # noqa: ANN001, ANN202
    from db.engine import create_engine
    from db.school_repository import SchoolRepository
    from serve_app.app import create_api
    from serve_app.schools.rows import from_rows
    from simulation.world import World
    from startup.runtime import prepare_database
    from startup.services import open_local_services

    await prepare_database(settings, say)
    engine = create_engine(settings.database_url)
    table = from_rows(await SchoolRepository(engine).all())
    await engine.dispose()
    app = create_api(lambda: open_local_services(settings, placement=[list(range(38))]), settings)
    return app, table, World(table, seed=0, start=dt.date.fromisoformat(settings.feed.start_date))


async def _median_ms(client: httpx.AsyncClient, requests: list[tuple[str, dict]]) -> float:
    times = []
    for path, params in requests:
        started = time.perf_counter()
        response = await client.get(path, params=params)
        times.append(time.perf_counter() - started)
        response.raise_for_status()
    return round(statistics.median(times) * 1000, 2)


async def run(schools: int = 800, days: int = 120, runs: int = 15, redis_url: str | None = None,
              say: Callable[[str], None] = print) -> dict:
    from configs.settings import ReadCache, Streams

    out: dict = {"schools": schools, "days_fed": days, "runs": runs}
    for where, url in [("memory", None), *([("redis", redis_url)] if redis_url else [])]:
        workdir = tempfile.mkdtemp(prefix="mealtwin-bench-cache-")
        settings = bench_settings(database_url=f"sqlite+aiosqlite:///{workdir}/twin.db", schools=schools,
                                  data_dir=workdir, redis_url=url, max_events_per_request=50_000,
                                  # the moments asked are each after an acknowledged batch: settled at once
                                  read_cache=ReadCache(settled_s=0),
                                  streams=Streams(redis_prefix=f"mealtwin-bench-{time.time_ns()}:"))
        app, table, world = await _fed_app(settings, days, say)
        async with app.router.lifespan_context(app):
            token, _ = app.state.services.accounts.issuer.issue_access("system:benchmark", "state_admin",
                                                                        None, None, None)
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://twin",
                                         headers={"Authorization": f"Bearer {token}"}, timeout=300) as client:
                say(f"{where}: feeding {days} school days to {schools:,} schools")
                moments = []
                batches = [world.opening_events()] + [world.step_day() for _ in range(days)]
                for batch in filter(None, batches):  # a Sunday sends nothing
                    (await client.post("/api/v1/events", json={"events": batch})).raise_for_status()
                    moments.append(dt.datetime.now(dt.UTC).isoformat())
                school = f"{int(table.udise[0]):011d}"
                first = dt.date.fromisoformat(settings.feed.start_date)
                path = f"/api/v1/twin/schools/{school}/history"
                ranges = [{"from": first.isoformat(), "to": (first + dt.timedelta(days=days - k)).isoformat()}
                          for k in range(runs)]
                await asyncio.sleep(0.01)  # every moment above is now in the past
                states = [("/api/v1/twin/state", {"as_of": m}) for m in moments[-runs:]]
                out[where] = {
                    "history_miss_ms": await _median_ms(client, [(path, r) for r in ranges]),
                    "history_hit_ms": await _median_ms(client, [(path, r) for r in ranges]),
                    "as_of_state_miss_ms": await _median_ms(client, states),
                    "as_of_state_hit_ms": await _median_ms(client, states),
                }
    return out
