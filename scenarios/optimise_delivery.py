"""Delivery schedule as a 0-1 programme, solved by LP relaxation with rounding (default) or as a
MILP (HiGHS through `scipy.optimize.linprog` / `milp`): which schools each block depot visits on each of the next N school days so that no school runs out of grain.

A school's grain is counted in days of supply `held`: the fewest days its rice, pulses or oil
last. A visit tops the school up to `top_up_days` of its need, as the scenario engine's depots do
(`simulation.supply.deliver_grain`), so a visit on day t brings `top_up_days - held + t` days of each
item. The regular cycle is not assumed (this schedule is the depots' plan for the horizon); the
candidates are the schools that would run out within it. One binary per candidate and day:

    z[c,t] = 1: the depot visits school c on day t (before the meal)        sum_t z[c,t] <= 1
    minimise   sum z * (trip + transport - missed(c,t))     (missed(c,t): the cost of the meals
               missed by a school first visited on day t, less the cost of never visiting it)
    subject to per depot and item: grain sent <= depot stock
               per depot and day:  kg loaded <= vehicle capacity less the day's transfers,
                                   visits <= stops_per_day

A missed school day costs `missed_inr_per_school_day` plus `missed_inr_per_child_day` per child,
so running out outweighs any trip. A school that still runs out is named with the day and why: its
depot had too little of an item, its depot's vehicle was full (kg or stops) every day up to then,
or the solver stopped at its time limit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from scenarios.optimise_input import OptimiseInput

_GRAIN = 3


@dataclass(frozen=True)
class DeliveryRule:
    horizon_days: int = 6  # school days scheduled
    top_up_days: float = 22.0  # a visit tops grain up to this many days of need (a school's store)
    stops_per_day: int = 12  # schools one depot vehicle reaches in a day
    missed_inr_per_school_day: float = 5_000.0
    missed_inr_per_child_day: float = 60.0
    trip_inr_per_km: float = 30.0  # a visit: there and back from the depot
    rate_inr_per_kg_km: float = 0.5
    # "lp_rounding": the LP relaxation, visits with z = 1 kept, re-solved `rounding_passes` times
    # over the rest with what is left, then a repair visiting the schools still left out wherever
    # a depot's stock and vehicle have room (fast, never breaks a constraint; a school is left out
    # only when no day in time has room, which the reasons name);
    # "milp": branch and bound to `mip_rel_gap` or `time_limit_s` (exact, slow when depots are short)
    method: str = "lp_rounding"
    rounding_passes: int = 4
    time_limit_s: float = 30.0
    mip_rel_gap: float = 1e-4


@dataclass
class DeliverySchedule:
    """Visits as rows `school`, `day`, `depot`, `kg` [k, 3] (rice, pulses, oil); schools that still
    run out as rows `runs_out`, `runs_out_day` (first school day, 0-based, it misses a meal),
    `missed_child_days`, `reason`."""

    status: str  # "solved", "partial" (some school still runs out), "nothing_to_do" or "failed"
    message: str
    school: np.ndarray
    day: np.ndarray
    depot: np.ndarray
    kg: np.ndarray
    runs_out: np.ndarray
    runs_out_day: np.ndarray
    missed_child_days: np.ndarray
    reason: list[str]
    method: str = "milp"
    mip_gap: float | None = None
    variables: int = 0
    build_s: float = 0.0
    solve_s: float = 0.0


def days_held(inp: OptimiseInput) -> np.ndarray:
    """float64 [n]: school days each school's grain lasts (its scarcest item; inf with no need)."""
    need = inp.need_per_day[:, :_GRAIN]
    days = np.maximum(inp.stock[:, :_GRAIN], 0) / np.where(need > 0, need, 1)
    return np.min(np.where(need > 0, days, np.inf), axis=1)


def schedule_deliveries(inp: OptimiseInput, rule: DeliveryRule = DeliveryRule(),
                        loaded_kg: np.ndarray | None = None) -> DeliverySchedule:
    """Every depot's schedule in one MILP. `loaded_kg` (float64 [nb, horizon_days]): what each
    depot's vehicle already carries on each school day of the horizon, apart from these visits
    (the same day's transfers): the visits get what is left of it."""
    inp.check()
    return _schedule(inp, rule, _loads(inp, rule, loaded_kg))


def schedule_block(inp: OptimiseInput, block: int, rule: DeliveryRule = DeliveryRule(),
                   loaded_kg: np.ndarray | None = None) -> DeliverySchedule:
    """Depot `block` (global block index) alone; school indices in the answer are the full input's.
    Every constraint is one school's or one depot's, so this is the state solve's part for it."""
    schools = inp.block_schools(block)
    out = _schedule(inp.part(schools), rule, _loads(inp, rule, loaded_kg))
    out.school, out.runs_out = schools[out.school], schools[out.runs_out]
    return out


