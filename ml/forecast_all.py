"""Every school's forecast, made a chunk of schools at a time and kept on disk: the nightly job's.

The forecaster's inputs for a school are its own recent days and its district's rain, so the
schools can be forecast in any grouping and give the same figures as all at once. At India's scale
(1.08 million schools) the inputs of every school at once are some 2 GiB before the model's own
working arrays; in chunks of `CHUNK_SCHOOLS` only one chunk's inputs and figures are in memory,
and each chunk is written as it is done.

Layout under `root`: `forecasts/<origin>/part-NNNNN.npz` (school_id [S]; dates, p10, p50, p90
[S, 7]: each school's next school days and meals), and `forecasts/<origin>/done.json` once every
part is written (a reader takes only an origin that has it): see `ml.forecast_files`, which the
API's replicas read them with.
"""

from __future__ import annotations

import itertools
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ml.forecast_files import DONE_FILE, FORECASTS_DIR, forecasts_dir, latest_forecasts, part_path
from ml.forecaster import DemandForecaster
from ml.panel import Panel

__all__ = ["CHUNK_SCHOOLS", "DONE_FILE", "FORECASTS_DIR", "forecast_every_school", "forecasts_dir",
           "latest_forecasts", "read_forecasts"]

CHUNK_SCHOOLS = 50_000  # inputs of ~0.1 GiB a chunk: ~2 KB a school (28 days x 14 features and 7 x 17 ahead, float32)

PanelOf = Callable[[np.ndarray], Panel]  # the panel of these columns (schools), up to the origin


def forecast_every_school(forecaster: DemandForecaster, panel_of: PanelOf, n_schools: int, root: Path | str,
                          chunk_schools: int = CHUNK_SCHOOLS, keep: int = 7,
                          progress: Callable[[int, int], None] | None = None, model_version: str | None = None) -> dict:
    """Forecast schools 0..`n_schools` in chunks of `chunk_schools` (each chunk's panel from
    `panel_of`), writing each chunk's P10/P50/P90 under `root`; the `keep` latest origins stay.
    Returns what was made: origin, schools, chunks, seconds, where and `model_version` (the
    forecaster's in the registry: the API answers from these files only for the model it serves)."""
    if chunk_schools < 1:
        raise ValueError("chunk_schools must be at least 1")
    began = time.perf_counter()
    bounds = list(range(0, n_schools, chunk_schools)) + [n_schools]
    target: Path | None = None
    origin = None
    done = 0
    for k, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        panel = panel_of(np.arange(lo, hi))
        forecast = forecaster.forecast(panel)
        if target is None:
            origin = str(forecast.origin)
            target = forecasts_dir(root) / origin
            shutil.rmtree(target, ignore_errors=True)  # a run of the same origin interrupted earlier
            target.mkdir(parents=True)
        elif str(forecast.origin) != origin:
            raise ValueError(f"chunk {k} ends on {forecast.origin}, not {origin}: the panels must share their days")
        np.savez(part_path(target, k), school_id=forecast.school_id.astype(np.int64),
                 dates=forecast.dates, p10=forecast.p10, p50=forecast.p50, p90=forecast.p90)
        done += hi - lo
        del panel, forecast
        if progress is not None:
            progress(done, n_schools)
    if target is None:
        raise ValueError("no schools to forecast")
    seconds = time.perf_counter() - began
    summary = {"origin": origin, "schools": done, "chunks": len(bounds) - 1, "chunk_schools": chunk_schools,
               "seconds": round(seconds, 1), "path": str(target), "model_version": model_version}
    (target / DONE_FILE).write_text(json.dumps(summary))
    _keep_latest(forecasts_dir(root), keep)
    return summary


def read_forecasts(folder: Path) -> dict[str, np.ndarray]:
    """Every part of one origin joined: school_id, dates, p10, p50, p90."""
    parts = [np.load(p) for p in sorted(folder.glob("part-*.npz"))]
    if not parts:
        raise FileNotFoundError(f"no forecasts in {folder}")
    return {name: np.concatenate([p[name] for p in parts]) for name in ("school_id", "dates", "p10", "p50", "p90")}


def _keep_latest(folder: Path, keep: int) -> None:
    origins = sorted(p for p in folder.iterdir() if p.is_dir())
    for old in origins[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
