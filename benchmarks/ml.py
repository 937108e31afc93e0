"""`mealtwin bench ml`: the learned models end to end at the scale of Tamil Nadu.

A multi-year daily history of `schools` schools (generated from the world model, or reused from a
given store that already holds that many), then the full retrain (`ml.pipeline.retrain`: block
sample, risk backtest against the rule score, rolling-origin forecast backtest of the LSTM, gradient
boosting and the seasonal naive, the winner refitted and registered) into a fresh registry, timing
each model's training. Finally the served forecaster forecasts the next 7 school days of every
school from a live-like panel: the store's last 35 days of all schools, with rain replaced by the
district climate normals as the live twin has it (`ml.live_panel`), summed to blocks and districts.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from ml import history_store
from ml.forecaster import AggregateForecast, DemandForecast
from ml.history_writer import write_history, years_before
from ml.panel import Panel
from ml.pipeline import retrain
from ml.risk_model import RULE_SCORE
from ml.serving import ServedModels
from simulation.world import district_rain_normals

LIVE_DAYS = 35  # the live twin keeps this many days of reports per school
TARGET_WAPE_RATIO = 0.9  # the served forecaster's WAPE at most this times the seasonal naive's
TARGET_FORECAST_ALL_S = 120.0

Say = Callable[[str], None]


def ensure_history(store: Path, schools: int, years: int, end: dt.date, seed: int, say: Say) -> dict:
    """The history store under `store`, generated unless it already holds `schools` schools."""
    info = history_store.describe(store)
    if info.get("months"):
        if info["schools"] != schools:
            raise ValueError(f"{store} holds {info['schools']} schools, not {schools}: give another --store")
        say(f"reusing the history in {store}: {info['schools']:,} schools, {info['first_day']} to {info['last_day']}")
        return {**info, "generated_s": None}
    say(f"generating {years} years of history of {schools:,} schools into {store}")
    began = time.perf_counter()
    write_history(store, schools, seed, years_before(end, years), end)
    return {**history_store.describe(store), "generated_s": round(time.perf_counter() - began, 1)}


def live_like_panel(store: Path, days: int = LIVE_DAYS) -> Panel:
    """Every school's last `days` stored days, with rain as the live twin knows it: climate normals."""
    last = np.datetime64(history_store.describe(store)["last_day"], "D")
    panel = history_store.load_panel(store, last - days + 1, last + 1)
    months = (panel.dates.astype("datetime64[M]").astype(np.int64) % 12).astype(np.int64)
    return replace(panel, rainfall_mm=district_rain_normals()[:, months].T.astype(np.float32))


def run(schools: int = 43_000, store: Path | None = None, seed: int = 0, years: int = 3,
        end: dt.date = dt.date(2026, 6, 1), forecast_schools: int = 3000, risk_rows: int = 300_000,
        say: Say | None = None) -> dict:
    """The whole run (see module); models go to a temporary registry, removed afterwards, and so
    does a generated history unless `store` names where to keep it."""
    say = say or (lambda message: None)
    scratch = Path(tempfile.mkdtemp(prefix="mealtwin-bench-ml-"))
    try:
        store = Path(store) if store is not None else scratch / "store"
        info = ensure_history(store, schools, years, end, seed, say)
        registry = scratch / "registry"  # fresh: the bench always trains from nothing served
        say("retraining (risk backtest, forecast backtest, final fit)")
        began = time.perf_counter()
        report = retrain(store, registry_root=registry, seed=seed, forecast_schools=forecast_schools,
                         risk_rows=risk_rows, progress=lambda stage, fraction: None)
        retrain_s = time.perf_counter() - began

        say("forecasting every school from a live-like panel")
        panel = live_like_panel(store)
        served = ServedModels(registry)
        load_began = time.perf_counter()
        served.refresh()
        load_s = time.perf_counter() - load_began
        began = time.perf_counter()
        forecast = served.forecast(panel)
        blocks, districts = forecast.aggregate("block"), forecast.aggregate("district")
        forecast_all_s = time.perf_counter() - began
        began = time.perf_counter()
        scored = served.risk(panel, explain=False)
        risk_all_s = time.perf_counter() - began
        began = time.perf_counter()
        explained = served.risk(panel)  # every school's probability split into its features' shares
        risk_explain_all_s = time.perf_counter() - began
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return summarise(report, info, panel, forecast, blocks, districts, retrain_s, load_s, forecast_all_s, scored,
                     risk_all_s, len(explained["explanations"]), risk_explain_all_s)


