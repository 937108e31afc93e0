"""Rolling-origin backtest of the demand forecasters, and the choice of the model to serve.

Every model is fitted on the panel up to and including the first origin, and only on that: the
panel handed to `fit` ends at the origin, so nothing after it can leak into training. The origin
then rolls forward through the later period, every `step_days` days; at each one the models see the
history up to the origin (and the rain that actually fell on the days ahead, as a perfect weather
forecast) and forecast every school's next HORIZON school days. With `refit_every`, models are refitted
on everything up to every that-many-th origin, again never beyond it.

Scoring counts school days on which the school was open (its true meals), at three levels: each
school, and the sums over the schools of each block and of each district (errors partly cancel in a
sum, so aggregates score better). The served model is the one with the lowest school-level WAPE, the
level at which cooks and depots plan.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from ml.forecast_features import HORIZON, next_school_days, serving_inputs
from ml.forecast_metrics import bias, interval_coverage, mase, seasonal_naive_scale, wape
from ml.panel import Panel
from twin import geography

LEVELS = ("school", "block", "district")
ModelFactory = Callable[[], object]  # returns an unfitted model with fit(panel) and predict(inputs)


@dataclass
class GroupScores:
    """Per-group accuracy at one level: keys are school ids, block indices or district indices."""

    keys: np.ndarray
    wape: np.ndarray
    bias: np.ndarray
    mase: np.ndarray


@dataclass
class BacktestResult:
    models: list[str]
    origin_dates: np.ndarray  # datetime64[D] [O]
    target_dates: np.ndarray  # datetime64[D] [O, H]
    actual: np.ndarray  # [O, S, H] true meals, NaN where the school was closed
    forecast: dict[str, np.ndarray]  # model -> [O, S, H, 3] P10, P50, P90 meals
    fit_seconds: dict[str, float]
    summary: dict[str, dict[str, dict[str, float]]]  # model -> level -> metric -> value
    groups: dict[str, dict[str, GroupScores]]  # model -> level -> per-group scores
    served_model: str
    report: dict = field(default_factory=dict)


def backtest_origins(panel: Panel, first_origin: np.datetime64 | dt.date | str, step_days: int) -> np.ndarray:
    """Panel rows of the origins: from `first_origin`, every `step_days` days, as long as the
    HORIZON school days after the origin are inside the panel."""
    first = int(np.searchsorted(panel.dates, np.datetime64(first_origin, "D")))
    rows = []
    for o in range(first, panel.n_days, step_days):
        last_target = np.datetime64(next_school_days(panel.dates[o].astype(dt.date))[-1], "D")
        if last_target > panel.dates[-1]:
            break
        rows.append(o)
    return np.array(rows, np.int64)


def run_backtest(
    panel: Panel,
    models: Mapping[str, ModelFactory],
    first_origin: np.datetime64 | dt.date | str,
    step_days: int = 5,
    refit_every: int | None = None,
) -> BacktestResult:
    """Fit every model (`models` maps a name to a factory of unfitted models) on the panel up to
    `first_origin`, forecast from every origin, score, and pick the model to serve."""
    origins = backtest_origins(panel, first_origin, step_days)
    if origins.size == 0:
        raise ValueError("no origin has its forecast days inside the panel")
    start = panel.dates[0]
    n_o, n_s = origins.size, panel.n_schools
    actual = np.full((n_o, n_s, HORIZON), np.nan, np.float32)
    target_dates = np.zeros((n_o, HORIZON), "datetime64[D]")
    forecast = {name: np.zeros((n_o, n_s, HORIZON, 3), np.float32) for name in models}
    fit_seconds = dict.fromkeys(models, 0.0)
    fitted: dict[str, object] = {}

    for i, o in enumerate(origins.tolist()):
        until_origin = panel.days(start, panel.dates[o] + 1)  # everything any model may see at this origin
        if i == 0 or (refit_every and i % refit_every == 0):
            for name, make in models.items():
                began = time.perf_counter()
                fitted[name] = make().fit(until_origin)
                fit_seconds[name] += time.perf_counter() - began
        dates = np.array(next_school_days(panel.dates[o].astype(dt.date)), "datetime64[D]")
        rows = o + (dates - panel.dates[o]).astype(np.int64)
        target_dates[i] = dates
        actual[i] = np.where(panel.open[rows], panel.meals[rows], np.nan).T
        # The rain that fell on the days ahead stands in for a perfect weather forecast.
        inputs = serving_inputs(until_origin, rain_ahead_mm=panel.rainfall_mm[rows])
        for name, model in fitted.items():
            forecast[name][i] = model.predict(inputs)

    training = panel.days(start, panel.dates[origins[0]] + 1)
    summary, groups = {}, {}
    for name in models:
        summary[name], groups[name] = _score(panel, training, actual, forecast[name])
    served = min(models, key=lambda m: summary[m]["school"]["wape"])
    result = BacktestResult(list(models), panel.dates[origins], target_dates, actual, forecast, fit_seconds,
                            summary, groups, served)  # fmt: skip
    result.report = accuracy_report(result, panel)
    return result


# ----------------------------------------------------------------- scoring


def _group_index(panel: Panel, level: str) -> tuple[np.ndarray, np.ndarray]:
    """Each school's group at `level` as positions 0..G-1, and the group keys."""
    if level == "school":
        return np.arange(panel.n_schools), panel.school_id
    values = panel.block if level == "block" else panel.district
    keys, index = np.unique(values, return_inverse=True)
    return index, keys


