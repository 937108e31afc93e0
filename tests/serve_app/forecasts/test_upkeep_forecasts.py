"""The nightly job's last step: every school forecast by the served forecaster, kept on disk."""

from __future__ import annotations

import numpy as np

from ml.forecast_all import latest_forecasts, read_forecasts
from ml.forecaster import DemandForecaster
from ml.registry import Registry
from serve_app.forecasts.upkeep import FORECAST_KIND, forecast_every_school_served
from tests.ml.forecast_fixtures import build_panel


def test_every_school_is_forecast_by_the_served_model(tmp_path) -> None:  # noqa: ANN001
    panel = build_panel(n_schools=40, n_days=90)
    forecaster = DemandForecaster("seasonal_naive").fit(panel)
    registry = Registry(tmp_path)
    version = registry.register(FORECAST_KIND, forecaster.to_bytes(), {"metrics": {"wape": 0.1}})
    assert registry.promote_if_better(FORECAST_KIND, version, "wape", higher_is_better=False)

    made = forecast_every_school_served(tmp_path, panel)

    assert made["schools"] == 40 and made["origin"] == str(panel.dates[-1])
    written = read_forecasts(latest_forecasts(tmp_path))
    np.testing.assert_allclose(written["p50"], forecaster.forecast(panel).p50)


def test_nothing_is_forecast_before_a_model_is_served(tmp_path) -> None:  # noqa: ANN001
    assert forecast_every_school_served(tmp_path, build_panel(n_schools=10, n_days=60)) is None
    assert latest_forecasts(tmp_path) is None
