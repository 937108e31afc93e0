"""From a validated `ScenarioSpec` and a start to what the engine runs: the scoped start state,
the disruptions as block masks and day windows, and the plans' levers (baseline first)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from scenarios.spec import BASELINE, ClosureIntervention, ScenarioError, ScenarioSpec
from simulation.levers import Disruption, Lever, PlanLevers, Reallocation, ScenarioInputs
from simulation.start_state import StartState

_LEVER = {
    "delivery_delay": Lever.DELIVERY_DELAY, "delivery_cancel": Lever.DELIVERY_CANCEL,
    "fund_delay": Lever.FUND_DELAY, "enrolment_change": Lever.ENROLMENT_CHANGE,
    "cook_vacancy": Lever.COOK_VACANCY, "price_shock": Lever.PRICE_SHOCK, "egg_shortfall": Lever.EGG_SHORTFALL,
}  # fmt: skip
_VALUE = {"delivery_delay": "delay_days", "fund_delay": "delay_days", "enrolment_change": "percent",
          "cook_vacancy": "share", "price_shock": "percent", "egg_shortfall": "share"}  # fmt: skip


@dataclass
class CompiledScenario:
    start: StartState  # the scope's schools only
    inputs: ScenarioInputs
    plans: list[PlanLevers]  # baseline first

    @property
    def start_day(self) -> dt.date:
        return self.start.day


def compile_scenario(spec: ScenarioSpec, start: StartState) -> CompiledScenario:
    """Check the spec's dates against `start.day` and build the engine's inputs."""
    if spec.start != "live" and spec.start != start.day:
        raise ScenarioError(f"the spec starts on {spec.start} but the start state is of {start.day}")
    spec.check_dates(start.day)
    scope = spec.scope.mask()
    schools = scope[start.block]
    if not schools.any():
        raise ScenarioError("no schools in the scenario's scope", {"scope": spec.scope.model_dump()})
    disruptions = []
    for iv in spec.interventions:
        blocks = iv.mask() & scope
        first = (iv.date_from - start.day).days if iv.date_from else 0
        last = (iv.date_to - start.day).days if iv.date_to else spec.horizon_days - 1
        if isinstance(iv, ClosureIntervention):
            if iv.schools_closed:
                disruptions.append(Disruption(Lever.SCHOOL_CLOSURE, blocks, first, last))
            if iv.roads_closed:
                disruptions.append(Disruption(Lever.ROAD_CLOSURE, blocks, first, last))
            continue
        value = float(getattr(iv, _VALUE[iv.kind])) if iv.kind in _VALUE else 0.0
        disruptions.append(Disruption(_LEVER[iv.kind], blocks, first, last, value))
    inputs = ScenarioInputs(spec.horizon_days, spec.seed, tuple(disruptions), spec.weather)
    return CompiledScenario(start.subset(np.flatnonzero(schools)), inputs, plan_levers(spec))


def plan_levers(spec: ScenarioSpec) -> list[PlanLevers]:
    """The baseline (no changes) and each plan, unset levers left at the baseline's."""
    base = PlanLevers(name=BASELINE)
    out = [base]
    for p in spec.plans:
        rule = p.reallocation
        out.append(PlanLevers(
            name=p.name,
            buffer_days=base.buffer_days if p.buffer_days is None else p.buffer_days,
            delivery_interval_days=base.delivery_interval_days if p.delivery_interval_days is None
            else p.delivery_interval_days,
            top_up_at_start=p.top_up_at_start,
            reallocation=Reallocation(rule.below_days, rule.above_days, rule.up_to_days) if rule else None,
            fund_advance_months=p.fund_advance_months,
        ))
    return out