def _sum_by_group(values: np.ndarray, index: np.ndarray, n_groups: int) -> np.ndarray:
    """Sums over the last axis's schools into groups; NaN where no school of the group counts."""
    moved = np.moveaxis(values, -1, 0)  # [S, ...]
    counted = ~np.isnan(moved)
    total = np.zeros((n_groups,) + moved.shape[1:])
    count = np.zeros((n_groups,) + moved.shape[1:])
    np.add.at(total, index, np.where(counted, moved, 0.0))
    np.add.at(count, index, counted)
    return np.moveaxis(np.where(count > 0, total, np.nan), 0, -1)


def _score(panel: Panel, training: Panel, actual: np.ndarray, forecast: np.ndarray):
    """Summary and per-group scores of one model at every level."""
    counted = ~np.isnan(actual)
    p50 = np.where(counted, forecast[..., 1], np.nan)
    in_sample = np.where(training.open, training.meals, np.nan)  # [T, S] true meals on open days
    summary, groups = {}, {}
    for level in LEVELS:
        index, keys = _group_index(panel, level)
        g = keys.size
        # [O, H, G] actual and forecast sums of the schools counted in each cell
        a = _sum_by_group(np.moveaxis(actual, 1, -1), index, g)
        f = _sum_by_group(np.moveaxis(p50, 1, -1), index, g)
        scale = seasonal_naive_scale(_sum_by_group(in_sample, index, g))
        per = GroupScores(
            keys=keys,
            wape=np.array([wape(a[..., j], f[..., j]) for j in range(g)]),
            bias=np.array([bias(a[..., j], f[..., j]) for j in range(g)]),
            mase=np.array([mase(a[..., j], f[..., j], scale[j]) for j in range(g)]),
        )
        groups[level] = per
        summary[level] = {
            "wape": wape(a, f),  # pooled: every group's errors over every group's meals
            "bias": bias(a, f),
            "mase_mean": float(np.nanmean(per.mase)) if np.isfinite(per.mase).any() else float("nan"),
            "mase_median": float(np.nanmedian(per.mase)) if np.isfinite(per.mase).any() else float("nan"),
            "groups": int(g),
        }
    # Summed quantiles are not quantiles of a sum, so interval coverage is judged per school only.
    summary["school"]["coverage_p10_p90"] = interval_coverage(actual, forecast[..., 0], forecast[..., 2])
    summary["school"]["cells_scored"] = int(counted.sum())
    return summary, groups


# ----------------------------------------------------------------- the report


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def _origins_won(result: BacktestResult, model: str, other: str) -> tuple[int, int]:
    """At how many origins `model` had the lower school-level WAPE than `other`: a small overall
    margin won at most origins is a real lead, one won at half of them is a coin toss."""
    wins = 0
    for i in range(result.actual.shape[0]):
        a = result.actual[i]
        mine = wape(a, result.forecast[model][i, ..., 1])
        theirs = wape(a, result.forecast[other][i, ..., 1])
        wins += mine < theirs
    return int(wins), int(result.actual.shape[0])


def accuracy_report(result: BacktestResult, panel: Panel) -> dict:
    """A plain-language and numeric account of the backtest: which model won, by how much, and how
    the LSTM did, whether or not it won."""
    school_wape = {m: result.summary[m]["school"]["wape"] for m in result.models}
    ranking = sorted(result.models, key=lambda m: school_wape[m])
    winner = ranking[0]
    runner_up = ranking[1] if len(ranking) > 1 else None
    statement = f"Served model: {winner} (school-level WAPE {_pct(school_wape[winner])})."
    margin = None
    if runner_up is not None:
        margin = {
            "runner_up": runner_up,
            "wape_points": 100 * (school_wape[runner_up] - school_wape[winner]),
            "relative": (school_wape[runner_up] - school_wape[winner]) / school_wape[runner_up],
        }
        won, total = _origins_won(result, winner, runner_up)
        margin["origins_won"], margin["origins"] = won, total
        statement += (f" It beat {runner_up} by {margin['wape_points']:.2f} WAPE points "
                      f"({100 * margin['relative']:.1f}% lower error), with the lower WAPE at {won} of "
                      f"{total} origins.")  # fmt: skip
    lstm = None
    if "lstm" in result.models:
        gap = 100 * (school_wape["lstm"] - school_wape[winner])
        lstm = {"won": winner == "lstm", "wape": school_wape["lstm"], "rank": ranking.index("lstm") + 1,
                "gap_to_winner_points": gap}  # fmt: skip
        if winner != "lstm":
            statement += (f" The LSTM did not win: its school-level WAPE was {_pct(school_wape['lstm'])}, "
                          f"{gap:.2f} points behind {winner}; it is not served.")  # fmt: skip
    names = geography.district_names()
    models = {}
    for m in result.models:
        districts = result.groups[m]["district"]
        models[m] = {
            "fit_seconds": round(result.fit_seconds[m], 2),
            **{level: result.summary[m][level] for level in LEVELS},
            "per_district": {
                names[int(k)]: {"wape": float(w), "bias": float(b), "mase": float(s)}
                for k, w, b, s in zip(districts.keys, districts.wape, districts.bias, districts.mase)
            },
        }
    return {
        "served_model": winner,
        "selection": "lowest school-level WAPE over every school, open school day and origin",
        "ranking": ranking,
        "margin": margin,
        "lstm": lstm,
        "statement": statement,
        "data": {
            "schools": panel.n_schools,
            "training_days": int(np.searchsorted(panel.dates, result.origin_dates[0]) + 1),
            "training_until": str(result.origin_dates[0]),
            "origins": [str(d) for d in result.origin_dates],
            "horizon_school_days": HORIZON,
            "cells_scored": int((~np.isnan(result.actual)).sum()),
        },
        "models": models,
    }
