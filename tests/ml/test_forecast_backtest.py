"""The rolling-origin backtest: no training on data after an origin, honest scoring, an honest report."""

from __future__ import annotations

import numpy as np
import pytest

from ml.forecast_backtest import backtest_origins, run_backtest
from ml.forecast_baselines import SeasonalNaiveModel
from ml.forecast_lstm import LSTMModel
from ml.forecast_metrics import bias, wape
from tests.ml.forecast_fixtures import build_panel

FIRST_ORIGIN = np.datetime64("2025-06-18")


@pytest.fixture(scope="module")
def panel():
    return build_panel(n_schools=80, n_days=420, seed=7)  # 2024-06-03 .. 2025-07-27


class SpyModel(SeasonalNaiveModel):
    """Seasonal naive that records the last day of every panel it is fitted on and every origin it
    is asked to forecast from."""

    name = "spy"
    fit_until: list = []
    forecast_from: list = []

    def fit(self, panel):
        SpyModel.fit_until.append(panel.dates[-1])
        return super().fit(panel)

    def predict(self, inputs):
        SpyModel.forecast_from.append(np.unique(inputs.dates.min(axis=1)))
        return super().predict(inputs)


@pytest.mark.parametrize("refit_every", [None, 2])
def test_models_never_see_data_after_the_origin(panel, refit_every):
    SpyModel.fit_until, SpyModel.forecast_from = [], []
    result = run_backtest(panel, {"spy": SpyModel}, FIRST_ORIGIN, step_days=6, refit_every=refit_every)
    origins = result.origin_dates
    assert len(origins) >= 4 and origins[0] == FIRST_ORIGIN
    refits = origins[:1] if refit_every is None else origins[::refit_every]
    assert SpyModel.fit_until == list(refits)  # each fit ends exactly at its origin
    for origin, first_target in zip(origins, SpyModel.forecast_from):
        assert first_target.size == 1 and first_target[0] > origin


def test_training_is_unchanged_by_scrambling_everything_after_the_first_origin(panel):
    """Fitted on the same past, the forecasts from the first origin must match to the last digit even
    when every meal after it is scrambled; later origins may differ (their history includes it)."""
    scrambled = build_panel(n_schools=80, n_days=420, seed=7)
    later = slice(int(np.searchsorted(panel.dates, FIRST_ORIGIN)) + 1, None)
    rng = np.random.default_rng(0)
    for name in ("meals", "present"):
        values = getattr(scrambled, name)
        values[later] = rng.permutation(values[later].ravel()).reshape(values[later].shape) * 1.7
    models = {"seasonal_naive": SeasonalNaiveModel, "lstm": lambda: LSTMModel(epochs=1, max_pairs=3000, hidden=8)}
    a = run_backtest(panel, models, FIRST_ORIGIN, step_days=10)
    b = run_backtest(scrambled, models, FIRST_ORIGIN, step_days=10)
    for name in models:
        np.testing.assert_array_equal(a.forecast[name][0], b.forecast[name][0])
        assert not np.array_equal(a.forecast[name][-1], b.forecast[name][-1])


def test_scores_are_the_metrics_of_the_stored_forecasts(panel):
    result = run_backtest(panel, {"seasonal_naive": SeasonalNaiveModel}, FIRST_ORIGIN, step_days=7)
    f = result.forecast["seasonal_naive"][..., 1]
    a = result.actual
    school = result.summary["seasonal_naive"]["school"]
    assert school["wape"] == pytest.approx(wape(a, f))
    assert school["bias"] == pytest.approx(bias(a, f))
    # A block's score is that of the sums of its schools' meals and forecasts, cell by cell.
    groups = result.groups["seasonal_naive"]["block"]
    block = groups.keys[0]
    members = panel.block == block
    counted = ~np.isnan(a[:, members])
    block_actual = np.where(counted, a[:, members], 0).sum(axis=1)
    block_forecast = np.where(counted, f[:, members], 0).sum(axis=1)
    assert groups.wape[0] == pytest.approx(np.abs(block_actual - block_forecast).sum() / block_actual.sum())
    # Sums cancel school-level errors, so a block's WAPE is at most its schools' pooled WAPE.
    assert result.summary["seasonal_naive"]["block"]["wape"] <= school["wape"]
    # Only open school days are scored.
    rows = np.searchsorted(panel.dates, result.target_dates)
    assert np.array_equal(~np.isnan(a), np.moveaxis(panel.open[rows], 2, 1))


def test_report_names_the_winner_and_says_when_the_lstm_loses(panel):
    """An LSTM that never trained must lose to the seasonal naive, and the report must say so."""
    models = {"seasonal_naive": SeasonalNaiveModel, "lstm": lambda: LSTMModel(epochs=0, hidden=8)}
    result = run_backtest(panel, models, FIRST_ORIGIN, step_days=7)
    report = result.report
    wapes = {m: result.summary[m]["school"]["wape"] for m in models}
    assert wapes["lstm"] > wapes["seasonal_naive"]
    assert report["served_model"] == result.served_model == "seasonal_naive"
    assert report["lstm"]["won"] is False
    assert "The LSTM did not win" in report["statement"]
    assert report["margin"]["wape_points"] == pytest.approx(100 * (wapes["lstm"] - wapes["seasonal_naive"]))
    assert report["margin"]["origins"] == len(result.origin_dates)
    assert report["margin"]["origins_won"] == len(result.origin_dates)  # an untrained network loses every week
    for m in models:
        assert set(report["models"][m]) >= {"school", "block", "district", "per_district", "fit_seconds"}
        assert 0 <= report["models"][m]["school"]["coverage_p10_p90"] <= 1


def test_origins_stop_before_the_panel_runs_out(panel):
    origins = backtest_origins(panel, FIRST_ORIGIN, step_days=3)
    assert origins[0] == np.searchsorted(panel.dates, FIRST_ORIGIN)
    assert (np.diff(origins) == 3).all()
    with pytest.raises(ValueError):
        run_backtest(panel, {"seasonal_naive": SeasonalNaiveModel}, panel.dates[-2])
