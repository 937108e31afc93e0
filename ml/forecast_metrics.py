"""Forecast accuracy: WAPE, MASE and bias, and the seasonal-naive scale MASE divides by.

All functions take arrays where NaN marks a cell that does not count (not a school day, or the
school was closed); the actual and the forecast must be NaN in the same cells or the actual's NaN wins.
"""

from __future__ import annotations

import numpy as np

SEASON_DAYS = 7  # the weekly pattern: the seasonal-naive forecast of a day is the same weekday a week before


def _pair(actual: np.ndarray, forecast: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    actual, forecast = np.asarray(actual, np.float64), np.asarray(forecast, np.float64)
    keep = ~np.isnan(actual) & ~np.isnan(forecast)
    return actual[keep], forecast[keep]


def wape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Weighted absolute percentage error: sum |actual - forecast| / sum actual."""
    a, f = _pair(actual, forecast)
    total = a.sum()
    return float(np.abs(a - f).sum() / total) if total > 0 else float("nan")


def bias(actual: np.ndarray, forecast: np.ndarray) -> float:
    """sum (forecast - actual) / sum actual: positive when the forecast is too high."""
    a, f = _pair(actual, forecast)
    total = a.sum()
    return float((f - a).sum() / total) if total > 0 else float("nan")


def mase(actual: np.ndarray, forecast: np.ndarray, scale: float) -> float:
    """Mean absolute error over the in-sample mean absolute error of the seasonal naive (`scale`)."""
    a, f = _pair(actual, forecast)
    if a.size == 0 or not scale > 0:
        return float("nan")
    return float(np.abs(a - f).mean() / scale)


def seasonal_naive_scale(series: np.ndarray, season: int = SEASON_DAYS) -> np.ndarray:
    """Per column of a daily [T, G] series (NaN on days that do not count), the mean absolute
    difference between a day and the same weekday a week before, over pairs where both count.
    NaN for a column without any such pair."""
    series = np.asarray(series, np.float64)
    if series.shape[0] <= season:
        return np.full(series.shape[1:], np.nan)
    diff = np.abs(series[season:] - series[:-season])
    count = (~np.isnan(diff)).sum(axis=0)
    total = np.nansum(diff, axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def interval_coverage(actual: np.ndarray, low: np.ndarray, high: np.ndarray) -> float:
    """Share of counted cells whose actual lies within [low, high]."""
    actual = np.asarray(actual, np.float64)
    keep = ~np.isnan(actual)
    if not keep.any():
        return float("nan")
    inside = (np.asarray(low)[keep] <= actual[keep]) & (actual[keep] <= np.asarray(high)[keep])
    return float(inside.mean())
