"""`mealtwin bench forecast-reads`: a forecast read by the API's model service from the nightly job's
files against the same forecast computed on the request, for a school, a block and a district.

A simulated panel of `schools` schools (the recent days the live twin would give), a gradient
boosted forecaster fitted on it and served, and the nightly files written by the nightly job's own
step (`forecast_every_school_served`). The computed reads are given the panel ready-made: on a live
twin each computed read of new days also builds the panel from the state of the districts asked
first, so the computed figures here are a lower bound."""

from __future__ import annotations

import asyncio
import datetime as dt
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

NIGHTLY_DAYS = 42  # the 35 days the live panel keeps, and a week more
START = dt.date(2025, 6, 2)
GBM = {"max_pairs": 20_000, "max_iter": 60}  # a forecaster fitted in seconds: the reads are measured, not the model


async def run(schools: int, runs: int, say: Callable[[str], None]) -> dict:
    from benchmarks.workdir import bench_workdir
    from ml.forecast_files import NightlyForecasts
    from ml.forecaster import DemandForecaster
    from ml.history import generate_history_panel
    from ml.registry import Registry
    from serve_app.forecasts.service import ModelService, RecentDays
    from serve_app.forecasts.upkeep import FORECAST_KIND, forecast_every_school_served
    from twin.directory import BlockTable, Directory
    from twin.norms import day_number

    root = Path(bench_workdir("mealtwin-bench-forecast-reads-"))
    say(f"simulating {NIGHTLY_DAYS} days of {schools:,} schools")
    panel = await asyncio.to_thread(generate_history_panel, schools, START, NIGHTLY_DAYS, 0)
    say("fitting and serving a forecaster")
    forecaster = await asyncio.to_thread(DemandForecaster("gbm", **GBM).fit, panel)
    registry = Registry(root)
    version = registry.register(FORECAST_KIND, forecaster.to_bytes(), {"model": "gbm", "metrics": {"wape": 0.1}})
    registry.promote_if_better(FORECAST_KIND, version, "wape", higher_is_better=False)
    say("the nightly forecasts of every school")
    began = time.perf_counter()
    await asyncio.to_thread(forecast_every_school_served, root, panel)
    nightly_s = time.perf_counter() - began

    directory = Directory(panel.school_id, panel.district, panel.block, BlockTable.from_geography())
    today = day_number(panel.dates[-1].astype(object))

    async def no_states() -> list:
        raise RuntimeError("not used: the panel is given")

    async def twin_day() -> int:
        return today

    service = ModelService(root, directory, no_states, twin_day)

    async def given_panel(_schools: np.ndarray) -> RecentDays:
        return RecentDays(panel, np.arange(panel.n_schools), frozenset(np.unique(panel.district).tolist()), "days",
                          today, 0.0)

    service._recent_days = given_panel  # the recent days ready-made (see the module's note)
    files = service._nightly_files
    block = int(np.bincount(panel.block).argmax())
    district = int(np.bincount(panel.district).argmax())
    asked = {"school": np.array([schools // 2]), "block": np.flatnonzero(panel.block == block),
             "district": np.flatnonzero(panel.district == district)}
    reads: dict[str, dict] = {}
    for name, index in asked.items():
        say(f"{name}: {index.size} schools")
        nightly, computed = [], []
        for _ in range(runs):
            service._nightly_files = NightlyForecasts(root)  # a replica's first read: nothing held yet
            began = time.perf_counter()
            answer = await service.forecast(index, None)
            nightly.append(time.perf_counter() - began)
            assert answer["source"] == "nightly"
            service._nightly_files = NightlyForecasts(root / "none")
            began = time.perf_counter()
            answer = await service.forecast(index, None)
            computed.append(time.perf_counter() - began)
            assert answer["source"] == "computed"
        service._nightly_files = files
        held = []
        for _ in range(runs):
            began = time.perf_counter()
            await service.forecast(index, None)
            held.append(time.perf_counter() - began)
        reads[name] = {"schools": int(index.size), "nightly_first_ms": _ms(statistics.median(nightly)),
                       "nightly_held_ms": _ms(statistics.median(held)),
                       "computed_ms": _ms(statistics.median(computed)),
                       "computed_over_nightly_first": round(statistics.median(computed) / statistics.median(nightly), 1)}
    return {"schools": schools, "runs": runs, "model": "gbm", "nightly_job_s": round(nightly_s, 1), "reads": reads}


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)
