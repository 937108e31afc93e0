"""`mealtwin bench finance`: the money reads and plans on a live twin of the whole state.

A twin of `schools` synthetic schools on Ray shard actors (no Serve: the figures are the finance
service's own, as an API replica calls it), fed the world's opening events (stock and the first
releases) and `days` school days through the ingest path. Then:
- `allocate_s`: the entitlement of every school for the year, a dry run (median of 5);
- `allocate_commit_s`: the same recorded as events, with the first instalment down the chain (once);
- `state_summary_ms`, `district_summary_ms`: median of 100 reads of the state's and a district's
  money (the districts in turn); `state_columns_ms` the part of a state read spent fetching the
  shards' money extract;
- `forecast_s`: the state's next 4 quarters with the backtest, from a cold start of the forecast
  (the history store read and the held-out quarter forecast); `forecast_wape` and `naive_wape`:
  the backtest's errors over the districts on the held-out quarter.
The history store is simulated for the twin's schools as on a first start (`models.history_years`),
and the seasonal-naive forecaster is fitted on its last six months and served (seconds, where the
full retraining takes minutes); a twin serves whichever forecaster won its own backtest.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.credentials import bench_settings
from benchmarks.workdir import bench_workdir
from benchmarks.world_feed import feed_world
from configs.settings import Models, models_root

READS = 100


def _serve_seasonal_naive(root: Path, last_day: dt.date) -> None:
    from ml.forecaster import DemandForecaster
    from ml.history_store import load_panel
    from ml.registry import Registry

    panel = load_panel(root, last_day - dt.timedelta(days=183), last_day + dt.timedelta(days=1))
    forecaster = DemandForecaster("seasonal_naive").fit(panel)
    registry = Registry(root)
    version = registry.register("forecaster", forecaster.to_bytes(), {"model": "seasonal_naive",
                                                                      "metrics": {"wape": 1.0}})
    registry.promote_if_better("forecaster", version, "wape", higher_is_better=False)


def _median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 2)


async def run(schools: int = 43_000, days: int = 10, seed: int = 0, say: Callable[[str], None] = print) -> dict:
    from serve_app.forecasts.upkeep import ensure_history
    from startup.runtime import start_twin, stop_twin
    from startup.services import open_ray_services
    from twin import geography

    workdir = bench_workdir("mealtwin-bench-finance-")
    settings = bench_settings(database_url=f"sqlite+aiosqlite:///{workdir}/bench.db", schools=schools, seed=seed,
                              data_dir=workdir, access_log=False)
    settings = settings.model_copy(update={"models": Models(root=f"{workdir}/model-store", bootstrap=False,
                                                            retrain_daily=False)})
    twin = await start_twin(settings, say, serve_api=False)
    out: dict = {"schools": schools}
    try:
        services = await open_ray_services(settings)
        out["events_fed"] = await feed_world(services, settings, days, say)
        money = services.finance
        year = 2025

        samples = []
        for _ in range(5):
            t = time.perf_counter()
            plan = await money.allocate(year, None, None, "norms", 1, 100)
            samples.append(time.perf_counter() - t)
        out["allocate_s"] = round(statistics.median(samples), 3)
        out["allocated_schools"] = plan["totals"]["schools"]
        out["allocated_inr"] = plan["totals"]["total_inr"]
        t = time.perf_counter()
        committed = await money.allocate(year, None, None, "norms", 1, 100, commit=True, first_instalment=True)
        out["allocate_commit_s"] = round(time.perf_counter() - t, 3)
        out["allocate_commit_events"] = committed["recorded"]["allocations"]["events"] + \
            committed["recorded"]["first_instalment"]["events"]

        await money.state(year)  # warm
        samples = []
        for _ in range(READS):
            t = time.perf_counter()
            await money.state(year)
            samples.append(time.perf_counter() - t)
        out["state_summary_ms"] = _median_ms(samples)
        samples = []
        for _ in range(READS):  # of which: the shards' money extract, over Ray
            t = time.perf_counter()
            await services.router.funds_columns(year)
            samples.append(time.perf_counter() - t)
        out["state_columns_ms"] = _median_ms(samples)
        n_districts = len(geography.district_names())
        samples = []
        for k in range(READS):
            t = time.perf_counter()
            await money.district(k % n_districts, year)
            samples.append(time.perf_counter() - t)
        out["district_summary_ms"] = _median_ms(samples)

        say("simulating the history store and serving a forecaster")
        t = time.perf_counter()
        await asyncio.to_thread(ensure_history, settings, say)
        root = Path(models_root(settings))
        await asyncio.to_thread(_serve_seasonal_naive, root,
                                dt.date.fromisoformat(settings.feed.start_date) - dt.timedelta(days=1))
        out["history_and_model_s"] = round(time.perf_counter() - t, 1)
        t = time.perf_counter()
        forecast = await money.forecast(None, None, 4)
        out["forecast_s"] = round(time.perf_counter() - t, 2)
        out["forecast_parts_s"] = dict(money.budget.timings_s)  # history read, live forecast, backtest
        backtest = forecast["backtest"] or {}
        out["forecast_wape"] = backtest.get("wape")
        out["naive_wape"] = backtest.get("naive_wape")
        out["forecast_coverage_p10_p90"] = backtest.get("p10_p90_coverage")
        out["forecast_quarter_held_out"] = backtest.get("quarter")
        out["forecast_next_quarter_inr"] = forecast["quarters"][0]["total_inr"]
        t = time.perf_counter()
        await money.forecast(None, None, 4)
        out["forecast_warm_s"] = round(time.perf_counter() - t, 2)
        await services.close()
    finally:
        await stop_twin(twin)
    return out
