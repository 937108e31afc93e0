"""`mealtwin bench cache`: what the read cache saves. A small state fed `days` school days in process
(the API app with local shards, SQLite), then a school's year-long history, the state `as_of` a
settled moment, a district's 7-day forecast (by a small forecaster trained first on a few months
of simulated history), and a district's performance report and PDF, each asked `runs` times missing the cache (a different range, moment or
rain forecast or period every time) and `runs` times hitting it; in memory, and in Redis when `--redis`
names one."""

from __future__ import annotations

import asyncio
import datetime as dt
import statistics
import time
from collections.abc import Callable

import httpx

from benchmarks.credentials import bench_settings
from benchmarks.workdir import bench_workdir

# a forecaster trained in seconds: the cache is measured, not the model
_SMALL_TRAINING = {"forecast_schools": 120, "risk_rows": 20_000, "forecast_months": 4, "forecast_backtest_days": 25,
                   "forecast_options": {"lstm": {"epochs": 1, "max_pairs": 3000, "hidden": 8},
                                        "gbm": {"max_pairs": 3000, "max_iter": 30},
                                        "seasonal_naive": {"max_pairs": 3000}}}


def _trained_store(say: Callable[[str], None]) -> str:
    from pathlib import Path

    from ml.history_writer import write_history
    from ml.pipeline import retrain

    root = Path(bench_workdir("mealtwin-bench-cache-models-"))
    say("training a small forecaster")
    write_history(root, 120, 3, dt.date(2024, 6, 1), dt.date(2025, 1, 1))
    retrain(root, **_SMALL_TRAINING)
    return str(root)


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
    from configs.settings import Models, ReadCache, Streams
    from twin import geography

    out: dict = {"schools": schools, "days_fed": days, "runs": runs}
    models = Models(root=await asyncio.to_thread(_trained_store, say), bootstrap=False, retrain_daily=False,
                    cache_s=3600)
    for where, url in [("memory", None), *([("redis", redis_url)] if redis_url else [])]:
        workdir = bench_workdir("mealtwin-bench-cache-")
        settings = bench_settings(database_url=f"sqlite+aiosqlite:///{workdir}/twin.db", schools=schools,
                                  data_dir=workdir, redis_url=url, max_events_per_request=50_000,
                                  # the moments asked are each after an acknowledged batch: settled at once
                                  read_cache=ReadCache(settled_s=0),
                                  streams=Streams(redis_prefix=f"mealtwin-bench-{time.time_ns()}:")
                                  ).model_copy(update={"models": models})
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
                district = geography.district_names()[int(table.district[0])]
                forecasts = [(f"/api/v1/predictions/forecast/districts/{district}", {"rain_mm": ",".join([str(k)] * 7)})
                             for k in range(runs)]
                await client.get(forecasts[0][0])  # the recent days are built once, outside the timings
                out[where] |= {"forecast_district_schools": int((table.district == table.district[0]).sum()),
                               "forecast_miss_ms": await _median_ms(client, forecasts),
                               "forecast_hit_ms": await _median_ms(client, forecasts)}
                out[where] |= await _area_reports(client, district, runs)
    return out


async def _area_reports(client: httpx.AsyncClient, district: str, runs: int) -> dict:
    """A district's performance report and its PDF, each over `runs` periods (ending on the twin's
    day, starting a day earlier each time, within the 35 days the twin keeps): missed, then hit."""
    path = "/api/v1/reports/performance"
    answer = await client.get(path, params={"district": district})
    answer.raise_for_status()
    last = dt.date.fromisoformat(answer.json()["data"]["period"]["to"])
    periods = [{"from": (last - dt.timedelta(days=6 + k)).isoformat(), "to": last.isoformat()} for k in range(runs)]
    reports = [(path, {"district": district} | p) for p in periods]
    pdfs = [("/api/v1/reports/export/pdf", {"level": "district", "name": district} | p) for p in periods]
    return {"performance_miss_ms": await _median_ms(client, reports),
            "performance_hit_ms": await _median_ms(client, reports),
            "pdf_district_miss_ms": await _median_ms(client, pdfs),
            "pdf_district_hit_ms": await _median_ms(client, pdfs)}
