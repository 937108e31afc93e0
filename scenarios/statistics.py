"""Means and 95% Student-t confidence intervals over replications, and paired differences."""

from __future__ import annotations

import numpy as np
from scipy import stats

CONFIDENCE = 0.95


def t_quantile(r: int) -> float:
    """Student t quantile for a two-sided 95% interval from `r` replications (0 below two)."""
    return float(stats.t.ppf((1 + CONFIDENCE) / 2, r - 1)) if r >= 2 else 0.0


def t_half_width(values: np.ndarray, axis: int = 0) -> np.ndarray:
    """Half-width of the 95% confidence interval of the mean along `axis` (0 for one value)."""
    values = np.asarray(values, np.float64)
    r = values.shape[axis]
    if r < 2:
        return np.zeros(np.delete(values.shape, axis))
    return t_quantile(r) * values.std(axis=axis, ddof=1) / np.sqrt(r)


def estimate(values: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(mean, half-width) along `axis`."""
    values = np.asarray(values, np.float64)
    return values.mean(axis=axis), t_half_width(values, axis)


def paired_difference(plan: np.ndarray, baseline: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, half-width) of plan - baseline, row by row: rows are replications sharing their random
    numbers (common random numbers), so the interval is that of the paired differences."""
    return estimate(np.asarray(plan, np.float64) - np.asarray(baseline, np.float64))


def converged(mean: np.ndarray, half_width: np.ndarray, relative: float) -> np.ndarray:
    """bool per KPI: the interval is within `relative` of the mean (an exactly known 0 counts)."""
    return half_width <= relative * np.abs(mean)


def reps_needed(mean: np.ndarray, half_width: np.ndarray, done: int, relative: float) -> int:
    """Replications the slowest KPI needs for its half-width to reach `relative` of its mean,
    by the half-width's 1/sqrt(r) law (at least `done`)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(np.abs(mean) > 0, half_width / (relative * np.abs(mean)), np.where(half_width > 0, np.inf, 0))
    worst = float(np.max(ratio)) if ratio.size else 0.0
    if not np.isfinite(worst):
        return 10**9
    return max(done, int(np.ceil(done * worst**2)))
