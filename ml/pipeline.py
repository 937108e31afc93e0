"""Retraining, the accuracy board and serving: what the API and the job runner call.

`retrain` reads a block sample of the history store (`ml.training_sample`), backtests and trains the
risk model (`ml.risk_model`: the backtest's choice is refitted on the latest labelled data) and the
demand forecaster (`ml.forecaster`), registers both in the model registry and serves each only if it
beats the served version. `accuracy` lists every version with its figures and the latest backtest's
comparison. `ServedModels` (in `ml.serving`) loads what is served. Everything here is synchronous
and CPU-bound: run it in a thread or a worker, never on an event loop.

Registry layout: `Registry(registry_root)` keeps `<registry_root>/models/<kind>/...`; by default the
registry root is the store root, so a store under `var/ml` has its models under `var/ml/models`.
Beside the served kinds, `risk_backtest` keeps each refitted risk version's backtest fit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ml import history_store
from ml.forecast_backtest import BacktestResult, backtest_origins, run_backtest as run_forecast_backtest
from ml.forecast_features import HISTORY_DAYS, HORIZON
from ml.forecast_metrics import wape
from ml.forecaster import DemandForecaster, candidate_factories
from ml.panel import Panel
from ml.registry import Registry, data_hash
from ml.risk_dataset import HORIZON_DAYS, LOOKBACK_DAYS, build_risk_dataset, origin_days
from ml.risk_model import CANDIDATES, RISK_KIND, RULE_SCORE, register_backtest, run_backtest
from ml.serving import FORECAST_KIND, ServedModels, append_live_days
from ml.training_sample import load_sample

__all__ = ["FORECAST_KIND", "RISK_KIND", "ServedModels", "accuracy", "append_live_days", "retrain"]

Progress = Callable[[str, float], None]

# The forecaster is trained on the latest months and backtested on rolling origins over the last
# weeks of them: recent enough to match how schools behave now, long enough to cover a few cycles
# of deliveries, exams and rain.
FORECAST_MONTHS = 12
FORECAST_BACKTEST_DAYS = 70
FORECAST_STEP_DAYS = 5
# The models' own defaults keep a full-state retrain within minutes on two cores: each trains on at
# most 120,000 sampled (origin, school) pairs, whatever the sample's size.


def _registry(root: Path | str, registry_root: Path | str | None) -> Registry:
    return Registry(Path(registry_root) if registry_root is not None else Path(root))


# ----------------------------------------------------------------- retraining


def retrain(
    root: Path,
    *,
    progress: Progress | None = None,
    seed: int = 0,
    forecast_schools: int = 3000,
    risk_rows: int = 300_000,
    registry_root: Path | None = None,
    forecast_months: int = FORECAST_MONTHS,
    forecast_backtest_days: int = FORECAST_BACKTEST_DAYS,
    forecast_models: tuple[str, ...] | None = None,
    forecast_options: dict[str, dict] | None = None,
    risk_candidates: tuple[str, ...] = CANDIDATES,
) -> dict:
    """Backtest, train, register and (only if better) serve the risk model and the forecaster from
    the history store under `root`. `progress(stage, fraction)` reports along the way.

    The sample: whole blocks of about `forecast_schools` schools. The risk model uses all stored
    days of the sample, at a stride between origin days that gives about `risk_rows` rows (at most
    `MAX_RISK_STRIDE_DAYS`, with schools drawn at each origin past it); the
    forecaster the last `forecast_months` months, backtested from rolling origins over the last
    `forecast_backtest_days` days that still have their forecast days inside the store.
    `forecast_models` narrows the forecaster's candidates (default: all); `forecast_options` and
    `risk_candidates` size or narrow the models. Returns what happened and why."""
    say = progress or (lambda stage, fraction: None)
    registry = _registry(root, registry_root)
    started = time.perf_counter()
    seconds: dict[str, float] = {}
    store = history_store.describe(root)
    if not store.get("months"):
        raise FileNotFoundError(f"no stored history under {root}")

    say("loading the history sample", 0.0)
    sample = load_sample(root, forecast_schools, seed, progress=lambda f: say("loading the history sample", 0.15 * f))
    seconds["load"] = time.perf_counter() - started
    description = {"store_root": str(root), "store_first_day": store["first_day"], "store_last_day": store["last_day"],
                   "store_meta": store.get("meta", {}), "sample": sample.describe(seed)}

    mark = time.perf_counter()
    risk = _retrain_risk(registry, sample.panel, description, seed, risk_rows, risk_candidates,
                         lambda f: say("risk model", 0.15 + 0.3 * f))
    seconds["risk"] = time.perf_counter() - mark

    mark = time.perf_counter()
    forecast = _retrain_forecaster(registry, sample.panel, description, seed, forecast_months, forecast_backtest_days,
                                   forecast_models, forecast_options,
                                   lambda f: say("demand forecaster", 0.45 + 0.55 * f))
    seconds["forecaster"] = time.perf_counter() - mark
    seconds["total"] = time.perf_counter() - started
    say("done", 1.0)
    return {
        "forecaster": forecast,
        "risk": risk,
        "sample": description["sample"],
        "seconds": {k: round(v, 1) for k, v in seconds.items()},
        "statement": f"{forecast['statement']} {risk['statement']}",
    }


# The widest gap between origin days. Past it a large sample would keep only a handful of days
# (43,000 schools in 300,000 rows: one origin every 150 days, seven in three years), leaving the
# validation window empty and the model blind to the seasons; schools are drawn per origin instead.
MAX_RISK_STRIDE_DAYS = 12


def _risk_origins(n_days: int, n_schools: int, risk_rows: int) -> tuple[int, int | None]:
    """Days between origin days, and how many schools to draw at each (None: all), so that
    schools x origins is about `risk_rows`. A multiple of 7 would put every origin on the same
    weekday, so those are moved up by one."""
    usable = max(n_days - LOOKBACK_DAYS - HORIZON_DAYS, 1)
    stride = max(1, int(usable * n_schools // max(risk_rows, 1)))
    stride = stride + 1 if stride % 7 == 0 else stride
    if stride <= MAX_RISK_STRIDE_DAYS:
        return stride, None
    per_origin = -(-risk_rows // max(usable // MAX_RISK_STRIDE_DAYS, 1))
    return MAX_RISK_STRIDE_DAYS, min(per_origin, n_schools)


def _retrain_risk(registry: Registry, panel: Panel, description: dict, seed: int, risk_rows: int,
                  candidates: tuple[str, ...], say: Callable[[float], None]) -> dict:
    stride, per_origin = _risk_origins(panel.n_days, panel.n_schools, risk_rows)
    say(0.0)
    data = build_risk_dataset(panel, origin_days(panel, stride), schools_per_origin=per_origin, seed=seed)
    say(0.15)
    messages: list[str] = []
    fit_seconds: dict[str, float] = {}
    began = {"at": time.perf_counter()}

    def step(message: str) -> None:
        """The backtest says "fitting <name> ..." before a candidate and "<name>: ..." once it is
        fitted, calibrated and scored: the time between the two is that candidate's."""
        messages.append(message)
        name = message.split(":")[0]
        if message.startswith("fitting "):
            began["at"] = time.perf_counter()
        elif name in candidates:
            fit_seconds[name] = round(time.perf_counter() - began["at"], 2)
        say(0.15 + 0.75 * min(len(messages) / (2 * len(candidates)), 1.0))

    backtest = run_backtest(data, candidates, seed=seed, max_train_rows=risk_rows, max_valid_rows=risk_rows, say=step)
    served_before = registry.served(RISK_KIND)
    meta_description = {**description, "stride_days": stride, "schools_per_origin": per_origin,
                        "rows_built": len(data)}
    registering = time.perf_counter()
    version, promoted = register_backtest(registry, backtest, data, meta_description, seed)
    register_seconds = time.perf_counter() - registering  # mostly the refit of the backtest's choice
    say(1.0)
    meta = registry.meta(RISK_KIND, version)
    brier = meta["metrics"]["brier"]
    incumbent = meta.get("served_model_brier_on_this_test")
    rule = backtest.metrics[RULE_SCORE]
    why = _risk_promotion_reason(promoted, served_before, brier, incumbent, registry)
    window = meta["training_window"]
    refit = (f"refitted on origins {window['first_origin']} to {window['last_origin']}, calibrated on "
             f"{' to '.join(window['calibration'])}" if meta["refit"] else "served as backtested")
    statement = (f"Risk {version} ({backtest.served}, Brier {brier:.5f}, ROC-AUC {meta['metrics']['roc_auc']:.3f}; "
                 f"rule score Brier {rule['brier']:.5f}, ROC-AUC {rule['roc_auc']:.3f}; {refit}) "
                 f"{'is now served' if promoted else 'was registered but not served'}: {why}.")
    return {"version": version, "promoted": promoted, "served": registry.served(RISK_KIND),
            "replaced": served_before if promoted else None, "model": backtest.served, "metrics": meta["metrics"],
            "rule_metrics": rule, "all_metrics": backtest.metrics, "incumbent_brier": incumbent,
            "incumbent_basis": meta["served_model_comparison"], "training_window": window,
            "backtest_window": meta["backtest_window"], "stride_days": stride, "fit_seconds": fit_seconds,
            "register_seconds": round(register_seconds, 2), "rows": backtest.rows,
            "refit_rows": meta["refit"]["rows"] if meta["refit"] else None, "reason": why, "statement": statement}


