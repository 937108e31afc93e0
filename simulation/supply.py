"""Supply as SimPy processes: one per block depot for grain, one egg supplier for every block.
Depots put their block on the day's arrival list; the daily tick tops the schools up (`deliver_grain`)."""

from __future__ import annotations

import numpy as np
import simpy

from simulation import world as w
from simulation.levers import Lever, ScenarioInputs
from simulation.tick_kernel import top_up

EGG_STOCK_DAYS = w.EGG_BUFFER_DAYS  # the weekly drop tops eggs up to a week and a bit


def delivery_windows(inputs: ScenarioInputs, lever: Lever, nb: int) -> list[list[tuple[int, int, float]]]:
    """Per global block, the (first day, last day, value) of each disruption of `lever` hitting it."""
    out: list[list[tuple[int, int, float]]] = [[] for _ in range(nb)]
    for d in inputs.of(lever):
        for b in np.flatnonzero(d.blocks).tolist():
            out[b].append((d.first_day, d.last_day, d.value))
    return out


def depot(env: simpy.Environment, rep, b: int):  # noqa: ANN001 - rep: engine.Replication
    """One block depot's grain cycle: planned every `delivery_interval_days`, each delivery late
    by its drawn delay plus any scenario delay, waiting out Sundays, holidays and closed roads."""
    e, interval = rep.e, rep.plan.delivery_interval_days
    cancels = e.windows[Lever.DELIVERY_CANCEL][b]
    delays = e.windows[Lever.DELIVERY_DELAY][b]
    roads = e.windows[Lever.ROAD_CLOSURE][b]
    planned, due, k = int(rep.planned0[b]), int(rep.due0[b]), 0
    while planned < e.horizon:
        if not any(first <= planned <= last for first, last, _ in cancels):
            due += int(sum(v for first, last, v in delays if first <= planned <= last))
            if due > env.now:
                yield env.timeout(due - env.now)
            day = int(env.now)
            while day < e.horizon and (not e.days.depot_works[day]
                                       or any(first <= day <= last for first, last, _ in roads)):
                yield env.timeout(1)
                day = int(env.now)
            if day < e.horizon:
                rep.arrivals.append(b)
        k = min(k + 1, rep.delay.shape[0] - 1)
        planned += interval
        due = planned + int(rep.delay[k, b])


def deliver_grain(rep, schools: np.ndarray) -> None:  # noqa: ANN001
    """Top `schools` (bool [n]) up to the plan's buffer; some get a short shipment (40-90%)."""
    e, rng = rep.e, rep.rng["shipments"]
    share = np.ones(e.n)
    k = int(rng.binomial(e.n, w.SHORT_SHIPMENT_PROB))
    share[rng.integers(0, e.n, k)] = rng.uniform(0.4, 0.9, k)
    top_up(rep.stock, e.need_per_day, schools, rep.plan.buffer_days, share, 0, 3, False, rep.ledger["delivered"])


def egg_supplier(env: simpy.Environment, rep):  # noqa: ANN001
    """Each block's weekly egg drop on its weekday (school days), topping up to a week and a bit."""
    e = rep.e
    yield env.timeout(0.2)
    shortfalls = e.inputs.of(Lever.EGG_SHORTFALL)
    for day in range(e.horizon):
        u = rep.rng["eggs"].random(e.nb_total)  # drawn every day: same numbers for every plan
        if e.days.school_day[day]:
            miss = np.full(e.nb_total, w.EGG_WEEK_MISSED_PROB)
            for d in shortfalls:
                if d.on(day):
                    miss = np.where(d.blocks, 1 - (1 - miss) * (1 - d.value), miss)
            drop = (rep.egg_weekday == e.days.weekday[day]) & (u >= miss)
            top_up(rep.stock, e.need_per_day, drop[e.block] & rep.open_today, EGG_STOCK_DAYS, e.ones, 3, 4,
                   True, rep.ledger["delivered"])
        yield env.timeout(1)


def planned_visits(env: simpy.Environment, rep):  # noqa: ANN001 - rep: engine.Replication
    """A delivery schedule's depot visits (`PlanLevers.stock_visits`), each replayed on its school
    day: it comes that morning if its depot works, its block's roads are open and the school is
    open, else on the first day after when all three hold (a visit cut off by the monsoon comes
    late, as the depots' own deliveries do). Draws nothing: every plan keeps its random streams."""
    e = rep.e
    school_day, school, items = rep.plan.stock_visits
    school_days = np.flatnonzero(e.days.school_day)  # the k-th school day of the schedule is the horizon's
    due = np.full(school.size, e.horizon)
    inside = school_day < school_days.size
    due[inside] = school_days[school_day[inside]]
    waiting = due < e.horizon
    road_open = ~_roads_closed(e)[:, e.block[school]]  # [day, visit]
    yield env.timeout(0.3)  # after the morning's closures, before the day's meals
    for day in range(e.horizon):
        if e.days.depot_works[day]:
            come = np.flatnonzero(waiting & (due <= day) & road_open[day] & rep.open_today[school])
            if come.size:
                np.add.at(rep.stock, school[come], items[come])
                rep.ledger["delivered"] += items[come].sum(axis=0)
                waiting[come] = False
        yield env.timeout(1)


def _roads_closed(e) -> np.ndarray:  # noqa: ANN001 - e: engine.Engine
    """bool [horizon, blocks]: the scenario's road closures, by day and global block."""
    out = np.zeros((e.horizon, e.nb_total), bool)
    for d in e.inputs.of(Lever.ROAD_CLOSURE):
        out[max(d.first_day, 0):d.last_day + 1] |= d.blocks
    return out
