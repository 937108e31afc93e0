"""The per-school metric columns that roll up by summation, and how a rolled-up row reads.

Kept apart from `twin.views` (which needs the numba kernels) so that the state actor, which only
sums and summarises rows, does not load numba (~100 MiB a process)."""

from __future__ import annotations

import numpy as np

# Columns of the per-school metric matrix that roll up by summation.
METRICS = (
    "schools", "enrolment", "reported_today", "stale", "closed_today", "present_today", "meals_today",
    "rice_kg", "pulses_kg", "oil_kg", "eggs", "rice_need_kg_per_day",
    "funds_released_inr", "meal_cost_inr", "other_utilised_inr",
)


def summarise(row: np.ndarray) -> dict:
    """A rolled-up metric row as a reader sees it: counts, stock in kg and days, funds."""
    m = {name: float(row[i]) for i, name in enumerate(METRICS)}
    need = m.pop("rice_need_kg_per_day")
    counts = ("schools", "enrolment", "reported_today", "stale", "closed_today", "present_today", "meals_today", "eggs")
    out: dict = {k: int(round(m[k])) for k in counts}
    out["stock_kg"] = {k: round(m[f"{k}_kg"], 1) for k in ("rice", "pulses", "oil")}
    out["stock_days"] = round(m["rice_kg"] / need, 1) if need > 0 else None
    out["stock_eggs"] = out.pop("eggs")
    out["attendance_rate"] = round(m["present_today"] / m["enrolment"], 4) if m["enrolment"] else None
    out["funds"] = {
        "released_to_schools_inr": round(m["funds_released_inr"], 2),
        "meal_cost_inr": round(m["meal_cost_inr"], 2),
        "other_utilised_inr": round(m["other_utilised_inr"], 2),
        "school_balance_inr": round(m["funds_released_inr"] - m["meal_cost_inr"] - m["other_utilised_inr"], 2),
    }
    return out


def summarise_totals(rows: np.ndarray) -> dict:
    """A summary of several rolled-up rows (e.g. all districts: the state)."""
    return summarise(rows.sum(axis=0))