def _risk_promotion_reason(promoted: bool, served_before: str | None, brier: float, incumbent: float | None,
                           registry: Registry) -> str:
    """Why a risk version is served or not: compared with the served version's backtest re-scored
    on the same test rows, or, when that one has seen them, with the figure it recorded."""
    if served_before is None:
        return "nothing was served before"
    verb = "beats" if promoted else "does not beat"
    if incumbent is not None:
        return f"its test Brier {brier:.5f} {verb} the served {served_before}'s {incumbent:.5f} on the same test rows"
    recorded = registry.meta(RISK_KIND, served_before).get("metrics", {}).get("brier")
    if recorded is None:
        return f"the served {served_before} has no Brier score to compare with"
    return (f"its test Brier {brier:.5f} {verb} the served {served_before}'s {recorded:.5f} as recorded in its own "
            f"backtest (whose fit learned from this test window, so it cannot be re-scored fairly here)")


def forecast_window(panel: Panel, months: int, backtest_days: int) -> tuple[Panel, np.datetime64]:
    """The last `months` months of `panel` and the first backtest origin: `backtest_days` before
    the latest day whose next HORIZON school days are still inside the panel."""
    first_month = np.datetime64(panel.dates[-1], "M") - (months - 1)
    recent = panel.days(first_month.astype("datetime64[D]"), panel.dates[-1] + 1)
    origins = backtest_origins(recent, recent.dates[0], 1)
    if origins.size == 0:
        raise ValueError("the panel is too short for a forecast backtest")
    last_origin = recent.dates[origins[-1]]
    # the models need a few weeks of history before the first origin to train on at all
    earliest = recent.dates[0] + np.timedelta64(HISTORY_DAYS + 2 * HORIZON, "D")
    return recent, max(last_origin - np.timedelta64(backtest_days, "D"), earliest)


