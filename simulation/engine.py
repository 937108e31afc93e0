"""The scenario engine: SimPy processes for depots, egg suppliers, fund releases and weather over
numpy arrays of school state, advanced by one daily tick (never a process per school).

Within a day, events run in this order: grain arrives at the depots' delivery time (day + 0),
fund releases (+0.05), closures (+0.1), egg drops (+0.2), then the tick (+0.5): attendance,
reallocation, meals, spoilage, and the day's KPIs. `Engine(start, inputs).run(plan, r)` simulates
replication r of one plan; plans given the same r share every random stream (`simulation.streams`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import simpy

from simulation import world as w
from simulation.closures import closures, coastal_districts
from simulation.engine_calendar import DayTable
from simulation.funds_flow import advance_funds, tranche
from simulation.kpi import DAILY_KPIS
from simulation.levers import Lever, PlanLevers, ScenarioInputs
from simulation.reallocation import reallocate
from simulation.start_state import StartState, block_count
from simulation.start_state import block_district as all_block_district
from simulation.streams import streams
from simulation.supply import deliver_grain, delivery_windows, depot, egg_supplier, planned_visits
from simulation.tick_kernel import (CONSUMED, LEDGER_SLOTS, MEAL_COST, OTHER_SPENT, SPOILED, DayDraws, school_day,
                                    stock_only)
from twin import geography, norms

COOK_ABSENT_VACANT_PROB = 0.15  # a kitchen whose cook post is vacant waits for one shared with 2-3 others
MAX_DELIVERY_CYCLES_PER_DAY = 1 / 5  # delays are drawn for a cycle every 5 days, whatever the plan
_HALF = 0.5


class _CountingEnvironment(simpy.Environment):
    """A SimPy environment that counts the events it processes."""

    events_processed = 0

    def step(self) -> None:
        self.events_processed += 1
        super().step()


@dataclass
class ReplicationOutcome:
    """One plan's replication: KPIs per day and block, and the ledgers that must balance."""

    plan: str
    replication: int
    blocks: np.ndarray  # int32 [nb] global blocks simulated, ascending
    block_daily: np.ndarray  # float64 [days, nb, len(DAILY_KPIS)]
    ledger: dict[str, np.ndarray] = field(default_factory=dict)
    simpy_events: int = 0


class Engine:
    """Arrays that every plan and replication of a scenario share, prepared once."""

    def __init__(self, start: StartState, inputs: ScenarioInputs) -> None:
        order = np.argsort(start.block, kind="stable")
        self.start = start if np.all(order == np.arange(len(start))) else start.subset(order)
        self.inputs = inputs
        s = self.start
        self.n = len(s)
        self.horizon = inputs.horizon_days
        self.days = DayTable(s.day, self.horizon)
        self.nb_total = block_count()
        self.blocks, self.block_starts, self.block_row = np.unique(s.block, return_index=True, return_inverse=True)
        self.block_row = self.block_row.astype(np.int64)
        block_district = all_block_district()[self.blocks]
        self.block_district_starts = np.flatnonzero(np.r_[True, block_district[1:] != block_district[:-1]])
        self.districts = block_district[self.block_district_starts]
        self.block_mask_in = np.zeros(self.nb_total, bool)
        self.block_mask_in[self.blocks] = True
        self.district = s.district.astype(np.int64)
        self.block = s.block.astype(np.int64)

        factor = np.ones(self.n)
        for d in inputs.of(Lever.ENROLMENT_CHANGE):
            factor *= np.where(d.blocks[self.block], 1 + d.value / 100, 1.0)
        self.enrolment = np.rint(s.enrolment * factor[:, None])
        self.children = self.enrolment.sum(axis=1)
        share = np.divide(self.enrolment, self.children[:, None], out=np.full_like(self.enrolment, 1 / 3),
                          where=self.children[:, None] > 0)
        self.ration = share @ norms.RATION_PER_MEAL.T  # [n, 4] per meal, band-weighted
        self.band_share = share
        self.exam_eat = share[:, 0] + share[:, 1] + w.SECONDARY_EAT_ON_EXAM_DAYS * share[:, 2]
        self.eat_rate = s.attendance_rate * s.eat_share
        self.need_per_day = (self.children * self.eat_rate)[:, None] * self.ration  # an ordinary day
        self.coastal = np.isin(self.district, coastal_districts())
        self.spoil_prob = np.full(self.n, w.SPOILAGE_PROB)
        self.monsoon_spoil_prob = np.where(self.coastal, 3 * w.SPOILAGE_PROB, w.SPOILAGE_PROB)
        self._costs: dict = {}
        self.ones = np.ones(self.n)
        self.windows = {lever: delivery_windows(inputs, lever, self.nb_total)
                        for lever in (Lever.DELIVERY_CANCEL, Lever.DELIVERY_DELAY, Lever.ROAD_CLOSURE)}

    def run(self, plan: PlanLevers, replication: int) -> ReplicationOutcome:
        """Replication `replication` of `plan`: its random streams depend on the scenario's seed and
        `replication` only, so every plan run with the same `replication` shares them."""
        return Replication(self, plan, replication).run()

    def cost_per_meal(self, day: int) -> np.ndarray:
        """float64 [n] INR per meal at each school on `day`: its band mix at the norms, price shocks applied."""
        shocks = [d for d in self.inputs.of(Lever.PRICE_SHOCK) if d.on(day)]
        key = (norms.cost_per_meal(self.days.date[day]), tuple(id(d) for d in shocks))
        if key not in self._costs:
            cost = self.band_share @ np.array(key[0])
            for d in shocks:
                cost = cost * np.where(d.blocks[self.block], 1 + d.value / 100, 1.0)
            self._costs[key] = cost
        return self._costs[key]


