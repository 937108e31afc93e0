"""A stock plan's effect on children's meals, by simulation: the scenario engine forked from a
start state runs "none" (no action) and each given plan (its transfers added to the start's stock,
its depot visits replayed on their days) with common random numbers, replication r of every plan on r's random streams. Reported per plan:
no-meal child-days and stock-out school-days with their 95% intervals, the paired difference
against "none", and the plan's transport cost (deterministic: the plan's km times its rate).

The stress the issue's benchmark asks for (a monsoon week with its roads cut, and grain deliveries
late) is `stress_inputs`."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from scenarios.montecarlo import MapReplications, serial_map
from scenarios.statistics import estimate, paired_difference
from simulation.kpi import HEADLINE_KPIS
from simulation.levers import Disruption, Lever, PlanLevers, ScenarioInputs
from simulation.replications import run_replications
from simulation.start_state import StartState, block_count

NONE = "none"
# meals missed at open schools (no grain, cook or money): what stock can change; closures are not
REPORTED = {"no_meal_child_days": "meals_missed", "stockout_school_days": "stockout_school_days"}
_COLUMN = {name: HEADLINE_KPIS.index(kpi) for name, kpi in REPORTED.items()}


@dataclass(frozen=True)
class PlanToVerify:
    name: str
    stock_change: np.ndarray | None  # float64 [n, 4] rows as the start's schools
    transport_cost_inr: float
    funds_change: np.ndarray | None = None  # float64 [n] INR advanced on day 0
    # depot visits replayed on their school days: (school day [k], school row [k], items [k, 4])
    stock_visits: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None


def stress_inputs(horizon_days: int, seed: int, monsoon_days: int = 5, delay_days: float = 7.0) -> ScenarioInputs:
    """Every block: roads cut on the first `monsoon_days` school days (a monsoon week), and grain
    deliveries due in the horizon `delay_days` late."""
    every = np.ones(block_count(), bool)
    return ScenarioInputs(horizon_days, seed, (
        Disruption(Lever.ROAD_CLOSURE, every, 0, monsoon_days - 1),
        Disruption(Lever.DELIVERY_DELAY, every, 0, horizon_days - 1, delay_days)))


def verify(start: StartState, inputs: ScenarioInputs, plans: list[PlanToVerify], replications: int = 20,
           map_replications: MapReplications = serial_map, workers: int = 1,
           ratios: tuple[tuple[str, str], ...] = ()) -> dict:
    """Run "none" and `plans` `replications` times each; see the module doc for what is reported.
    `ratios` names pairs (a, b) whose ratio of mean no-meal child-days is reported as
    `ratios["a_vs_b"]` with a 95% paired bootstrap interval (None when b's mean is 0)."""
    if replications < 2:
        raise ValueError("at least two replications are needed for an interval")
    levers = [PlanLevers(name=NONE)] + [PlanLevers(name=p.name, stock_change=p.stock_change,
                                                   funds_change=p.funds_change, stock_visits=p.stock_visits)
                                        for p in plans]
    reps = list(range(replications))
    size = math.ceil(replications / max(workers, 1))
    batches = map_replications(run_replications, [(start, inputs, levers, reps[k:k + size])
                                                  for k in range(0, replications, size)])
    heads = {lv.name: np.concatenate([b.plans[lv.name].headline for b in batches]) for lv in levers}
    cost = {p.name: p.transport_cost_inr for p in plans} | {NONE: 0.0}
    out = {"replications": replications, "horizon_days": inputs.horizon_days, "schools": len(start), "plans": {}}
    for name, head in heads.items():
        mean, half = estimate(head)
        row: dict = {"transport_cost_inr": round(cost[name], 2)}
        for kpi, col in _COLUMN.items():
            row[kpi] = _interval(mean[col], half[col])
            if name != NONE:
                dm, dh = paired_difference(head[:, col], heads[NONE][:, col])
                row[f"{kpi}_vs_none"] = _interval(dm, dh)
        out["plans"][name] = row
    column = _COLUMN["no_meal_child_days"]
    out["ratios"] = {f"{a}_vs_{b}": ratio_interval(heads[a][:, column], heads[b][:, column], inputs.seed)
                     for a, b in ratios}
    return out


def ratio_interval(a: np.ndarray, b: np.ndarray, seed: int = 0, draws: int = 2000) -> dict | None:
    """mean(a) / mean(b) with a 95% percentile interval from resampling replications in pairs
    (replication r of a and of b share their random numbers, so they are drawn together)."""
    if b.mean() == 0:
        return None
    pick = np.random.default_rng(seed).integers(0, a.size, (draws, a.size))
    den = b[pick].mean(axis=1)
    boot = np.divide(a[pick].mean(axis=1), den, out=np.full(draws, np.inf), where=den > 0)
    low, high = np.percentile(boot, [2.5, 97.5])
    return {"mean": round(float(a.mean() / b.mean()), 4), "low": round(float(low), 4), "high": round(float(high), 4)}


def _interval(mean: float, half: float) -> dict:
    return {"mean": round(float(mean), 3), "low": round(float(mean - half), 3), "high": round(float(mean + half), 3)}