def _retrain_forecaster(registry: Registry, panel: Panel, description: dict, seed: int, months: int,
                        backtest_days: int, models: tuple[str, ...] | None, options: dict[str, dict] | None,
                        say: Callable[[float], None]) -> dict:
    recent, first_origin = forecast_window(panel, months, backtest_days)
    options = options or {}
    say(0.0)
    # forecaster.select_and_fit, with the candidates narrowed to `models`
    factories = {k: f for k, f in candidate_factories(seed, options).items() if models is None or k in models}
    result = run_forecast_backtest(recent, factories, first_origin, step_days=FORECAST_STEP_DAYS)
    say(0.7)
    fit_began = time.perf_counter()
    served = DemandForecaster(result.served_model, seed=seed, **options.get(result.served_model, {})).fit(recent)
    final_fit_seconds = time.perf_counter() - fit_began
    say(0.9)
    report = dict(result.report)
    summary = result.summary[result.served_model]
    metrics = {
        "wape": summary["school"]["wape"],
        "mase": summary["school"]["mase_mean"],
        "bias": summary["school"]["bias"],
        "coverage_p10_p90": summary["school"]["coverage_p10_p90"],
        "block_wape": summary["block"]["wape"],
        "district_wape": summary["district"]["wape"],
    }
    meta = {
        "model": result.served_model,
        "metrics": metrics,
        "backtest": {"models": {m: {level: result.summary[m][level] for level in result.summary[m]}
                                for m in result.models},
                     "fit_seconds": result.fit_seconds, "report": report},
        "training_window": {"first_day": str(recent.dates[0]), "last_day": str(recent.dates[-1]),
                            "backtest_fit_until": str(result.origin_dates[0]),
                            "backtest_origins": [str(result.origin_dates[0]), str(result.origin_dates[-1])]},
        "data": {**description, "schools": recent.n_schools, "days": recent.n_days,
                 "hash": data_hash(recent.meals, recent.open, recent.rainfall_mm)},
        "options": options.get(result.served_model, {}),
        "horizon_school_days": HORIZON,
        "seed": seed,
    }
    served_before = registry.served(FORECAST_KIND)
    incumbent, basis = _incumbent_wape(registry, served_before, recent, result)
    meta["served_model_wape_on_this_backtest"] = incumbent if basis == "rescored" else None
    version = registry.register(FORECAST_KIND, served.to_bytes(), meta)
    promoted = registry.promote_if_better(FORECAST_KIND, version, "wape", higher_is_better=False,
                                          incumbent_value=incumbent)
    say(1.0)
    candidate = metrics["wape"]
    if promoted and served_before is None:
        why = "nothing was served before"
    elif incumbent is None:
        why = f"the served {served_before} has no WAPE to compare with"
    else:
        where = ("re-scored on this backtest's origins" if basis == "rescored"
                 else "as recorded in its own backtest (its training overlaps this backtest, so it cannot be "
                      "re-scored fairly here)")
        verb = "beats" if promoted else "does not beat"
        why = f"its WAPE {candidate:.4f} {verb} the served {served_before}'s {incumbent:.4f} {where}"
    statement = (f"Forecaster {version} ({result.served_model}, school WAPE {candidate:.4f}) "
                 f"{'is now served' if promoted else 'was registered but not served'}: {why}. {report['statement']}")
    return {"version": version, "promoted": promoted, "served": registry.served(FORECAST_KIND),
            "replaced": served_before if promoted else None, "model": result.served_model, "metrics": metrics,
            "incumbent_wape": incumbent, "incumbent_basis": basis,
            "wape": {m: result.summary[m]["school"]["wape"] for m in result.models},
            "mase": {m: result.summary[m]["school"]["mase_mean"] for m in result.models},
            "fit_seconds": result.fit_seconds, "final_fit_seconds": round(final_fit_seconds, 1),
            "cells_scored": report["data"]["cells_scored"], "reason": why, "statement": statement}