class Replication:
    """Mutable state of one replication of one plan."""

    def __init__(self, engine: Engine, plan: PlanLevers, replication: int) -> None:
        e, s = engine, engine.start
        self.e, self.plan, self.r = e, plan, replication
        self.rng = streams(e.inputs.seed, replication)
        self.stock = s.stock.astype(np.float64).copy()
        if plan.stock_change is not None:
            self.stock = np.maximum(self.stock + plan.stock_change, 0.0)
        self.funds = s.funds_inr.astype(np.float64).copy()
        if plan.funds_change is not None:
            self.funds = self.funds + plan.funds_change
        self.closed_until = s.closed_until_day.astype(np.int64).copy()
        self.open_today = np.ones(e.n, bool)
        self.arrivals: list[int] = []
        self.record = np.zeros((e.horizon, len(e.blocks), len(DAILY_KPIS)))
        self.ledger = {"stock_start": self.stock.sum(axis=0), "delivered": np.zeros(4), "moved_kg": np.zeros(3),
                       "funds_start": float(self.funds.sum()), "released_inr": 0.0}
        self.kernel_ledger = np.zeros(LEDGER_SLOTS)
        self._schedule()

    # ----------------------------------------------------------------- set-up draws

    def _schedule(self) -> None:
        """Depot cycles, delays, egg weekdays and vacant cook posts: drawn in fixed sizes so every
        plan of replication r gets the same ones."""
        e, s, nb = self.e, self.e.start, self.e.nb_total
        sched, dl = self.rng["schedule"], self.rng["deliveries"]
        stagger = sched.integers(0, w.GRAIN_CYCLE_DAYS, nb)
        egg_weekday = sched.integers(0, 5, nb)
        vacancy_u = sched.random(e.n)
        self.planned0 = s.grain_planned_day if s.grain_planned_day is not None else stagger
        prone = s.grain_delay_prone if s.grain_delay_prone is not None else dl.random(nb) < w.DELAY_PRONE_BLOCKS
        cycles = int(e.horizon * MAX_DELIVERY_CYCLES_PER_DAY) + 3
        u = dl.random((cycles, nb))
        shape = (cycles, nb)
        small, big, late = dl.integers(1, 6, shape), dl.integers(6, 21, shape), dl.integers(5, 21, shape)
        delay = np.where(u < 0.70, 0, np.where(u < 0.95, small, big))
        self.delay = np.where(prone[None, :], np.maximum(delay, late), delay)
        self.due0 = s.grain_due_day if s.grain_due_day is not None else self.planned0 + self.delay[0]
        self.egg_weekday = s.egg_weekday if s.egg_weekday is not None else egg_weekday
        vacant = np.zeros(e.n, bool)
        for d in e.inputs.of(Lever.COOK_VACANCY):
            vacant |= d.blocks[e.block] & (vacancy_u < d.value)
        self.cook_absent_prob = np.where(vacant, COOK_ABSENT_VACANT_PROB, w.COOK_ABSENT_PROB)

    # ----------------------------------------------------------------- run

    def run(self) -> ReplicationOutcome:
        env = _CountingEnvironment()
        e = self.e
        if self.plan.top_up_at_start:
            deliver_grain(self, np.ones(e.n, bool))
        advance_funds(self)
        for b in e.blocks.tolist():
            env.process(depot(env, self, b))
        for q in e.days.quarter_starts():
            env.process(tranche(env, self, q))
        env.process(closures(env, self))
        env.process(egg_supplier(env, self))
        if self.plan.stock_visits is not None:
            env.process(planned_visits(env, self))
        env.process(self._tick(env))
        env.run(until=e.horizon)
        return ReplicationOutcome(self.plan.name, self.r, e.blocks.astype(np.int32), self.record,
                                  self._closing_ledger(), env.events_processed)

    def _closing_ledger(self) -> dict:
        out = dict(self.ledger)
        k = self.kernel_ledger
        out["consumed"] = k[CONSUMED:CONSUMED + 4].copy()
        out["spoiled"] = np.r_[k[SPOILED:SPOILED + 3], 0.0]
        out["meal_cost_inr"] = float(k[MEAL_COST])
        out["other_spent_inr"] = float(k[OTHER_SPENT])
        out["stock_end"] = self.stock.sum(axis=0)
        out["funds_end"] = float(self.funds.sum())
        return out

    # ----------------------------------------------------------------- the daily tick

    def _tick(self, env: simpy.Environment):
        e = self.e
        yield env.timeout(_HALF)
        for day in range(e.horizon):
            if self.arrivals:
                hit = np.zeros(e.nb_total, bool)
                hit[self.arrivals] = True
                self.arrivals.clear()
                deliver_grain(self, hit[e.block] & self.open_today)
            if e.days.school_day[day]:
                self._school_day(day)
            else:
                stock_only(self.stock, e.need_per_day[:, 0], e.block_row, self.record[day])
            yield env.timeout(1)

    def _school_day(self, day: int) -> None:
        """Reallocation, then attendance, meals, stock and funds drawn down and spoilage (the kernel)."""
        e, rng = self.e, self.rng
        if self.plan.reallocation is not None:
            self.ledger["moved_kg"] += reallocate(self.stock, e.need_per_day, self.open_today, e.block_starts,
                                                  e.block_row, self.plan.reallocation)
        draws = DayDraws(
            z=rng["attendance"].standard_normal(e.n),
            shock=rng["attendance"].normal(0, 0.02, len(geography.district_names())),
            kitchen_seed=int(rng["kitchen"].integers(0, 2**63)),
            spoil_share=self._spoil_shares(day),
            other_inr=_sparse(rng["kitchen"], e.n, w.UTILISATION_PROB, lambda k: rng["kitchen"].integers(150, 3000, k)),
        )
        school_day(e.children, e.start.attendance_rate, e.start.eat_share, e.district,
                   e.days.attendance_factor[day], e.exam_eat if e.days.exam[day] else None, e.ration,
                   e.cost_per_meal(day), e.need_per_day[:, 0], self.cook_absent_prob,
                   self.open_today, draws, self.stock, self.funds, e.block_row, self.record[day], self.kernel_ledger)

    def _spoil_shares(self, day: int) -> np.ndarray:
        """Share of grain each school loses today to damp, pests or pilferage (mostly 0): schools are
        drawn at the day's highest probability, then kept at their own (three times on a monsoon coast)."""
        e, rng = self.e, self.rng["spoilage"]
        p = e.monsoon_spoil_prob if e.days.monsoon[day] else e.spoil_prob
        p_max = float(p.max())
        k = int(rng.binomial(e.n, p_max))
        idx, keep_u, loss_u = rng.integers(0, e.n, k), rng.random(k), rng.random(k)
        share = np.zeros(e.n)
        hit = keep_u < p[idx] / p_max
        share[idx[hit]] = 0.01 + 0.07 * loss_u[hit]
        return share


def _sparse(rng: np.random.Generator, n: int, prob: float, values) -> np.ndarray:  # noqa: ANN001
    """float64 [n]: 0, except at schools hit with probability `prob` each, where `values(k)` goes."""
    k = int(rng.binomial(n, prob))
    out = np.zeros(n)
    out[rng.integers(0, n, k)] = values(k)
    return out