def summarise(report: dict, info: dict, panel: Panel, forecast: DemandForecast, blocks: AggregateForecast,
              districts: AggregateForecast, retrain_s: float, load_s: float, forecast_all_s: float, scored: dict,
              risk_all_s: float, explained: int, risk_explain_all_s: float) -> dict:
    """The figures of one run, with the targets' pass/fail."""
    fc, risk = report["forecaster"], report["risk"]
    backtest = risk["all_metrics"]
    learned = {name: m for name, m in backtest.items() if name != RULE_SCORE}
    best_learned = min(learned, key=lambda name: learned[name]["brier"])
    served_wape = fc["wape"][fc["model"]]
    ratio = served_wape / fc["wape"]["seasonal_naive"]
    risk_auc, rule_auc = learned[best_learned]["roc_auc"], backtest[RULE_SCORE]["roc_auc"]
    brier_skill = learned[best_learned]["brier_skill"]
    return {
        "wape": fc["wape"],
        "mase": fc["mase"],
        "served_forecaster": fc["model"],
        "served_wape_over_naive": ratio,
        "risk_model": best_learned,
        "risk_auc": risk_auc,
        "risk_brier_skill": brier_skill,
        "risk_brier": learned[best_learned]["brier"],
        "rule_auc": rule_auc,
        "rule_brier_skill": backtest[RULE_SCORE]["brier_skill"],
        "risk_served": risk["model"],
        "risk_candidates": {name: {k: m[k] for k in ("roc_auc", "pr_auc", "brier", "brier_skill")}
                            for name, m in backtest.items()},
        "train_s": {**{k: round(v, 1) for k, v in fc["fit_seconds"].items()},
                    "served_forecaster_final_fit": fc.get("final_fit_seconds"),
                    **{f"risk_{k}": v for k, v in risk["fit_seconds"].items()}},
        "retrain_s": round(retrain_s, 1),
        "retrain_stages_s": report["seconds"],
        "forecast_all_s": round(forecast_all_s, 2),
        "forecast_load_s": round(load_s, 2),
        "risk_all_s": round(risk_all_s, 2),
        "risk_explain_all_s": round(risk_explain_all_s, 2),
        "risk_explained_schools": explained,
        "forecast": {"schools": int(forecast.p50.shape[0]), "days": int(forecast.p50.shape[1]),
                     "blocks": int(blocks.keys.size), "districts": int(districts.keys.size),
                     "origin": str(forecast.origin), "state_total_p50_first_day": float(districts.p50[:, 0].sum())},
        "risk_scored_schools": int(scored["probability"].size),
        "data": {"store_schools": info["schools"], "store_first_day": info["first_day"],
                 "store_last_day": info["last_day"], "store_rows": info["rows"], "store_bytes": info["bytes"],
                 "history_generated_s": info.get("generated_s"), "sample": report["sample"],
                 "risk_rows": risk["rows"], "risk_stride_days": risk["stride_days"],
                 "forecast_backtest_cells": fc.get("cells_scored"), "live_panel_days": int(panel.n_days)},
        "targets": {
            "served_wape_at_most_0_9_naive": bool(ratio <= TARGET_WAPE_RATIO),
            "forecast_all_s_at_most_120": bool(forecast_all_s <= TARGET_FORECAST_ALL_S),
            "risk_brier_skill_above_0": bool(brier_skill > 0),
            "risk_auc_above_rule_auc": bool(risk_auc > rule_auc),
        },
    }
