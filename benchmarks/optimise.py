"""`mealtwin bench optimise`: the optimisation models on the whole state's synthetic schools.

Schools from the project's generator (`generate_schools`), their start as the scenario engine
builds it from a school table, then spread as a live state is: each school's rice, pulses and oil
its block's next delivery
1-30 school days away, each school holding that many days of rice, pulses and oil and 0-20 more
(one in twenty only a fifth of that), eggs until the block's weekly drop, 1 day less to 4 more, funds 0-40 school days of its bill. Arcs from the twin's neighbour graph
(5 km, 8 nearest, within the block). Reported: the stock LP of the whole state (build and solve
seconds, variables), one block re-solved alone (median ms over `blocks` blocks), the delivery
schedule and the fund advances of the whole state. The headline figures are on the synthetic
world's own state (`synthetic_start`, as the live feed runs it); `stressed` repeats the stock LP
on the harsher spread above (about half the schools below their buffer).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
import statistics
import time
from collections import Counter

import numpy as np

from scenarios.optimise_delivery import DeliveryRule, schedule_deliveries
from scenarios.optimise_greedy import greedy_stock, stock_change
from scenarios.optimise_impact import PlanToVerify, stress_inputs, verify
from scenarios.optimise_funds import FundRule, plan_fund_advances
from scenarios.optimise_input import DEFAULT_DEPOT_DAYS, OptimiseInput, from_start
from scenarios.optimise_stock import StockRule, rebalance_block, rebalance_stock
from simulation.start_state import StartState, synthetic_start
from simulation.synthetic_schools import generate_schools

DAY = dt.date(2025, 11, 17)


def synthetic_input(n_schools: int = 43_000, seed: int = 0) -> OptimiseInput:
    """A seeded state of `n_schools` synthetic schools, spread as described in the module doc."""
    schools = generate_schools(n_schools, seed)
    start = StartState.from_schools(schools, DAY, seed=seed)
    rng = np.random.default_rng(seed + 1)
    nb = int(start.block.max()) + 1
    due = rng.integers(1, 31, nb)
    inp = from_start(start, schools.latitude, schools.longitude, days_to_delivery=due[start.block],
                     days_to_eggs=rng.integers(1, 6, nb)[start.block])
    days = due[start.block][:, None] + rng.uniform(0, 20, (len(start), 3))
    days[rng.random(len(start)) < 0.05] *= 0.2  # spoiled, pilfered or never delivered
    inp.stock[:, :3] = inp.need_per_day[:, :3] * days
    inp.stock[:, 3] = np.floor(inp.need_per_day[:, 3] * (inp.days_to_delivery[:, 3] + rng.uniform(-1, 4, len(start))))
    inp.funds_inr = inp.meal_cost_inr_per_day * rng.uniform(0, 40, len(start))
    bill = np.bincount(inp.block, inp.meal_cost_inr_per_day, inp.n_blocks)
    inp.block_balance_inr = bill * rng.uniform(0, 10, inp.n_blocks)
    return inp


def world_input(n_schools: int = 43_000, seed: int = 0) -> OptimiseInput:
    """The synthetic world's state as the live feed runs it (`synthetic_start`: 35 days warmed up),
    with funds and block balances as in `synthetic_input`."""
    return world_start_and_input(n_schools, seed)[1]


def world_start_and_input(n_schools: int = 43_000, seed: int = 0) -> tuple[StartState, OptimiseInput]:
    """`world_input` and the start state it was built from (for the scenario engine)."""
    start = synthetic_start(n_schools, seed, DAY)
    schools = generate_schools(n_schools, seed)
    inp = from_start(start, schools.latitude, schools.longitude)
    rng = np.random.default_rng(seed + 1)
    bill = np.bincount(inp.block, inp.meal_cost_inr_per_day, inp.n_blocks)
    inp.block_balance_inr = bill * rng.uniform(0, 10, inp.n_blocks)
    return start, inp


def _verified(start: StartState, inp: OptimiseInput, seed: int, replications: int, horizon_days: int,
              depot_days: float | None = None, vehicle_kg: float | None = None) -> dict:
    """The stress scenario (a monsoon week with roads cut, grain deliveries a week late) run from
    the world's state with no action, the greedy baseline and the LP's plan, common random numbers.
    `depot_days`: the depots hold that many days of their block's need instead of the default;
    `vehicle_kg`: each block's vehicle carries that much a day instead of the default."""
    if depot_days is not None:
        inp = replace(inp, depot_stock=inp.depot_stock * depot_days / DEFAULT_DEPOT_DAYS)
    if vehicle_kg is not None:
        inp = replace(inp, vehicle_kg_per_day=np.full(inp.n_blocks, vehicle_kg))
    lp, greedy = rebalance_stock(inp, StockRule()), greedy_stock(inp, StockRule())
    t = time.perf_counter()
    impact = verify(start, stress_inputs(horizon_days, seed + 2),
                    [PlanToVerify("greedy", stock_change(inp.n, greedy), greedy.transport_cost_inr),
                     PlanToVerify("lp", stock_change(inp.n, lp), lp.transport_cost_inr)],
                    replications, ratios=(("lp", "none"), ("lp", "greedy")))
    plans = impact["plans"]
    return {"stress_replications": replications, "stress_horizon_days": horizon_days,
            "stress_simulate_s": round(time.perf_counter() - t, 3),
            "no_meal_child_days": {name: plans[name]["no_meal_child_days"] for name in ("none", "greedy", "lp")},
            "stockout_school_days": {name: plans[name]["stockout_school_days"] for name in ("none", "greedy", "lp")},
            "lp_vs_none": impact["ratios"]["lp_vs_none"], "lp_vs_greedy": impact["ratios"]["lp_vs_greedy"],
            "stockout_school_days_lp_vs_none": _ratio(plans, "lp", "none", "stockout_school_days"),
            "stockout_school_days_lp_vs_greedy": _ratio(plans, "lp", "greedy", "stockout_school_days"),
            "lp_minus_greedy_no_meal_child_days": _paired(plans, "lp", "greedy"),
            "transport_cost_inr": {"greedy": plans["greedy"]["transport_cost_inr"], "lp": plans["lp"]["transport_cost_inr"]},
            "transport_cost_ratio_lp_vs_greedy": (round(lp.transport_cost_inr / greedy.transport_cost_inr, 4)
                                                  if greedy.transport_cost_inr > 0 else None)}


