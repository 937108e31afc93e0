"""The served models, loaded from the registry, and the live twin's days into the history store.

`ServedModels` is what the API holds: it loads the served forecaster and risk model on first use and
again whenever a retrain changes what is served (`refresh` looks at the pointer files' stat only, so
it is cheap to call before every request). Every method is plain synchronous CPU work, safe to call
from several threads; the API runs it off its event loop.
"""

from __future__ import annotations

import os
import pickle
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np

from ml import history_store
from ml.forecaster import DemandForecast, DemandForecaster
from ml.panel import Panel
from ml.registry import SERVED_FILE, Registry
from ml.risk_dataset import FEATURES, features_at
from ml.risk_model import RISK_KIND, RuleScoreModel
from twin import risk as rule_risk

FORECAST_KIND = "forecaster"


class ServedModels:
    """The served forecaster and risk model of the registry under `root` (`<root>/models/<kind>`)."""

    def __init__(self, root: Path | str):
        self.registry = Registry(root)
        self._lock = threading.Lock()
        self._stamp: dict[str, tuple | None] = {}
        self._loaded: dict[str, tuple[str, object] | None] = {}

    # ------------------------------------------------------------- loading

    def _pointer_stamp(self, kind: str) -> tuple | None:
        try:
            st = os.stat(self.registry.kind_dir(kind) / SERVED_FILE)
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def refresh(self) -> dict[str, bool]:
        """Reload whatever kind's served pointer changed since the last load; says which did."""
        changed = {}
        with self._lock:
            for kind in (FORECAST_KIND, RISK_KIND):
                stamp = self._pointer_stamp(kind)
                changed[kind] = kind not in self._stamp or stamp != self._stamp[kind]
                if changed[kind]:
                    self._loaded[kind] = self._load(kind)
                    self._stamp[kind] = stamp
        return changed

    def _load(self, kind: str) -> tuple[str, object] | None:
        version = self.registry.served(kind)
        if version is None:
            return None
        data = self.registry.load_bytes(kind, version)
        if kind == FORECAST_KIND:
            return version, DemandForecaster.from_bytes(data)
        return version, pickle.loads(data)  # noqa: S301 - our own registry's files

    def _served(self, kind: str) -> tuple[str, object] | None:
        self.refresh()
        return self._loaded.get(kind)

    # ------------------------------------------------------------- serving

    def forecast(self, panel: Panel, rain_forecast_mm: np.ndarray | None = None) -> DemandForecast | None:
        """Every school's next 7 school days (P10, P50, P90 meals) from the end of `panel`; sum with
        `.aggregate('block' | 'district')`. `rain_forecast_mm` [7, districts]: a rain forecast for
        those days (without one, each district's mean of the panel's last four weeks). None when no
        forecaster is served yet."""
        served = self._served(FORECAST_KIND)
        if served is None:
            return None
        return served[1].forecast(panel, rain_forecast_mm)

    def risk(self, panel: Panel, schools: np.ndarray | None = None, explain: bool = True) -> dict | None:
        """The served risk model's probability of a shortage or a day without a meal in the next 7
        days for every school of `panel` at the end of its last day (which needs 30 days of history),
        and, for the schools with UDISE ids in `schools` (None: all), each probability's exact
        decomposition: base + sum of contributions == probability. Scored over the whole panel, so
        the block features see every school of the block. None when no model is served yet."""
        served = self._served(RISK_KIND)
        if served is None:
            return None
        version, model = served
        rows = features_at(panel)
        x = rows.rule_points if isinstance(model, RuleScoreModel) else rows.features
        names = rule_risk.FACTORS if isinstance(model, RuleScoreModel) else FEATURES
        probability = model.predict(x)
        out = {"version": version, "model": model.name, "day": str(panel.dates[-1]),
               "school_id": panel.school_id.astype(np.int64), "probability": probability,
               "rule_score": rows.rule_score, "features": tuple(names), "explanations": []}
        if explain:
            pick = np.arange(panel.n_schools) if schools is None else np.flatnonzero(
                np.isin(panel.school_id, np.asarray(schools)))
            base, contributions = model.explain_many(x[pick])
            out["explanations"] = [
                {"school_id": int(panel.school_id[i]), "probability": float(probability[i]), "base": float(b),
                 "contributions": {names[j]: float(c[j]) for j in np.argsort(-np.abs(c)).tolist()}}
                for i, b, c in zip(pick.tolist(), base, contributions)
            ]
        return out

    def versions(self) -> dict:
        """What is served now: per kind, the version, its model and backtest figures (None if nothing)."""
        out = {}
        for kind in (FORECAST_KIND, RISK_KIND):
            served = self._served(kind)
            if served is None:
                out[kind] = None
                continue
            meta = self.registry.meta(kind, served[0])
            out[kind] = {"version": served[0], "model": meta.get("model"), "metrics": meta.get("metrics", {}),
                         "training_window": meta.get("training_window", {}), "created_at": meta.get("created_at"),
                         "code_version": meta.get("code_version"), "data_hash": meta.get("data", {}).get("hash")}
        return out


# ----------------------------------------------------------------- the live twin's history


def append_live_days(root: Path | str, panel: Panel) -> int:
    """Write the live twin's days (`ml.live_panel.panel_from_states`) into the history store under
    `root`, replacing days already there; returns the number of days written. The live panel is
    laid onto the store's schools: a store school the twin does not know reads as not reported on
    those days, a twin school the store does not hold is left out (a store holds one set of
    schools). Rain is what the live panel carries: climate normals, the twin having no rain reports.
    Without a store yet, the live panel's schools start one."""
    if not history_store.has_schools(root):
        history_store.write_schools(root, panel, {"source": "live twin"})
        history_store.append_days(root, panel)
        return panel.n_days
    schools = history_store.load_schools(root)
    history_store.append_days(root, align_to_schools(panel, *(schools[c] for c in ("school_id", "district", "block"))))
    return panel.n_days


def align_to_schools(panel: Panel, school_id: np.ndarray, district: np.ndarray, block: np.ndarray) -> Panel:
    """`panel` with the given schools as its columns, in their order; a school missing from `panel`
    has no reports, no meals and unknown balances."""
    order = np.argsort(panel.school_id)
    pos = np.clip(np.searchsorted(panel.school_id[order], school_id), 0, max(panel.n_schools - 1, 0))
    found = (panel.school_id[order][pos] == school_id) if panel.n_schools else np.zeros(school_id.size, bool)
    source = order[pos] if panel.n_schools else np.zeros(school_id.size, np.int64)
    t, s = panel.n_days, school_id.size
    changes = {"school_id": np.asarray(school_id, np.int64), "district": np.asarray(district, np.int16),
               "block": np.asarray(block, np.int32)}
    fill = {"enrolment": 0.0, "open": False, "reported": False, "present": np.nan, "meals": np.nan,
            "no_meal": False, "shortage": False, "rice_days": np.nan, "funds_days": np.nan}
    for name, missing in fill.items():
        values = getattr(panel, name)
        out = np.full((t, s), missing, values.dtype)
        out[:, found] = values[:, source[found]]
        changes[name] = out
    return replace(panel, **changes)
