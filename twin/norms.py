"""PM POSHAN food and cost norms per child per school day (sources in the project's NORMS notes).

Class bands are indexed 0 = primary (Bal Vatika, 1-5), 1 = upper primary (6-8), 2 = secondary (9-10).
TN feeds classes 9-10 from its own budget at the upper-primary scale; we use that scale for band 2.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

BANDS = ("primary", "upper_primary", "secondary")
STOCK_ITEMS = ("rice_kg", "pulses_kg", "oil_kg", "eggs")

# Grams (eggs: count) drawn from stock by one meal, per band. Rows: item, columns: band.
RATION_PER_MEAL = np.array(
    [
        [0.100, 0.150, 0.150],  # rice kg
        [0.020, 0.030, 0.030],  # pulses kg
        [0.005, 0.0075, 0.0075],  # oil kg
        [1.0, 1.0, 1.0],  # eggs: TN serves an egg every school day
    ],
    dtype=np.float64,
)

# Material and cooking cost per meal (INR), effective from each date; Centre:State 60:40.
COST_NORMS: tuple[tuple[dt.date, tuple[float, float, float]], ...] = (
    (dt.date(2020, 4, 1), (5.45, 8.17, 8.17)),
    (dt.date(2024, 12, 1), (6.19, 9.29, 9.29)),
    (dt.date(2025, 5, 1), (6.78, 10.17, 10.17)),
)

EPOCH = dt.date(2020, 1, 1)  # day numbers in the kernels count from here
WORKING_DAYS_PER_YEAR = 220
LEGACY_ALLOCATION_INR_PER_CHILD_YEAR = 1496.0  # Rs 6.80 x 220 days: the original backend's flat rule
GRAIN_BUFFER_DAYS = 30  # schools hold about a month of grain


def day_number(d: dt.date) -> int:
    """Days since `EPOCH`: the integer date used in state columns and kernels."""
    return (d - EPOCH).days


def day_date(n: int) -> dt.date:
    return EPOCH + dt.timedelta(days=int(n))


def cost_table() -> tuple[np.ndarray, np.ndarray]:
    """Effective-from day numbers (int32, ascending) and cost per meal by band (float64, [k, 3])."""
    days = np.array([day_number(d) for d, _ in COST_NORMS], dtype=np.int32)
    rates = np.array([r for _, r in COST_NORMS], dtype=np.float64)
    return days, rates


def cost_per_meal(d: dt.date) -> tuple[float, float, float]:
    """Cost per meal by band on date `d` (the earliest norm applies before its own start)."""
    rate = COST_NORMS[0][1]
    for start, r in COST_NORMS:
        if d >= start:
            rate = r
    return rate


def daily_need(enrolment_by_band: np.ndarray) -> np.ndarray:
    """Stock needed for one school day if every enrolled child eats: [n, 3] children -> [n, 4] items."""
    return enrolment_by_band @ RATION_PER_MEAL.T


def annual_allocation_inr(enrolment_by_band: np.ndarray, on: dt.date, rule: str = "banded") -> np.ndarray:
    """Yearly material-cost allocation per school. `banded` follows the current class-banded norms;
    `legacy` is the flat Rs 1,496 per child per year of the original backend."""
    enrolment_by_band = np.asarray(enrolment_by_band, dtype=np.float64)
    if rule == "legacy":
        return enrolment_by_band.sum(axis=-1) * LEGACY_ALLOCATION_INR_PER_CHILD_YEAR
    if rule != "banded":
        raise ValueError(f"unknown allocation rule {rule!r}")
    return enrolment_by_band @ np.array(cost_per_meal(on)) * WORKING_DAYS_PER_YEAR
