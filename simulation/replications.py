"""A batch of replications of every plan, summarised compactly: the unit of work a Monte Carlo
runner hands to a worker (a Ray task, a thread, or the caller itself)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from simulation.engine import Engine
from simulation.kpi import FLOWS, district_daily, headline
from simulation.levers import PlanLevers, ScenarioInputs
from simulation.start_state import StartState

_N_FLOWS = len(FLOWS)


@dataclass
class PlanBatch:
    """One plan over a batch of r replications. District and block figures are horizon totals
    (flows summed over the days; rice stock and need as on the last day), summed over the batch."""

    headline: np.ndarray  # float64 [r, len(HEADLINE_KPIS)]
    state_daily: np.ndarray  # float64 [r, days, len(DAILY_KPIS)]
    district_total_sum: np.ndarray  # float64 [nd, len(DAILY_KPIS)]
    district_total_sumsq: np.ndarray  # float64 [nd, len(DAILY_KPIS)]
    district_daily_sum: np.ndarray  # float64 [days, nd, len(DAILY_KPIS)]
    block_total_sum: np.ndarray  # float64 [nb, len(DAILY_KPIS)]


@dataclass
class BatchOutcome:
    replications: list[int]
    plans: dict[str, PlanBatch]
    districts: np.ndarray  # int64 [nd] district indices simulated
    blocks: np.ndarray  # int32 [nb] global blocks simulated
    simpy_events: int
    simulate_s: float  # time inside the engine's runs
    simulate_cpu_s: float  # CPU time of this process meanwhile (less than simulate_s: it waited for a CPU)
    ledgers: list[dict]  # per (replication, plan), for checks


def totals(daily: np.ndarray) -> np.ndarray:
    """[days, m, K] -> [m, K]: flows summed over days, stock and need of the last day."""
    out = daily[-1].copy()
    out[:, :_N_FLOWS] = daily[:, :, :_N_FLOWS].sum(axis=0)
    return out


def run_replications(start: StartState, inputs: ScenarioInputs, plans: list[PlanLevers],
                     replications: list[int], keep_ledgers: bool = False) -> BatchOutcome:
    """Replications `replications` of every plan (plan p of replication r uses r's random streams)."""
    engine = Engine(start, inputs)
    started, started_cpu = time.perf_counter(), time.process_time()
    events = 0
    ledgers: list[dict] = []
    collected: dict[str, list] = {p.name: [] for p in plans}
    for r in replications:
        for plan in plans:
            outcome = engine.run(plan, r)
            events += outcome.simpy_events
            by_district = district_daily(outcome.block_daily, engine.block_district_starts)
            collected[plan.name].append((headline(by_district), by_district, totals(outcome.block_daily)))
            if keep_ledgers:
                ledgers.append({"plan": plan.name, "replication": r, **outcome.ledger})
    simulate_s, simulate_cpu_s = time.perf_counter() - started, time.process_time() - started_cpu
    out = {}
    for name, rows in collected.items():
        heads, districts, blocks = zip(*rows)
        d = np.stack(districts)  # [r, days, nd, K]
        dt_ = np.stack([totals(x) for x in districts])  # [r, nd, K]
        out[name] = PlanBatch(
            headline=np.stack(heads), state_daily=d.sum(axis=2), district_total_sum=dt_.sum(axis=0),
            district_total_sumsq=(dt_**2).sum(axis=0), district_daily_sum=d.sum(axis=0),
            block_total_sum=np.sum(blocks, axis=0),
        )
    return BatchOutcome(list(replications), out, engine.districts.astype(np.int64), engine.blocks.astype(np.int32),
                        events, simulate_s, simulate_cpu_s, ledgers)


