"""Funds as SimPy processes: a quarter's tranche passed state -> district -> block -> school with the
live world's delays (plus a scenario's), and a plan's advance, recovered from the next tranche."""

from __future__ import annotations

import numpy as np
import simpy

from simulation import world as w
from simulation.levers import Lever
from simulation.start_state import block_district
from twin import geography, norms


def advance_funds(rep) -> None:  # noqa: ANN001 - rep: engine.Replication
    """Release the plan's advance (months of meal cost at the norms) on day 0."""
    months = rep.plan.fund_advance_months
    rep.advance_left = np.zeros(rep.e.n)
    if months > 0:
        amount = norms.annual_allocation_inr(rep.e.enrolment, rep.e.start.day) * months / 12
        rep.funds += amount
        rep.advance_left = amount
        rep.ledger["released_inr"] += float(amount.sum())


def tranche(env: simpy.Environment, rep, q: int):  # noqa: ANN001
    """A quarter's release from day `q`: state -> district -> block -> school delays as in the
    live world, plus scenario delays; any advance is recovered from it."""
    e, rng, nd, nb = rep.e, rep.rng["funds"], len(geography.district_names()), rep.e.nb_total
    district_day = q + rng.integers(0, 15, nd) + (rng.random(nd) < 0.1) * rng.integers(15, 40, nd)
    very_late = (rng.random(nb) < w.VERY_LATE_BLOCKS) * rng.integers(60, 110, nb)
    block_day = district_day[block_district()] + rng.integers(2, 15, nb) + very_late
    school_day = block_day[e.block] + rng.integers(0, 8, e.n)
    for d in e.inputs.of(Lever.FUND_DELAY):
        school_day = school_day + np.where(d.blocks[e.block] & d.on(q), int(d.value), 0)
    amount = norms.annual_allocation_inr(e.enrolment, e.days.date[q]) / 4
    recovered = np.minimum(amount, rep.advance_left)
    rep.advance_left = rep.advance_left - recovered
    amount = amount - recovered
    for day in np.unique(school_day[school_day < e.horizon]).tolist():
        if day + 0.05 > env.now:
            yield env.timeout(day + 0.05 - env.now)
        hit = school_day == day
        rep.funds[hit] += amount[hit]
        rep.ledger["released_inr"] += float(amount[hit].sum())
