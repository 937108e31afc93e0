"""The three forecast models behind `DemandForecaster`: ordered quantiles, school days only,
rain that matters, determinism, and a registry round trip."""

from __future__ import annotations

import numpy as np
import pytest

from ml.forecast_features import HORIZON
from ml.forecaster import DemandForecaster
from ml.panel import Panel
from tests.ml.forecast_fixtures import RAIN_DISTRICTS, build_panel
from twin import calendar, geography

TINY = {
    "lstm": {"epochs": 3, "max_pairs": 15_000, "hidden": 24},
    "gbm": {"max_pairs": 15_000, "max_iter": 100},
    "seasonal_naive": {},
}
HEAVY_RAIN_MM = 80.0


@pytest.fixture(scope="module")
def panel():
    return build_panel(n_schools=200, n_days=400, seed=5)


@pytest.fixture(scope="module")
def until_origin(panel):
    return panel.days(panel.dates[0], panel.dates[380])  # origin: 2025-06-17, a Tuesday in term


@pytest.fixture(scope="module")
def fitted(until_origin):
    return {kind: DemandForecaster(kind, seed=1, **options).fit(until_origin) for kind, options in TINY.items()}


def _dry(panel) -> np.ndarray:
    return np.zeros((HORIZON, panel.rainfall_mm.shape[1]), np.float32)


@pytest.mark.parametrize("kind", list(TINY))
def test_quantiles_are_ordered_and_meals_never_negative(fitted, until_origin, kind):
    for rain in (None, _dry(until_origin), _dry(until_origin) + 150.0):
        f = fitted[kind].forecast(until_origin, rain)
        assert f.p10.shape == (until_origin.n_schools, HORIZON)
        assert (f.p10 <= f.p50).all() and (f.p50 <= f.p90).all()
        assert (f.p10 >= 0).all()
        assert (f.p90 > f.p10).mean() > 0.9  # an interval, not a point


@pytest.mark.parametrize("kind", list(TINY))
def test_forecasts_are_for_school_days_after_the_origin(fitted, until_origin, kind):
    f = fitted[kind].forecast(until_origin)
    assert (f.dates > until_origin.dates[-1]).all()
    for d in np.unique(f.dates).tolist():
        assert calendar.is_school_day(d)
    assert (np.diff(f.dates.astype(np.int64), axis=1) > 0).all()


@pytest.mark.parametrize("kind", list(TINY))
def test_forecast_tracks_the_actual_meals(fitted, panel, until_origin, kind):
    """A sanity bar any working model clears: within 15% of the week's true meals in all."""
    dates = fitted[kind].forecast(until_origin).dates[0]
    rows = until_origin.n_days - 1 + (dates - until_origin.dates[-1]).astype(np.int64)
    f = fitted[kind].forecast(until_origin, panel.rainfall_mm[rows])  # the rain that fell, as forecast
    actual = np.where(panel.open[rows], panel.meals[rows], np.nan).T  # [S, H]
    counted = ~np.isnan(actual)
    assert f.p50[counted].sum() == pytest.approx(actual[counted].sum(), rel=0.15)


@pytest.mark.parametrize("kind", ["gbm", "lstm"])
def test_heavy_rain_forecast_lowers_that_districts_forecast(fitted, until_origin, kind):
    """Trained where rain keeps children at home, a heavy-rain forecast for one district cuts that
    district's forecast; other districts, forecast dry both times, are untouched."""
    wet_district = 0
    wet = _dry(until_origin)
    wet[:, wet_district] = HEAVY_RAIN_MM
    dry_forecast = fitted[kind].forecast(until_origin, _dry(until_origin))
    wet_forecast = fitted[kind].forecast(until_origin, wet)
    inside = until_origin.district == wet_district
    assert inside.sum() > 20 and RAIN_DISTRICTS > 1
    assert wet_forecast.p50[inside].sum() < 0.95 * dry_forecast.p50[inside].sum()
    assert (wet_forecast.p50[inside] <= dry_forecast.p50[inside] + 1e-3).mean() > 0.95
    np.testing.assert_array_equal(wet_forecast.p50[~inside], dry_forecast.p50[~inside])
    by_district = wet_forecast.aggregate("district")
    dry_by_district = dry_forecast.aggregate("district")
    row = int(np.flatnonzero(by_district.keys == wet_district)[0])
    assert by_district.p50[row].sum() < dry_by_district.p50[row].sum()


@pytest.mark.parametrize("kind", list(TINY))
def test_save_load_round_trip_gives_identical_forecasts(fitted, until_origin, kind):
    loaded = DemandForecaster.from_bytes(fitted[kind].to_bytes())
    rain = _dry(until_origin) + 12.0
    a, b = fitted[kind].forecast(until_origin, rain), loaded.forecast(until_origin, rain)
    for q in ("p10", "p50", "p90", "dates"):
        np.testing.assert_array_equal(getattr(a, q), getattr(b, q))
    assert loaded.kind == kind


def test_lstm_training_is_deterministic_with_a_seed(fitted, until_origin):
    again = DemandForecaster("lstm", seed=1, **TINY["lstm"]).fit(until_origin)
    np.testing.assert_array_equal(again.forecast(until_origin).p50, fitted["lstm"].forecast(until_origin).p50)


def test_aggregates_sum_the_schools(fitted, until_origin):
    f = fitted["gbm"].forecast(until_origin)
    for level, groups in (("block", until_origin.block), ("district", until_origin.district)):
        agg = f.aggregate(level)
        np.testing.assert_allclose(agg.p50.sum(axis=0), f.p50.sum(axis=0), rtol=1e-5)
        k = agg.keys[0]
        np.testing.assert_allclose(agg.p90[0], f.p90[groups == k].sum(axis=0), rtol=1e-5)
        assert (agg.dates == f.dates[0]).all()


def test_unfitted_forecaster_refuses(until_origin):
    with pytest.raises(RuntimeError):
        DemandForecaster("gbm").forecast(until_origin)
    with pytest.raises(ValueError):
        DemandForecaster("prophet")


@pytest.fixture(scope="module")
def world_history():
    """Two school years from the world model, whose rain keeps children at home above 10 mm."""
    return Panel.synthetic(400, 540, seed=4)  # 2023-06-01 .. 2024-11-21


@pytest.mark.parametrize("kind", ["gbm", "lstm"])
def test_heavy_rain_lowers_the_forecast_of_a_model_trained_on_the_world(world_history, kind):
    until = world_history.days(world_history.dates[0], np.datetime64("2024-11-06"))
    options = {"gbm": {"max_pairs": 20_000, "max_iter": 120}, "lstm": {"epochs": 3, "max_pairs": 20_000}}[kind]
    forecaster = DemandForecaster(kind, **options).fit(until)
    dry = forecaster.forecast(until, _dry(until))
    for district in (geography.district_index("Ariyalur"), geography.district_index("Nagapattinam")):
        wet = _dry(until)
        wet[:, district] = 100.0
        inside = until.district == district
        assert inside.any()
        assert forecaster.forecast(until, wet).p50[inside].sum() < 0.97 * dry.p50[inside].sum()
