"""WAPE, MASE and bias on examples worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from ml.forecast_metrics import bias, interval_coverage, mase, seasonal_naive_scale, wape

NAN = np.nan


def test_wape_and_bias_by_hand():
    actual = np.array([100.0, 50.0, NAN, 50.0])  # the NaN day is a closure: it must not count
    forecast = np.array([90.0, 60.0, 500.0, 40.0])
    # |errors| 10 + 10 + 10 = 30 over 200 meals; forecast - actual = -10 + 10 - 10 = -10
    assert wape(actual, forecast) == pytest.approx(30 / 200)
    assert bias(actual, forecast) == pytest.approx(-10 / 200)


def test_mase_by_hand():
    # Two weeks of one school, Monday to Sunday; weekends NaN.
    week1 = [80, 90, 100, 90, 80, NAN, NAN]
    week2 = [84, 86, 100, 95, 80, NAN, NAN]
    scale = seasonal_naive_scale(np.array(week1 + week2)[:, None])
    # Same weekday a week apart: |84-80| + |86-90| + 0 + |95-90| + 0 over 5 pairs = 13 / 5
    assert scale[0] == pytest.approx(13 / 5)
    actual = np.array([100.0, 90.0, NAN])
    forecast = np.array([97.4, 92.6, 0.0])
    # MAE = (2.6 + 2.6) / 2 = 2.6, exactly the naive's in-sample error
    assert mase(actual, forecast, scale[0]) == pytest.approx(1.0)
    assert mase(actual, forecast, 1.3) == pytest.approx(2.0)


def test_metrics_do_not_hide_a_bad_forecast():
    actual = np.array([100.0, 100.0])
    assert wape(actual, np.array([100.0, 100.0])) == 0.0
    assert wape(actual, np.array([0.0, 0.0])) == pytest.approx(1.0)
    assert bias(actual, np.array([150.0, 150.0])) == pytest.approx(0.5)


def test_nothing_to_score_is_nan_not_zero():
    assert np.isnan(wape(np.array([NAN]), np.array([1.0])))
    assert np.isnan(mase(np.array([1.0]), np.array([1.0]), 0.0))
    assert np.isnan(seasonal_naive_scale(np.ones((5, 1)))[0])


def test_interval_coverage_by_hand():
    actual = np.array([10.0, 20.0, 30.0, NAN])
    low, high = np.array([5.0, 21.0, 30.0, 0.0]), np.array([15.0, 25.0, 35.0, 0.0])
    assert interval_coverage(actual, low, high) == pytest.approx(2 / 3)
