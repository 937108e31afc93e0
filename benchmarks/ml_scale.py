"""`mealtwin bench ml --learning-curve N,N,... [--nightly-schools M]`: the models against the number
of schools they learn from, and the nightly forecast of every school at India's scale.

Learning curve: on one history store of every school of the state (as `bench ml` makes it), the
daily retraining (`ml.pipeline.retrain`) with samples of whole blocks of growing size (drawn with one
seed, so each sample holds the smaller ones), the served model kinds only (gradient boosting
against the seasonal naive for demand, the random forest against the rule score for risk). For
each size: the forecaster's backtest WAPE and its ratio to the naive's, the risk model's ROC-AUC
and Brier skill on its later test rows, and the retraining's time. The backtests score each sample's
own schools on days after those it trained on; a sample of every school is scored on every school.

Nightly forecasts (right after the first, smallest sample's retraining, so that they are measured
before the long ones): `schools` schools (Tamil Nadu's geography, scaled) simulated for the last
weeks before the origin, then every school's next 7 school days from that sample's forecaster (the
same kind as the larger samples' and as costly to run), in chunks (`ml.forecast_all`), written to
disk as the nightly job writes them; the time and the growth of this process's resident memory
while forecasting.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import psutil

from benchmarks.ml import ensure_history
from ml.forecast_all import CHUNK_SCHOOLS, forecast_every_school, read_forecasts
from ml.forecaster import DemandForecaster
from ml.panel import Panel
from ml.pipeline import FORECAST_KIND, retrain
from ml.registry import Registry
from ml.risk_model import RULE_SCORE

Say = Callable[[str], None]
CURVE_FORECASTERS = ("gbm", "seasonal_naive")  # the served forecaster at full scale, and its baseline
CURVE_RISK = ("random_forest",)  # the served risk model (the rule score is always scored beside it)
NIGHTLY_DAYS = 42  # simulated days before the origin: the 35 the live panel keeps, and a week more


def learning_curve(sizes: list[int], schools: int, store: Path, years: int, end: dt.date, seed: int, scratch: Path,
                   say: Say, after_first: Callable[[Path], None] = lambda registry: None) -> tuple[list[dict], dict]:
    """One point per sample size (see module), smallest first; `after_first(registry)` once the
    first sample's models are registered. Returns the points and the store's description."""
    info = ensure_history(store, schools, years, end, seed, say)
    points = []
    for n in sorted(sizes):
        registry = scratch / f"registry-{n}"
        say(f"learning curve: retraining on a sample of about {n:,} schools")
        began = time.perf_counter()
        report = retrain(store, registry_root=registry, seed=seed, forecast_schools=n,
                         forecast_models=CURVE_FORECASTERS, risk_candidates=CURVE_RISK)
        seconds = time.perf_counter() - began
        fc, risk = report["forecaster"], report["risk"]
        learned = risk["all_metrics"][CURVE_RISK[0]]
        points.append({
            "schools": report["sample"]["schools"], "blocks": report["sample"]["blocks"],
            "forecast_wape": fc["wape"]["gbm"], "naive_wape": fc["wape"]["seasonal_naive"],
            "wape_over_naive": round(fc["wape"]["gbm"] / fc["wape"]["seasonal_naive"], 4),
            "forecast_cells_scored": fc["cells_scored"],
            "risk_auc": learned["roc_auc"], "risk_brier_skill": learned["brier_skill"],
            "rule_auc": risk["all_metrics"][RULE_SCORE]["roc_auc"], "risk_test_rows": risk["rows"].get("test"),
            "retrain_s": round(seconds, 1), "stages_s": report["seconds"],
        })
        say(f"learning curve point: {json.dumps(points[-1])}")  # a long run's figures so far
        if len(points) == 1:
            after_first(registry)
    return points, info


def nightly_forecasts(forecaster: DemandForecaster, schools: int, origin: dt.date, seed: int, out: Path,
                      chunk_schools: int, say: Say) -> dict:
    """Every one of `schools` schools forecast in chunks from a simulated live-like panel."""
    from ml.history import generate_history, synthetic_schools

    say(f"nightly forecasts: simulating {NIGHTLY_DAYS} days of {schools:,} schools")
    began = time.perf_counter()
    table = synthetic_schools(schools, seed)
    start = origin - dt.timedelta(days=NIGHTLY_DAYS - 1)
    panel = Panel.concat(list(generate_history(table, start, origin + dt.timedelta(days=1), seed)))
    simulated_s = time.perf_counter() - began
    panel_mib = sum(getattr(panel, f).nbytes for f in vars(panel) if isinstance(getattr(panel, f), np.ndarray)) / 2**20

    say(f"nightly forecasts: {schools:,} schools in chunks of {chunk_schools:,}")
    watch = _PeakRss()
    made = forecast_every_school(forecaster, panel.schools, panel.n_schools, out, chunk_schools)
    peak_growth = watch.stop()
    written = read_forecasts(Path(made["path"]))
    return {"nightly_schools": made["schools"], "nightly_forecast_s": made["seconds"], "nightly_chunks": made["chunks"],
            "nightly_chunk_schools": chunk_schools, "nightly_rss_growth_mib": round(peak_growth),
            "nightly_panel_mib": round(panel_mib), "nightly_simulated_s": round(simulated_s, 1),
            "nightly_written_mib": round(sum(p.stat().st_size for p in Path(made["path"]).glob("*.npz")) / 2**20, 1),
            "nightly_every_school_forecast": bool(np.array_equal(np.sort(written["school_id"]),
                                                                 np.sort(panel.school_id))
                                                  and np.isfinite(written["p50"]).all()),
            "nightly_origin": made["origin"]}


class _PeakRss:
    """The peak growth of this process's resident memory from now, sampled every 50 ms."""

    def __init__(self) -> None:
        self._me = psutil.Process()
        self._base = self._me.memory_info().rss
        self._peak = self._base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self._peak = max(self._peak, self._me.memory_info().rss)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return (self._peak - self._base) / 2**20


def run(sizes: list[int], schools: int = 43_000, store: Path | None = None, seed: int = 0, years: int = 3,
        end: dt.date = dt.date(2026, 6, 1), nightly_schools: int = 0, chunk_schools: int = CHUNK_SCHOOLS,
        say: Say | None = None) -> dict:
    say = say or (lambda message: None)
    scratch = Path(tempfile.mkdtemp(prefix="mealtwin-bench-ml-scale-"))
    try:
        store = Path(store) if store is not None else scratch / "store"
        nightly: dict = {}

        def forecast_all(registry: Path) -> None:
            """The nightly forecast with the first (smallest) sample's forecaster: its cost does not
            depend on how many schools it learned from, and it is known before the long retrains."""
            if not nightly_schools:
                return
            reg = Registry(registry)
            forecaster = DemandForecaster.from_bytes(reg.load_bytes(FORECAST_KIND, reg.served(FORECAST_KIND)))
            nightly.update(nightly_forecasts(forecaster, nightly_schools, end - dt.timedelta(days=1), seed,
                                             scratch / "nightly", chunk_schools, say),
                           nightly_forecaster=forecaster.kind)
            say(f"nightly forecasts: {json.dumps(nightly)}")

        points, info = learning_curve(sizes, schools, store, years, end, seed, scratch, say, forecast_all)
        result: dict = {"learning_curve": points, "store_schools": info["schools"],
                        "curve_models": {"forecaster": CURVE_FORECASTERS, "risk": CURVE_RISK}, **nightly}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return result
