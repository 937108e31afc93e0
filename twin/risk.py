"""Rule-based risk: what a school's twin state says about its chance of failing to serve a meal.

Two steps, so that each runs where its inputs are:
- `twin.school_features.school_features` (in a district shard, next to the state columns, with a
  numba kernel; apart so that readers of this module do not load numba): raw, readable measurements
  per school (days of rice left, share of enrolment fed, days since the last report, ...).
- `factor_points` (in the state actor, for every school of Tamil Nadu): each factor's severity in
  [0, 1] times its weight. The points add up to the local score (0-100) exactly, so an explanation
  is the factors themselves (SHAP-style: contributions that sum to the prediction).

Neighbour pressure (`twin.cascade`) adds one more factor, "neighbours", on top of the local score.
The thresholds and weights come from the caller's rules (`configs.settings.RiskRules`), never from
constants here, so an operator can tune them without a release.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

# Raw features per school (float64, NaN = unknown), in this column order.
FEATURES = (
    "stock_days",  # rice left, in school days at the school's own recent use
    "meal_share",  # meals served / enrolment, mean over the reported school days of the last week
    "days_since_report",  # school days after the last report up to today (twin.school_days); 0 when
    # closed today; never reported: school days since the first report the twin kept, that day included
    "no_meal_streak",  # latest reported school days in a row without a meal
    "no_meal_days_30",  # reported school days without a meal in the last 30 days
    "funds_days",  # school balance / daily meal cost
    "days_since_inspection",
    "inspection_issues",  # 1 when the last inspection found issues
    "days_since_shortage",  # since the last shortage the school reported
    "closed_today",
    # school days the 75% release rule falls short by the end of the financial year at the current
    # burn (> 0: the next instalment will be refused; NaN: nothing released yet)
    "utilisation_rule_days",
)
F = {name: i for i, name in enumerate(FEATURES)}

# Factors of the local score, in this column order (their weights sum to 100).
FACTORS = ("stock", "meals", "staleness", "no_meal_streak", "funds", "inspection", "shortage")
NEIGHBOURS = "neighbours"  # the cascade's factor, added by the state actor
LEVELS = ("low", "medium", "high", "critical")


class RiskRules(Protocol):
    """Thresholds and weights (`configs.settings.RiskRules` is the one in use)."""

    weights: dict[str, float]  # factor -> points at full severity; sums to 100
    stock_days_critical: float
    stock_days_safe: float
    meal_share_expected: float
    meal_share_floor: float
    stale_days_full: float
    no_meal_streak_full: float
    funds_days_safe: float
    inspection_interval_days: float
    shortage_memory_days: float
    levels: tuple[float, float, float]  # score at which medium, high, critical begin


def severities(features: np.ndarray, rules: RiskRules) -> np.ndarray:
    """float64 [n, len(FACTORS)] in [0, 1]: how bad each factor is. Unknown (NaN) counts as fine,
    except a school that never reported, which `days_since_report` already counts as stale."""
    x = features
    sev = np.empty((len(x), len(FACTORS)))
    closed = x[:, F["closed_today"]] > 0

    def falling(value: np.ndarray, bad: float, good: float) -> np.ndarray:
        """1 at or below `bad`, 0 at or above `good`, linear between; NaN -> 0."""
        return np.nan_to_num(np.clip((good - value) / (good - bad), 0, 1))

    def rising(value: np.ndarray, full: float) -> np.ndarray:
        return np.nan_to_num(np.clip(value / full, 0, 1))

    sev[:, 0] = falling(x[:, F["stock_days"]], rules.stock_days_critical, rules.stock_days_safe)
    sev[:, 1] = np.where(closed, 0, falling(x[:, F["meal_share"]], rules.meal_share_floor, rules.meal_share_expected))
    sev[:, 2] = rising(x[:, F["days_since_report"]], rules.stale_days_full)
    sev[:, 3] = np.where(closed, 0, rising(x[:, F["no_meal_streak"]], rules.no_meal_streak_full))
    sev[:, 4] = falling(x[:, F["funds_days"]], 0.0, rules.funds_days_safe)
    interval = rules.inspection_interval_days
    overdue = rising(x[:, F["days_since_inspection"]] - interval, interval)
    sev[:, 5] = np.maximum(overdue, 0.5 * np.nan_to_num(x[:, F["inspection_issues"]]))
    since = x[:, F["days_since_shortage"]]
    sev[:, 6] = np.nan_to_num(np.clip(1 - since / rules.shortage_memory_days, 0, 1))
    return sev


def weight_vector(rules: RiskRules) -> np.ndarray:
    return np.array([float(rules.weights.get(name, 0.0)) for name in FACTORS])


def factor_points(features: np.ndarray, rules: RiskRules) -> np.ndarray:
    """float64 [n, len(FACTORS)]: each factor's points; a row sums to the school's local score (0-100)."""
    return severities(features, rules) * weight_vector(rules)


def neighbour_points(local_score: np.ndarray, local_pressure: np.ndarray, pressure: np.ndarray,
                     weight: float) -> np.ndarray:
    """float64 [n]: points neighbours add: `weight` x 100 x how far the cascade pressure exceeds the
    school's own (both in [0, 1]), capped so that the total stays within 100."""
    return np.minimum(np.maximum(100.0 - local_score, 0), 100.0 * weight * np.maximum(pressure - local_pressure, 0))


def level_codes(score: np.ndarray, levels: tuple[float, float, float]) -> np.ndarray:
    """int8 [n]: index into `LEVELS`."""
    return np.searchsorted(np.asarray(levels), score, side="right").astype(np.int8)


def feature_dict(row: np.ndarray, digits: int = 3) -> dict:
    """One school's features for a reader (rounded to `digits`; None where unknown)."""
    return {name: (None if v != v else round(float(v), digits)) for name, v in zip(FEATURES, row)}