def _ratio(plans: dict, a: str, b: str, kpi: str) -> float | None:
    den = plans[b][kpi]["mean"]
    return round(plans[a][kpi]["mean"] / den, 4) if den else None


def _paired(plans: dict, a: str, b: str) -> dict:
    """a - b from the two paired differences against none (the same replications throughout)."""
    da, db = plans[a]["no_meal_child_days_vs_none"], plans[b]["no_meal_child_days_vs_none"]
    return {"mean": round(da["mean"] - db["mean"], 3)}


def _stock(inp: OptimiseInput, seed: int, blocks: int) -> dict:
    # CPU seconds beside the wall clock: on a machine shared with other work the wall clock of a
    # single-threaded solve grows with the load; the CPU it takes does not (much)
    cpu = time.process_time()
    plan = rebalance_stock(inp, StockRule())
    state_cpu_s = time.process_time() - cpu
    block_ms, block_cpu_ms = [], []
    for b in np.random.default_rng(seed).choice(np.unique(inp.block), blocks, replace=False).tolist():
        t, cpu = time.perf_counter(), time.process_time()
        rebalance_block(inp, b, StockRule())
        block_ms.append((time.perf_counter() - t) * 1e3)
        block_cpu_ms.append((time.process_time() - cpu) * 1e3)
    return {"variables": plan.variables, "constraints": plan.constraints, "build_s": round(plan.build_s, 3),
            "solve_s": round(plan.solve_s, 3), "build_solve_cpu_s": round(state_cpu_s, 3),
            "block_resolve_ms": round(statistics.median(block_ms), 1),
            "block_resolve_cpu_ms": round(statistics.median(block_cpu_ms), 1),
            "block_resolve_max_ms": round(max(block_ms), 1), "status": plan.status, "transfers": int(plan.quantity.size),
            "shortfall_child_days_before": round(float(plan.shortfall_before.sum()), 1),
            "shortfall_child_days_after": round(float(plan.shortfall_after.sum()), 1)}


def run(n_schools: int = 43_000, seed: int = 0, blocks: int = 20, horizon_days: int = 10, replications: int = 20,
        stress_horizon_days: int = 20) -> dict:
    """Headline keys from the world's state; `stressed` the same on `synthetic_input`'s harsher spread;
    the stress scenario's keys (see `_verified`) from the world's state."""
    t = time.perf_counter()
    start, inp = world_start_and_input(n_schools, seed)
    input_s = time.perf_counter() - t
    out = {"schools": inp.n, "depots": int(np.unique(inp.block).size), "arcs": int(inp.arc_from.size)}
    out.update(_stock(inp, seed, blocks))
    t = time.perf_counter()
    schedule = schedule_deliveries(inp, DeliveryRule(horizon_days=horizon_days))
    out.update({"delivery_horizon_days": horizon_days, "delivery_variables": schedule.variables,
                "delivery_s": round(time.perf_counter() - t, 3), "delivery_method": schedule.method,
                "delivery_visits": int(schedule.school.size), "delivery_schools_running_out": int(schedule.runs_out.size),
                "delivery_running_out_by_reason": dict(Counter(r.split(":")[0] for r in schedule.reason))})
    t = time.perf_counter()
    exact = schedule_deliveries(inp, DeliveryRule(horizon_days=horizon_days, method="milp"))
    out.update({"delivery_milp_s": round(time.perf_counter() - t, 3), "delivery_milp_visits": int(exact.school.size),
                "delivery_milp_schools_running_out": int(exact.runs_out.size),
                "delivery_milp_gap": exact.mip_gap})
    t = time.perf_counter()
    funds = plan_fund_advances(inp, FundRule())
    out.update({"funds_s": round(time.perf_counter() - t, 3), "funds_status": funds.status,
                "funds_schools_advanced": int((funds.advance_inr > 0).sum()), "input_s": round(input_s, 3)})
    out.update(_verified(start, inp, seed, replications, stress_horizon_days))
    # where the LP's neighbour arcs matter: depots holding one day of their block's need
    out["scarce_depots"] = _verified(start, inp, seed, replications, stress_horizon_days, depot_days=1.0)
    # and with the vehicles binding too: one 3-tonne truck shared by two blocks (1,500 kg a block a day)
    out["scarce_depots_shared_trucks"] = _verified(start, inp, seed, replications, stress_horizon_days,
                                                   depot_days=1.0, vehicle_kg=1_500.0)
    out["stressed"] = _stock(synthetic_input(n_schools, seed), seed, blocks)
    return out