def _loads(inp: OptimiseInput, rule: DeliveryRule, loaded_kg: np.ndarray | None) -> np.ndarray:
    shape = (inp.n_blocks, int(rule.horizon_days))
    if loaded_kg is None:
        return np.zeros(shape)
    loaded_kg = np.asarray(loaded_kg, np.float64)
    if loaded_kg.shape != shape:
        raise ValueError(f"loaded_kg has shape {loaded_kg.shape}, expected {shape} (depots, school days)")
    return loaded_kg


def _schedule(inp: OptimiseInput, rule: DeliveryRule, loaded_kg: np.ndarray) -> DeliverySchedule:
    t0 = time.perf_counter()
    need = inp.need_per_day[:, :_GRAIN]
    T = int(rule.horizon_days)
    held_all = days_held(inp)
    cand = np.flatnonzero(held_all < T)
    if cand.size == 0:
        return _empty("nothing_to_do", "no school runs out of grain within the horizon")
    nc, k = cand.size, cand.size * T
    held, blk = held_all[cand], inp.block[cand]
    cc, tt = np.repeat(np.arange(nc), T), np.tile(np.arange(T), nc)  # (school, day) of each variable
    days_brought = np.maximum(rule.top_up_days - held[cc] + tt, 0.0)
    kg_item = days_brought[:, None] * need[cand][cc]  # [k, 3]
    kg = kg_item.sum(axis=1)
    day_cost = rule.missed_inr_per_school_day + rule.missed_inr_per_child_day * inp.children[cand]
    never = np.maximum(T - held, 0.0) * day_cost  # missed if never visited
    missed = np.maximum(tt - held[cc], 0.0) * day_cost[cc]
    km = inp.depot_km[cand][cc]
    cost = rule.trip_inr_per_km * 2 * km + rule.rate_inr_per_kg_km * kg * km + missed - never[cc]

    var = np.arange(k)
    dep_key, dep_row = np.unique((blk[cc] * _GRAIN)[:, None] + np.arange(_GRAIN), return_inverse=True)
    day_key, day_row = np.unique(blk[cc] * T + tt, return_inverse=True)
    nd, nday = dep_key.size, day_key.size
    rows = np.concatenate([cc, nc + dep_row.reshape(k, _GRAIN).ravel(), nc + nd + day_row, nc + nd + nday + day_row])
    cols = np.concatenate([var, np.repeat(var, _GRAIN), var, var])
    vals = np.concatenate([np.ones(k), kg_item.ravel(), kg, np.ones(k)])
    A = sp.coo_array((vals, (rows, cols)), shape=(nc + nd + 2 * nday, k)).tocsr()
    depot_left = np.maximum(inp.depot_stock[:, :_GRAIN], 0.0).ravel()[dep_key]
    # a depot's vehicle on a day: its load less what the day's transfers already put on it
    vehicle_kg = np.maximum(inp.vehicle_kg_per_day[day_key // T] - loaded_kg[day_key // T, day_key % T], 0.0)
    upper = np.concatenate([np.ones(nc), depot_left, vehicle_kg, np.full(nday, float(rule.stops_per_day))])
    build_s = time.perf_counter() - t0

    t1 = time.perf_counter()
    if rule.method == "milp":
        res = milp(cost, integrality=np.ones(k), bounds=Bounds(0, 1), constraints=LinearConstraint(A, -np.inf, upper),
                   options={"time_limit": rule.time_limit_s, "mip_rel_gap": rule.mip_rel_gap})
        visit, ok, note, gap = (res.x > 0.5 if res.x is not None else None), res.status == 0, res.message, res.get("mip_gap")
    else:
        visit, ok, note = _lp_rounding(cost, A, upper, cc, nc, rule)
        gap = None
    solve_s = time.perf_counter() - t1
    if visit is None:
        out = _empty("failed", f"HiGHS: {note}")
        out.build_s, out.solve_s, out.variables = build_s, solve_s, k
        return out

    first_visit = np.full(nc, T)
    np.minimum.at(first_visit, cc[visit], tt[visit])
    short = np.flatnonzero(first_visit > held)  # runs out before its visit (or none comes)
    out_day = np.floor(held[short]).astype(np.int64)
    missed_days = np.minimum(first_visit[short], T) - held[short]
    # why: on every day that would have been in time, a visit would have broken a constraint
    residual = upper - A @ visit.astype(np.float64)
    late = tt.reshape(nc, T)[short] > out_day[:, None]  # days too late to prevent the run-out
    dep_rows = nc + dep_row.reshape(k, _GRAIN)
    no_depot = ((kg_item > residual[dep_rows] + 1e-6).any(axis=1).reshape(nc, T)[short] | late).all(axis=1)
    full_kg = (kg > residual[nc + nd + day_row] + 1e-6).reshape(nc, T)[short]
    no_stop = (residual[nc + nd + nday + day_row] < 1 - 1e-6).reshape(nc, T)[short]
    no_kg = (full_kg | late).all(axis=1)
    no_room = (full_kg | no_stop | late).all(axis=1)
    # no visit in time is worth its trip (a school running out near the horizon's end misses little within it)
    not_worth = ((cost >= 0).reshape(nc, T)[short] | late).all(axis=1)
    why = np.select([no_depot, no_kg, no_room, not_worth, np.full(short.size, rule.method != "milp")],
                    ["depot_stock: its depot has too little of an item left for it",
                     "vehicle_kg: its depot's vehicle was full on every day that would have been in time",
                     "vehicle_stops: its depot's vehicle had no stop (or load) left on every day in time",
                     "cost: a visit costs more than the meals it saves within the horizon",
                     "rounding: the LP relaxation half-visited it and the rounding left it out"],
                    "cost: a visit costs more than the meals it saves")
    reason = why.tolist()
    if not ok:
        reason = [f"{r} (solver stopped early: {note})" for r in reason]
    n_visits = int(visit.sum())
    return DeliverySchedule(
        status="partial" if short.size else "solved",
        message=(f"{n_visits} visits; " + (f"{short.size} schools still run out" if short.size
                                            else "every school keeps grain")),
        school=cand[cc[visit]], day=tt[visit], depot=blk[cc[visit]], kg=kg_item[visit],
        runs_out=cand[short], runs_out_day=out_day, missed_child_days=missed_days * inp.children[cand[short]],
        reason=reason, method=rule.method, mip_gap=None if gap is None else float(gap), variables=k,
        build_s=build_s, solve_s=solve_s)


def _lp_rounding(cost, A, upper, cc, nc, rule):
    """Visits (bool [k]) from LP relaxations: each pass keeps the visits at 1, takes away what they
    use and the other days of their schools, and solves again over the rest."""
    k = cost.size
    visit = np.zeros(k, bool)
    live = cost < 0  # a visit that costs more than never visiting is never chosen
    left = upper.copy()
    left[:nc] = 1.0
    ok, note = True, "optimal"
    for _ in range(max(rule.rounding_passes, 1)):
        cols = np.flatnonzero(live)
        if cols.size == 0:
            break
        sub = A[:, cols]
        res = linprog(cost[cols], A_ub=sub, b_ub=np.maximum(left, 0.0), bounds=(0, 1), method="highs",
                      options={"time_limit": rule.time_limit_s})
        if res.x is None:
            return (visit if visit.any() else None), False, res.message
        take = cols[res.x > 1 - 1e-6]
        if take.size == 0:
            break
        visit[take] = True
        left -= A[:, take] @ np.ones(take.size)
        done = np.zeros(nc, bool)
        done[cc[take]] = True
        live &= ~done[cc]
    _repair(visit, live, cost, A, left, cc)
    return visit, ok, note


def _repair(visit, live, cost, A, left, cc) -> None:  # noqa: ANN001
    """After the rounding passes, schools the relaxation only half-visited are visited where the
    depots' stock and vehicles still have room: in order of their best visit's worth (a school
    running out first saves the most), each takes its most valuable day that still fits. In place
    on `visit` and `left`. Visits are only added, so no constraint is broken and no school that
    was covered loses its visit."""
    cols = np.flatnonzero(live)
    if cols.size == 0:
        return
    A = A.tocsc()
    order = cols[np.lexsort((cost[cols], cc[cols]))]  # by school, cheapest day first
    _, first = np.unique(cc[order], return_index=True)
    bounds = np.append(first, order.size)
    best = cost[order[first]]
    for k in np.argsort(best, kind="stable").tolist():
        for var in order[bounds[k]:bounds[k + 1]].tolist():
            rows = A.indices[A.indptr[var]:A.indptr[var + 1]]
            use = A.data[A.indptr[var]:A.indptr[var + 1]]
            if np.all(use <= left[rows] + 1e-9):
                visit[var] = True
                left[rows] -= use
                break


def _empty(status: str, message: str) -> DeliverySchedule:
    i, f = np.empty(0, np.int64), np.empty(0)
    return DeliverySchedule(status, message, i, i, i, np.empty((0, _GRAIN)), i, i, f, [])
