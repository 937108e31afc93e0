"""The Monte Carlo runner: replications of every plan in rounds until the headline KPIs are known
well enough, then means, 95% intervals and paired differences against the baseline.

Replications run through an injected `map_replications(fn, args_list) -> results` (in order), so
this module knows nothing of Ray: `actors.replication_pool` provides one over Ray tasks, and
`serial_map` runs them here. Replication r uses the same random streams for every plan (common
random numbers) and whatever worker runs it, so results do not depend on how work is split."""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from scenarios.compile import CompiledScenario, compile_scenario
from scenarios.places import block_label
from scenarios.result import Band, Estimate, PlanResult, ScenarioResult
from scenarios.spec import BASELINE, ScenarioSpec
from scenarios.statistics import converged, estimate, paired_difference, reps_needed, t_half_width, t_quantile
from simulation.kpi import FLOWS, HEADLINE_KPIS, K, days_of_stock
from simulation.replications import BatchOutcome, run_replications
from simulation.start_state import StartState
from twin import geography

MapReplications = Callable[[Callable, list[tuple]], list]
_H = {name: i for i, name in enumerate(HEADLINE_KPIS)}


def serial_map(fn: Callable, args_list: list[tuple]) -> list:
    """Run every batch here, one after another."""
    return [fn(*args) for args in args_list]


@dataclass
class Progress:
    """Reported after each round: replications done and planned so far, and the partial estimates
    (headline KPIs per plan)."""

    done: int
    planned: int
    rounds: int
    estimates: dict[str, dict[str, Estimate]]
    converged: bool


def run_scenario(spec: ScenarioSpec, start: StartState, map_replications: MapReplications = serial_map,
                 workers: int | None = None, reps_max: int | None = None,
                 progress: Callable[[Progress], None] | None = None,
                 cancel: Callable[[], bool] | None = None) -> ScenarioResult:
    """Compile `spec` against `start` and run it (see `run_compiled`)."""
    return run_compiled(spec, compile_scenario(spec, start), map_replications, workers, reps_max, progress, cancel)


def run_compiled(spec: ScenarioSpec, compiled: CompiledScenario, map_replications: MapReplications = serial_map,
                 workers: int | None = None, reps_max: int | None = None,
                 progress: Callable[[Progress], None] | None = None, cancel: Callable[[], bool] | None = None,
                 reps_min: int | None = None) -> ScenarioResult:
    """Replicate in rounds: `reps_min` first, then as many as the slowest stopping KPI needs (by its
    interval so far, at most doubling the count each round), until every stopping KPI of every
    plan has a 95% half-width within the spec's relative tolerance of its mean, `reps_max`
    (default the spec's) is reached, or `cancel()` is true between rounds. Each round is split
    into one batch per worker (`workers`, default the pool's `workers` attribute, else 1);
    `progress` hears of every round."""
    started = time.perf_counter()
    workers = workers or getattr(map_replications, "workers", 1)
    rule = spec.stopping
    reps_max = reps_max or rule.reps_max
    reps_min = min(reps_min or rule.reps_min, reps_max)
    watch = [_H[k] for k in rule.kpis]
    batches: list[BatchOutcome] = []
    done, planned, rounds, reason = 0, reps_min, 0, None
    while reason is None:
        todo = list(range(done, planned))
        size = math.ceil(len(todo) / max(workers, 1))
        args = [(compiled.start, compiled.inputs, compiled.plans, todo[k:k + size]) for k in range(0, len(todo), size)]
        batches += map_replications(run_replications, args)
        done, rounds = planned, rounds + 1
        heads = {p.name: np.concatenate([b.plans[p.name].headline for b in batches]) for p in compiled.plans}
        est = {name: estimate(h) for name, h in heads.items()}
        ok = all(converged(m[watch], hw[watch], rule.relative_half_width).all() for m, hw in est.values())
        if ok:
            reason = "converged"
        elif done >= reps_max:
            reason = "max_replications"
        elif cancel is not None and cancel():
            reason = "cancelled"
        else:
            need = max(reps_needed(m[watch], hw[watch], done, rule.relative_half_width) for m, hw in est.values())
            # at most double each round: early intervals are rough, and the caller sees progress
            planned = min(reps_max, 2 * done, max(need, done + max(workers, 1)))
        if progress is not None:
            progress(Progress(done, planned, rounds, {n: _estimates(m, hw) for n, (m, hw) in est.items()}, ok))
    return _result(spec, compiled, batches, reason, time.perf_counter() - started)


