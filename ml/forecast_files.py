"""The nightly job's forecast files (`ml.forecast_all` writes them): where they are, which origin
is complete, and reading the forecasts of some schools from them a part at a time.

Layout under the models' root: `forecasts/<origin>/part-NNNNN.npz` (school_id [S]; dates, p10,
p50, p90 [S, 7]), part k holding the schools k * chunk_schools up to (k + 1) * chunk_schools in
directory order; `forecasts/<origin>/done.json` once every part is written: origin, schools,
chunk_schools and the forecaster's version.

Only numpy here: the API's replicas read these files (`serve_app.forecasts.service`) without the
models' code (torch, scikit-learn)."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

FORECASTS_DIR = "forecasts"
DONE_FILE = "done.json"
FIELDS = ("school_id", "dates", "p10", "p50", "p90")
PARTS_KEPT = 4  # parts held in memory by a reader: ~7 MB each at 50,000 schools a part


def forecasts_dir(root: Path | str) -> Path:
    return Path(root) / FORECASTS_DIR


def part_path(folder: Path, k: int) -> Path:
    return folder / f"part-{k:05d}.npz"


def latest_forecasts(root: Path | str) -> Path | None:
    """The latest origin whose forecasts are complete, or None."""
    folder = forecasts_dir(root)
    done = sorted(p.parent for p in folder.glob(f"*/{DONE_FILE}")) if folder.exists() else []
    return done[-1] if done else None


class NightlyForecasts:
    """The newest complete nightly forecasts under `root`, for any set of schools: only the parts
    holding them are read, and the last few kept (a district's schools lie in one or two)."""

    def __init__(self, root: Path | str, parts_kept: int = PARTS_KEPT) -> None:
        self._root = Path(root)
        self._parts_kept = parts_kept
        self._parts: OrderedDict[tuple[str, int], dict[str, np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()  # readers run in worker threads

    def summary(self) -> dict | None:
        """The newest complete origin's done.json, with its folder; None if there is none."""
        folder = latest_forecasts(self._root)
        if folder is None:
            return None
        try:
            return json.loads((folder / DONE_FILE).read_text()) | {"folder": str(folder)}
        except (OSError, ValueError):
            return None  # removed by a newer run meanwhile, or cut short: the caller computes instead

    def of(self, schools: np.ndarray, school_ids: np.ndarray, origin: str, model_version: str) -> dict | None:
        """The forecasts of `schools` (directory indices, whose UDISE codes are `school_ids`) made on
        `origin` by the forecaster `model_version`, as arrays in the order asked; None unless the
        newest complete files are exactly those (another day or model, schools beyond them, or
        files of another directory order)."""
        summary = self.summary()
        if summary is None or summary.get("origin") != origin or summary.get("model_version") != model_version:
            return None
        schools = np.asarray(schools, np.int64)
        if schools.size == 0 or schools.min() < 0 or schools.max() >= int(summary["schools"]):
            return None
        chunk = int(summary["chunk_schools"])
        folder = Path(summary["folder"])
        out: dict[str, list[np.ndarray]] = {name: [] for name in FIELDS}
        order = []
        for k in np.unique(schools // chunk).tolist():
            part = self._part(folder, int(k))
            if part is None:
                return None
            wanted = np.flatnonzero(schools // chunk == k)
            rows = schools[wanted] - k * chunk
            if rows.max() >= part["school_id"].shape[0]:
                return None
            for name in FIELDS:
                out[name].append(part[name][rows])
            order.append(wanted)
        where = np.argsort(np.concatenate(order), kind="stable")
        found = {name: np.concatenate(out[name])[where] for name in FIELDS}
        if not np.array_equal(found["school_id"], np.asarray(school_ids, np.int64)):
            return None
        return found | {"origin": origin, "model_version": model_version}

    def _part(self, folder: Path, k: int) -> dict[str, np.ndarray] | None:
        key = (str(folder), k)
        with self._lock:
            if key in self._parts:
                self._parts.move_to_end(key)
                return self._parts[key]
        try:
            with np.load(part_path(folder, k)) as data:
                part = {name: data[name] for name in FIELDS}
        except (OSError, KeyError, ValueError):
            return None
        with self._lock:
            self._parts[key] = part
            while len(self._parts) > self._parts_kept:
                self._parts.popitem(last=False)
        return part