def _incumbent_wape(registry: Registry, served: str | None, panel: Panel,
                    result: BacktestResult) -> tuple[float | None, str]:
    """The served forecaster's school-level WAPE to beat. Re-scored on this backtest's origins when
    its training ended before them (a fair, out-of-sample comparison on the same days); otherwise
    the figure from its own backtest."""
    if served is None:
        return None, "none"
    meta = registry.meta(FORECAST_KIND, served)
    trained_until = np.datetime64(meta.get("training_window", {}).get("last_day", "9999-12-31"), "D")
    if trained_until < result.origin_dates[0]:
        model = DemandForecaster.from_bytes(registry.load_bytes(FORECAST_KIND, served))
        p50 = np.zeros(result.actual.shape, np.float32)
        for i, origin in enumerate(result.origin_dates):
            rows = np.searchsorted(panel.dates, result.target_dates[i])
            until = panel.days(panel.dates[0], origin + 1)
            # the rain that fell stands in for a perfect forecast, as it did for the candidate
            p50[i] = model.forecast(until, panel.rainfall_mm[rows]).p50
        return wape(result.actual, p50), "rescored"
    recorded = meta.get("metrics", {}).get("wape")
    return (float(recorded) if recorded is not None else None), "recorded"


# ----------------------------------------------------------------- the accuracy board


