"""Closures as a SimPy process: each morning, which schools are shut, by the north-east monsoon as
the live world draws it (a system over the coast, a flooded block), by local events, and by the
scenario's closures."""

from __future__ import annotations

import numpy as np
import simpy

from simulation import world as w
from simulation.levers import Lever
from simulation.start_state import block_district
from twin import geography


def closures(env: simpy.Environment, rep):  # noqa: ANN001 - rep: engine.Replication
    """Each morning: which schools are closed, by the monsoon as the live world draws it, by local
    events, and by the scenario's closures."""
    e = rep.e
    yield env.timeout(0.1)
    rng = rep.rng["weather"]
    coastal = coastal_districts()
    shut = e.inputs.of(Lever.SCHOOL_CLOSURE)
    for day in range(e.horizon):
        if e.inputs.weather and e.days.monsoon[day]:
            _monsoon_draws(rep, rng, day, coastal)
        if e.days.school_day[day]:
            k = rng.binomial(e.n, w.SCHOOL_CLOSURE_PROB)
            hit, days = rng.integers(0, e.n, k), rng.integers(1, 3, k)
            np.maximum.at(rep.closed_until, hit, day + days - 1)
        is_open = rep.closed_until < day
        for d in shut:
            if d.on(day):
                is_open &= ~d.blocks[e.block]
        rep.open_today = is_open
        yield env.timeout(1)


def _monsoon_draws(rep, rng: np.random.Generator, day: int, coastal: np.ndarray) -> None:  # noqa: ANN001
    """A weather system over the coast (as `World._monsoon_system`) and a flooded block; every
    draw is made whether or not it is used, so the stream stays aligned across plans."""
    e = rep.e
    system = rng.random() < w.SYSTEM_PROB
    landfall = int(coastal[rng.integers(len(coastal))])
    spare = rng.random(len(coastal)) < 0.3
    length = rng.integers(1, 7, len(coastal))
    flood = rng.random() < w.BLOCK_FLOOD_PROB
    blocks = _coastal_blocks()
    block = int(blocks[rng.integers(len(blocks))])
    flood_days = int(rng.integers(1, 4))
    if system:
        near = _near(landfall)
        for j, di in enumerate(coastal.tolist()):
            if near[j] and (di == landfall or not spare[j]):
                hit = e.district == di
                rep.closed_until[hit] = np.maximum(rep.closed_until[hit], day + length[j] - 1)
    if flood and e.block_mask_in[block]:
        hit = e.block == block
        rep.closed_until[hit] = np.maximum(rep.closed_until[hit], day + flood_days - 1)


# ----------------------------------------------------------------- geography (cached)

_CACHE: dict[str, object] = {}


def coastal_districts() -> np.ndarray:
    if "coast" not in _CACHE:
        _CACHE["coast"] = np.array([geography.district_index(d) for d in w.COASTAL_DISTRICTS])
    return _CACHE["coast"]  # type: ignore[return-value]


def _coastal_blocks() -> np.ndarray:
    if "coast_blocks" not in _CACHE:
        _CACHE["coast_blocks"] = np.flatnonzero(np.isin(block_district(), coastal_districts()))
    return _CACHE["coast_blocks"]  # type: ignore[return-value]


def _near(landfall: int) -> np.ndarray:
    """bool [coastal]: coastal districts within a system's reach of `landfall`."""
    key = f"near{landfall}"
    if key not in _CACHE:
        _CACHE[key] = np.array([w._hq_distance_km(landfall, int(c)) <= w.SYSTEM_REACH_KM for c in coastal_districts()])
    return _CACHE[key]  # type: ignore[return-value]
