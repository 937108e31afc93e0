"""Baselines the LSTM has to beat: a calendar-aware seasonal naive and gradient boosting.

Both work on the same `ForecastInputs` as the LSTM and return meals as [N, HORIZON, 3] quantiles
(P10, P50, P90).
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from ml.forecast_features import (
    FUTURE_FEATURES,
    HORIZON,
    QUANTILES,
    RAIN_FEATURE,
    SAME_WEEKDAY_FEATURE,
    STATIC_FEATURES,
    ForecastInputs,
    training_inputs,
)
from ml.panel import Panel


class SeasonalNaiveModel:
    """Each school day ahead gets the meals of the same weekday in the latest school week the school
    was open and reported (an exam day preferably from an exam day), skipping holidays and closures;
    the school's recent level when there is none. Intervals are the spread of its own errors in training."""

    name = "seasonal_naive"

    def __init__(self, max_pairs: int = 200_000, seed: int = 0):
        self.max_pairs = max_pairs
        self.seed = seed
        self.residual_quantiles = np.zeros(len(QUANTILES), np.float32)

    @staticmethod
    def point_ratio(inputs: ForecastInputs) -> np.ndarray:
        """[N, H] the naive forecast on the models' scale (meals / enrolment - level)."""
        return inputs.future[:, :, SAME_WEEKDAY_FEATURE]

    def fit(self, panel: Panel) -> SeasonalNaiveModel:
        inputs = training_inputs(panel, self.max_pairs, self.seed)
        errors = (inputs.target_ratio() - self.point_ratio(inputs))[inputs.known]
        if errors.size:
            self.residual_quantiles = np.quantile(errors, QUANTILES).astype(np.float32)
            self.residual_quantiles[1] = 0.0  # the point forecast is the naive value itself
        return self

    def predict(self, inputs: ForecastInputs) -> np.ndarray:
        ratio = self.point_ratio(inputs)[:, :, None] + self.residual_quantiles[None, None, :]
        return np.sort(inputs.to_meals(ratio), axis=-1)


def gbm_design(inputs: ForecastInputs) -> np.ndarray:
    """One row per (pair, day ahead): that day's known inputs, then the pair's static inputs."""
    static = np.repeat(inputs.static[:, None, :], HORIZON, axis=1)
    return np.concatenate([inputs.future, static], axis=-1).reshape(-1, len(FUTURE_FEATURES) + len(STATIC_FEATURES))


class GradientBoostingModel:
    """Histogram gradient boosting, one quantile (pinball-loss) model per quantile, on the same
    inputs as the LSTM minus the raw history (it gets the history's summaries instead).

    Rain on the day is constrained to act monotonically downwards: more rain never brings more
    children, and without the constraint a tree can learn the odd upward step from noise."""

    name = "gbm"

    def __init__(self, max_pairs: int = 120_000, max_iter: int = 300, learning_rate: float = 0.08,
                 max_leaf_nodes: int = 31, seed: int = 0):
        self.max_pairs = max_pairs
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.seed = seed
        self.models: list[HistGradientBoostingRegressor] = []

    def fit(self, panel: Panel) -> GradientBoostingModel:
        inputs = training_inputs(panel, self.max_pairs, self.seed)
        x = gbm_design(inputs)
        y = inputs.target_ratio().reshape(-1)
        keep = ~np.isnan(y)
        monotonic = np.zeros(x.shape[1], np.int8)
        monotonic[RAIN_FEATURE] = -1
        self.models = []
        with threadpool_limits(1):  # the machine is shared; one core per model fit
            for q in QUANTILES:
                model = HistGradientBoostingRegressor(
                    loss="quantile", quantile=q, max_iter=self.max_iter, learning_rate=self.learning_rate,
                    max_leaf_nodes=self.max_leaf_nodes, min_samples_leaf=50, monotonic_cst=monotonic,
                    early_stopping=True, validation_fraction=0.1, n_iter_no_change=20, random_state=self.seed,
                )  # fmt: skip
                self.models.append(model.fit(x[keep], y[keep]))
        return self

    def predict(self, inputs: ForecastInputs) -> np.ndarray:
        if not self.models:
            raise RuntimeError("fit the model first")
        x = gbm_design(inputs)
        with threadpool_limits(1):
            ratio = np.stack([m.predict(x) for m in self.models], axis=-1).reshape(inputs.n, HORIZON, len(QUANTILES))
        # Separately fitted quantile models can cross; sorting restores P10 <= P50 <= P90.
        return np.sort(inputs.to_meals(ratio), axis=-1)