def _version_row(meta: dict, served: str | None) -> dict:
    return {
        "version": meta["version"],
        "model": meta.get("model"),
        "served": meta["version"] == served,
        "metrics": meta.get("metrics", {}),
        "training_window": meta.get("training_window", {}),
        "data": {k: v for k, v in meta.get("data", {}).items() if k != "store_meta"},
        "data_hash": meta.get("data", {}).get("hash"),
        "code_version": meta.get("code_version"),
        "created_at": meta.get("created_at"),
    }


def accuracy(root: Path, registry_root: Path | None = None) -> dict:
    """Every registered version of both kinds (served one marked), the latest backtest's comparison
    of the candidates and a plain statement of which won."""
    registry = _registry(root, registry_root)
    out: dict = {}
    for kind in (FORECAST_KIND, RISK_KIND):
        served = registry.served(kind)
        metas = registry.list(kind)
        latest = metas[-1] if metas else None
        out[kind] = {
            "served": served,
            "versions": [_version_row(m, served) for m in metas],
            "latest_backtest": (_forecast_comparison(latest) if kind == FORECAST_KIND else _risk_comparison(latest))
            if latest else None,
        }
    return out


def _forecast_comparison(meta: dict) -> dict:
    models = meta["backtest"]["models"]
    table = {m: {"wape": s["school"]["wape"], "mase": s["school"]["mase_mean"], "bias": s["school"]["bias"],
                 "coverage_p10_p90": s["school"].get("coverage_p10_p90"), "block_wape": s["block"]["wape"],
                 "district_wape": s["district"]["wape"],
                 "fit_seconds": meta["backtest"].get("fit_seconds", {}).get(m)}
             for m, s in models.items()}
    return {"version": meta["version"], "table": table, "winner": meta["model"],
            "origins": meta["training_window"].get("backtest_origins"),
            "statement": meta["backtest"]["report"]["statement"]}


def _risk_comparison(meta: dict) -> dict:
    metrics = meta["backtest"]["metrics"]
    winner = meta["backtest"]["served"]
    rule = metrics.get(RULE_SCORE, {})
    won = metrics[winner]
    statement = (f"{winner} had the lowest test Brier score ({won['brier']:.5f}, skill {won['brier_skill']:.3f}, "
                 f"ROC-AUC {won['roc_auc']:.3f})")
    if winner != RULE_SCORE and rule:
        statement += (f"; the rule-based score, calibrated on the same validation window, scored Brier "
                      f"{rule['brier']:.5f} and ROC-AUC {rule['roc_auc']:.3f}")
    return {"version": meta["version"], "table": metrics, "winner": winner, "split": meta["backtest"]["split"],
            "rows": meta["backtest"]["rows"], "statement": statement + "."}

