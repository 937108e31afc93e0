"""`DemandForecaster`: the meal-demand forecast as the rest of the twin uses it.

Fit on a panel, forecast each school's next HORIZON school days (P10, P50, P90 meals) from the
history up to an origin and an optional rainfall forecast, sum the forecasts to blocks and districts,
and turn a fitted forecaster into bytes for the model registry and back.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Protocol

import numpy as np

from ml.forecast_backtest import BacktestResult, run_backtest
from ml.forecast_baselines import GradientBoostingModel, SeasonalNaiveModel
from ml.forecast_features import HORIZON, ForecastInputs, serving_inputs
from ml.forecast_lstm import LSTMModel
from ml.panel import Panel

FORMAT_VERSION = 1


class ForecastModel(Protocol):
    name: str

    def fit(self, panel: Panel) -> ForecastModel: ...

    def predict(self, inputs: ForecastInputs) -> np.ndarray: ...


MODEL_CLASSES: dict[str, type] = {
    LSTMModel.name: LSTMModel,
    GradientBoostingModel.name: GradientBoostingModel,
    SeasonalNaiveModel.name: SeasonalNaiveModel,
}


def make_model(kind: str, **options) -> ForecastModel:
    try:
        return MODEL_CLASSES[kind](**options)
    except KeyError:
        raise ValueError(f"unknown forecast model {kind!r}; choose from {sorted(MODEL_CLASSES)}") from None


@dataclass
class AggregateForecast:
    """Forecast meals summed over the schools of each block or district.

    P50s add up; the summed P10 and P90 assume schools in a group move together, so the band is
    wider than a true 80% interval of the sum (schools share weather and holidays, but not every
    wobble): a conservative range for planning stock, not a calibrated interval."""

    level: str
    keys: np.ndarray  # block or district indices
    dates: np.ndarray  # datetime64[D] [H]
    p10: np.ndarray  # [G, H]
    p50: np.ndarray
    p90: np.ndarray


@dataclass
class DemandForecast:
    """Each school's next HORIZON school days."""

    origin: np.datetime64
    school_id: np.ndarray  # [S]
    district: np.ndarray  # [S]
    block: np.ndarray  # [S]
    dates: np.ndarray  # datetime64[D] [S, H]
    p10: np.ndarray  # float32 [S, H] meals
    p50: np.ndarray
    p90: np.ndarray

    def aggregate(self, level: str) -> AggregateForecast:
        """Sum to 'block' or 'district'. Every school in a panel shares the calendar, so day k ahead
        is the same date for all of them."""
        if level not in ("block", "district"):
            raise ValueError("level must be 'block' or 'district'")
        values = self.block if level == "block" else self.district
        keys, index = np.unique(values, return_inverse=True)
        sums = []
        for q in (self.p10, self.p50, self.p90):
            total = np.zeros((keys.size, q.shape[1]))
            np.add.at(total, index, q)
            sums.append(total)
        return AggregateForecast(level, keys, self.dates[0], *sums)


class DemandForecaster:
    """One of the forecast models ('lstm', 'gbm', 'seasonal_naive') behind a stable interface."""

    def __init__(self, kind: str = "lstm", **options):
        self.kind = kind
        self.options = options
        self.model = make_model(kind, **options)
        self.fitted = False

    def fit(self, panel: Panel) -> DemandForecaster:
        self.model = make_model(self.kind, **self.options).fit(panel)
        self.fitted = True
        return self

    def forecast(self, panel_until_origin: Panel, rain_forecast_mm: np.ndarray | None = None) -> DemandForecast:
        """Forecast from the end of `panel_until_origin` (its last day is the origin).

        `rain_forecast_mm` is [HORIZON, D]: the forecast rainfall of each district on each of the
        next HORIZON school days. Without one, each district's mean rain of the last four weeks is
        assumed."""
        if not self.fitted:
            raise RuntimeError("fit the forecaster first")
        inputs = serving_inputs(panel_until_origin, rain_forecast_mm)
        quantiles = self.model.predict(inputs)
        return DemandForecast(
            origin=panel_until_origin.dates[-1],
            school_id=panel_until_origin.school_id,
            district=panel_until_origin.district,
            block=panel_until_origin.block,
            dates=inputs.dates,
            p10=quantiles[..., 0].astype(np.float32),
            p50=quantiles[..., 1].astype(np.float32),
            p90=quantiles[..., 2].astype(np.float32),
        )

    def to_bytes(self) -> bytes:
        """The fitted forecaster for the model registry. Load only bytes the registry wrote: this
        is a pickle."""
        payload = {"format": FORMAT_VERSION, "kind": self.kind, "options": self.options,
                   "fitted": self.fitted, "model": self.model, "horizon": HORIZON}  # fmt: skip
        return pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def from_bytes(cls, data: bytes) -> DemandForecaster:
        payload = pickle.loads(data)
        if payload.get("format") != FORMAT_VERSION or payload.get("horizon") != HORIZON:
            raise ValueError("forecaster bytes are from an incompatible version")
        out = cls(payload["kind"], **payload["options"])
        out.model, out.fitted = payload["model"], payload["fitted"]
        return out


def candidate_factories(
    seed: int = 0, options: dict[str, dict] | None = None
) -> dict[str, Callable[[], ForecastModel]]:
    """Fresh-model factories for every kind, for the backtest; `options` per kind override defaults."""
    options = options or {}
    return {kind: partial(make_model, kind, seed=seed, **options.get(kind, {})) for kind in MODEL_CLASSES}


def select_and_fit(
    panel: Panel,
    first_origin: np.datetime64 | str,
    seed: int = 0,
    options: dict[str, dict] | None = None,
    step_days: int = 5,
) -> tuple[DemandForecaster, BacktestResult]:
    """Backtest every candidate from `first_origin` on, then fit the winner on the whole panel:
    the forecaster to serve and the backtest that chose it (its `report` says why)."""
    result = run_backtest(panel, candidate_factories(seed, options), first_origin, step_days=step_days)
    served = DemandForecaster(result.served_model, seed=seed, **(options or {}).get(result.served_model, {}))
    return served.fit(panel), result