# ----------------------------------------------------------------- summarising


def _estimates(mean: np.ndarray, half: np.ndarray) -> dict[str, Estimate]:
    return {k: Estimate(mean=float(mean[i]), half_width=float(half[i])) for i, k in enumerate(HEADLINE_KPIS)}


def _band(values: np.ndarray) -> Band:
    """[r, days] -> the daily mean and its 95% interval."""
    mean, half = values.mean(axis=0), t_half_width(values)
    return Band(mean=mean.tolist(), low=(mean - half).tolist(), high=(mean + half).tolist())


def _result(spec: ScenarioSpec, compiled: CompiledScenario, batches: list[BatchOutcome], reason: str,
            elapsed_s: float) -> ScenarioResult:
    first = batches[0]
    r = sum(len(b.replications) for b in batches)
    names = geography.district_names()
    heads = {p.name: np.concatenate([b.plans[p.name].headline for b in batches]) for p in compiled.plans}
    plans = []
    for p in compiled.plans:
        parts = [b.plans[p.name] for b in batches]
        state = np.concatenate([x.state_daily for x in parts])  # [r, days, K]
        daily = {k: _band(state[:, :, K[k]]) for k in FLOWS}
        daily["days_of_stock"] = _band(days_of_stock(state[:, :, K["rice_stock_kg"]], state[:, :, K["rice_need_kg"]]))
        s = sum(x.district_total_sum for x in parts)
        ss = sum(x.district_total_sumsq for x in parts)
        mean = s / r
        var = np.maximum(ss - r * mean**2, 0) / max(r - 1, 1)
        half = t_quantile(r) * np.sqrt(var / r)
        districts = {}
        for j, d in enumerate(first.districts.tolist()):
            row = {k: Estimate(mean=float(mean[j, K[k]]), half_width=float(half[j, K[k]])) for k in FLOWS}
            row["days_of_stock_end"] = Estimate(mean=float(days_of_stock(mean[j, K["rice_stock_kg"]],
                                                                         mean[j, K["rice_need_kg"]])))
            districts[names[d]] = row
        by_day = sum(x.district_daily_sum for x in parts) / r  # [days, nd, K]
        district_daily = {}
        for j, d in enumerate(first.districts.tolist()):
            row = {k: np.round(by_day[:, j, K[k]], 3).tolist() for k in FLOWS}
            row["days_of_stock"] = np.round(days_of_stock(by_day[:, j, K["rice_stock_kg"]],
                                                          by_day[:, j, K["rice_need_kg"]]), 3).tolist()
            district_daily[names[d]] = row
        blocks_mean = sum(x.block_total_sum for x in parts) / r
        blocks = {block_label(b): {k: round(float(blocks_mean[j, K[k]]), 3) for k in FLOWS}
                  for j, b in enumerate(first.blocks.tolist())}
        vs = None
        if p.name != BASELINE:
            dm, dh = paired_difference(heads[p.name], heads[BASELINE])
            vs = {k: Estimate(mean=float(dm[i]), half_width=float(dh[i])) for i, k in enumerate(HEADLINE_KPIS)}
        m, hw = estimate(heads[p.name])
        plans.append(PlanResult(name=p.name, kpis=_estimates(m, hw), vs_baseline=vs, daily=daily,
                                districts=districts, district_daily=district_daily, blocks=blocks))
    start = compiled.start.day
    return ScenarioResult(
        name=spec.name, spec=spec.model_dump(mode="json", by_alias=True), start_date=start,
        horizon_days=spec.horizon_days, dates=[start + dt.timedelta(days=k) for k in range(spec.horizon_days)],
        schools=len(compiled.start), replications=r, stop_reason=reason, stopping_kpis=list(spec.stopping.kpis),
        relative_half_width=spec.stopping.relative_half_width, headline_kpis=list(HEADLINE_KPIS),
        elapsed_s=round(elapsed_s, 3), simulate_s=round(sum(b.simulate_s for b in batches), 3),
        simulate_cpu_s=round(sum(b.simulate_cpu_s for b in batches), 3),
        simpy_events=sum(b.simpy_events for b in batches), plans=plans,
    )
