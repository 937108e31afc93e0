"""Scenario KPIs: what the engine records per day and block, and the headline figures of a run."""

from __future__ import annotations

import numpy as np

# Recorded per day and block (sums over the block's schools).
DAILY_KPIS = (
    "meals_served",  # meals cooked and eaten
    "meals_missed",  # children present at an open school that cooked nothing (no grain, cook, funds...)
    "children_without_meal",  # meals_missed plus the children who would have eaten at a closed school
    "stockout_school_days",  # open schools without enough rice for the day
    "eggs_missed",  # meals served without their egg
    "fund_shortfall_inr",  # meal cost not covered by a positive balance (the organiser's pocket)
    "cost_inr",  # meal cost at the day's norms
    "open_school_days",  # schools open on a school day
    "rice_stock_kg",  # at the end of the day
    "rice_need_kg",  # an ordinary school day's rice use, for days of stock
)
K = {name: i for i, name in enumerate(DAILY_KPIS)}
FLOWS = DAILY_KPIS[:8]

# One number per replication; means, intervals and paired differences are reported for these.
HEADLINE_KPIS = (*FLOWS, "days_of_stock_end", "lowest_district_days_of_stock")
# Smaller is better for every headline KPI but these.
HIGHER_IS_BETTER = ("meals_served", "days_of_stock_end", "lowest_district_days_of_stock")


def days_of_stock(stock_kg: np.ndarray, need_kg: np.ndarray) -> np.ndarray:
    """Rice stock over an ordinary day's use (0 where nothing is needed)."""
    return np.divide(stock_kg, need_kg, out=np.zeros(np.broadcast(stock_kg, need_kg).shape), where=need_kg > 0)


def district_daily(block_daily: np.ndarray, block_district_starts: np.ndarray) -> np.ndarray:
    """[days, nb, K] by block (blocks grouped by district) -> [days, nd, K] by district."""
    return np.add.reduceat(block_daily, block_district_starts, axis=1)


def headline(district_days: np.ndarray) -> np.ndarray:
    """float64 [len(HEADLINE_KPIS)] of one replication, from its [days, nd, K] district record."""
    state = district_days.sum(axis=1)
    flows = state[:, : len(FLOWS)].sum(axis=0)
    end = days_of_stock(state[-1, K["rice_stock_kg"]], state[-1, K["rice_need_kg"]])
    by_district = days_of_stock(district_days[:, :, K["rice_stock_kg"]], district_days[:, :, K["rice_need_kg"]])
    return np.concatenate([flows, [float(end), float(by_district.min())]])
