"""The engine's numba kernels against slow, obvious references written school by school."""

from __future__ import annotations

import numpy as np

from simulation import world as w
from simulation.kpi import DAILY_KPIS, K
from simulation.levers import Reallocation
from simulation.reallocation import reallocate
from simulation.tick_kernel import (CONSUMED, LEDGER_SLOTS, MEAL_COST, OTHER_SPENT, SPOILED, DayDraws, kitchen_uniform,
                                    school_day)


def _inputs(n: int = 300, seed: int = 0):
    rng = np.random.default_rng(seed)
    block_row = np.sort(rng.integers(0, 12, n))
    ration = rng.uniform(0.05, 0.15, (n, 4))
    ration[:, 3] = 1.0
    children = rng.integers(0, 200, n).astype(np.float64)
    stock = rng.uniform(0, 300, (n, 4)) * (rng.random((n, 1)) < 0.9)
    return dict(
        children=children, attendance_rate=rng.uniform(0.7, 0.95, n), eat_share=rng.uniform(0.9, 1, n),
        district=rng.integers(0, 38, n), factor=0.96, exam_eat=None, ration=ration, cost_inr=rng.uniform(6, 10, n),
        need_rice_kg=rng.uniform(1, 20, n), cook_absent_prob=np.full(n, 0.05), is_open=rng.random(n) < 0.9,
        draws=DayDraws(z=rng.standard_normal(n), shock=rng.normal(0, 0.02, 38), kitchen_seed=int(rng.integers(2**62)),
                       spoil_share=np.where(rng.random(n) < 0.1, rng.uniform(0.01, 0.08, n), 0.0),
                       other_inr=np.where(rng.random(n) < 0.05, 500.0, 0.0)),
        stock=stock, funds_inr=rng.uniform(-500, 3000, n), block_row=block_row,
    )


def _naive_school_day(a: dict, nb: int):
    stock, funds = a["stock"].copy(), a["funds_inr"].copy()
    out, ledger = np.zeros((nb, len(DAILY_KPIS))), np.zeros(LEDGER_SLOTS)
    d = a["draws"]
    for i in range(len(a["children"])):
        rate = min(max(a["attendance_rate"][i] * a["factor"] + d.shock[a["district"][i]], 0.3), 0.99) * a["eat_share"][i]
        mean = a["children"][i] * rate
        eaters = min(max(round(mean + (mean * (1 - rate)) ** 0.5 * d.z[i]), 0), a["children"][i])
        no_rice = stock[i, 0] < eaters * a["ration"][i, 0]
        u = _splitmix_uniform(d.kitchen_seed, i)
        refused = funds[i] <= 0 and u > 1 - w.FUNDS_REFUSAL_PROB
        served = a["is_open"][i] and not (no_rice or u < 0.05 + w.NOT_SERVED_PROB or refused)
        meals = eaters if served else 0
        b = a["block_row"][i]
        for item in range(4):
            take = min(stock[i, item], meals * a["ration"][i, item])
            stock[i, item] -= take
            ledger[CONSUMED + item] += take
        out[b, K["eggs_missed"]] += meals - min(a["stock"][i, 3], meals)
        spend = meals * a["cost_inr"][i]
        out[b, K["fund_shortfall_inr"]] += max(spend - max(funds[i], 0), 0)
        funds[i] -= spend + d.other_inr[i]
        ledger[MEAL_COST] += spend
        ledger[OTHER_SPENT] += d.other_inr[i]
        if d.spoil_share[i] > 0 and stock[i, 0] >= 1:
            loss = stock[i, :3] * d.spoil_share[i]
            stock[i, :3] -= loss
            ledger[SPOILED:SPOILED + 3] += loss
        out[b, K["meals_served"]] += meals
        out[b, K["meals_missed"]] += eaters if a["is_open"][i] and not served else 0
        out[b, K["children_without_meal"]] += eaters if not served else 0
        out[b, K["stockout_school_days"]] += a["is_open"][i] and no_rice
        out[b, K["open_school_days"]] += a["is_open"][i]
        out[b, K["cost_inr"]] += spend
        out[b, K["rice_stock_kg"]] += stock[i, 0]
        out[b, K["rice_need_kg"]] += a["need_rice_kg"][i]
    return stock, funds, out, ledger


def _splitmix_uniform(seed: int, i: int) -> float:
    m = (1 << 64) - 1
    z = (seed + (i + 1) * 0x9E3779B97F4A7C15) & m
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
    z ^= z >> 31
    return (z >> 11) / 2.0**53


def test_the_hashed_uniforms_are_the_reference_and_look_uniform():
    seed = 123_456_789
    assert kitchen_uniform(seed, 5) == _splitmix_uniform(seed, 5)
    u = np.array([kitchen_uniform(seed, i) for i in range(20_000)])
    assert abs(u.mean() - 0.5) < 0.01 and 0 <= u.min() and u.max() < 1
    assert np.histogram(u, bins=10, range=(0, 1))[0].min() > 1_800


def test_school_day_matches_the_reference():
    for seed in range(3):
        a = _inputs(seed=seed)
        stock, funds, out, ledger = _naive_school_day(a, 12)
        got_out, got_ledger = np.zeros_like(out), np.zeros(LEDGER_SLOTS)
        school_day(**a, out=got_out, ledger=got_ledger)
        np.testing.assert_allclose(a["stock"], stock, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(a["funds_inr"], funds, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(got_out, out, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(got_ledger, ledger, rtol=1e-12, atol=1e-9)


def test_reallocation_matches_the_reference_and_conserves_grain():
    rng = np.random.default_rng(4)
    n, nb = 400, 9
    block_row = np.sort(rng.integers(0, nb, n))
    starts = np.searchsorted(block_row, np.arange(nb))
    need = rng.uniform(0.5, 5, (n, 4))
    stock = need * rng.uniform(0, 20, (n, 1))
    eligible = rng.random(n) < 0.9
    rule = Reallocation(3, 10, 6)
    expected = stock.copy()
    for b in range(nb):
        rows = np.flatnonzero((block_row == b) & eligible)
        for item in range(3):
            days = stock[rows, item] / need[rows, item]
            ask = np.where(days < 3, np.maximum(6 * need[rows, item] - stock[rows, item], 0), 0)
            offer = np.where(days > 10, stock[rows, item] - 10 * need[rows, item], 0)
            moved = min(ask.sum(), offer.sum())
            if ask.sum() > 0:
                expected[rows, item] += ask * moved / ask.sum()
            if offer.sum() > 0:
                expected[rows, item] -= offer * moved / offer.sum()
    before = stock.copy()
    moved = reallocate(stock, need, eligible, starts, block_row, rule)
    np.testing.assert_allclose(stock, expected, rtol=1e-12, atol=1e-9)
    assert moved.sum() > 0
    for b in range(nb):
        np.testing.assert_allclose(stock[block_row == b].sum(axis=0), before[block_row == b].sum(axis=0), rtol=1e-12)
