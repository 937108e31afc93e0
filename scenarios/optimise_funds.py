"""Fund advances as one LP (HiGHS through `scipy.optimize.linprog`): which schools get an advance,
within each block's available balance, so that no kitchen stops for want of money over a horizon.

A school needs `meal_cost_inr_per_day * horizon_days - funds_inr` more to cook every day of the
horizon (its need; nothing when its balance covers it). Per school in need:

    a >= 0 the advance (<= need),  u >= 0 the school days its kitchen still stops
    a + bill * u = need
    minimise   sum children * u * (1 + urgency / 100)     (urgency: 1 for a school already out
               of money, 0 for one that lasts the horizon: among equals, the sooner stop goes first)
    subject to per block: sum a <= block balance
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from scenarios.optimise_input import OptimiseInput


@dataclass(frozen=True)
class FundRule:
    horizon_days: float = 20.0  # school days until the next tranche reaches the schools


@dataclass
class FundPlan:
    status: str  # "solved" (no kitchen stops), "partial", "nothing_to_do" or "failed"
    message: str
    advance_inr: np.ndarray  # float64 [n]
    stop_days_before: np.ndarray  # float64 [n] school days each kitchen stops without an advance
    stop_days_after: np.ndarray  # float64 [n]
    block_dual: dict[str, np.ndarray]  # binding block balances: "index" and "dual" (weighted child-days per INR)


def plan_fund_advances(inp: OptimiseInput, rule: FundRule = FundRule()) -> FundPlan:
    inp.check()
    n = inp.n
    bill = np.maximum(inp.meal_cost_inr_per_day, 0.0)
    need = np.maximum(bill * rule.horizon_days - inp.funds_inr, 0.0)
    need[bill <= 0] = 0.0
    before = np.divide(need, bill, out=np.zeros(n), where=bill > 0)
    none = {"index": np.empty(0, np.int64), "dual": np.empty(0)}
    s = np.flatnonzero(need > 1e-6)
    if s.size == 0:
        return FundPlan("nothing_to_do", "every kitchen's balance lasts the horizon", np.zeros(n), before,
                        before.copy(), none)
    m = s.size
    urgency = np.clip(before[s] / rule.horizon_days, 0.0, 1.0)
    c = np.r_[np.zeros(m), inp.children[s] * (1 + urgency / 100)]
    eq = sp.coo_array((np.r_[np.ones(m), bill[s]], (np.r_[np.arange(m), np.arange(m)], np.arange(2 * m))),
                      shape=(m, 2 * m)).tocsr()
    key, row = np.unique(inp.block[s], return_inverse=True)
    ub = sp.coo_array((np.ones(m), (row, np.arange(m))), shape=(key.size, 2 * m)).tocsr()
    balance = np.maximum(inp.block_balance_inr[key], 0.0)
    res = linprog(c, A_ub=ub, b_ub=balance, A_eq=eq, b_eq=need[s],
                  bounds=np.column_stack([np.zeros(2 * m), np.r_[need[s], before[s]]]), method="highs")
    if res.x is None:
        return FundPlan("failed", f"HiGHS: {res.message}", np.zeros(n), before, before.copy(), none)
    advance = np.zeros(n)
    advance[s] = np.where(res.x[:m] > 1e-6, res.x[:m], 0.0)
    after = np.zeros(n)
    after[s] = np.where(res.x[m:] > 1e-9, res.x[m:], 0.0)
    binding = (res.ineqlin.residual <= 1e-6 * np.maximum(balance, 1.0)) & (np.abs(res.ineqlin.marginals) > 1e-12)
    stops = int((after > 1e-6).sum())
    return FundPlan(
        "solved" if stops == 0 else "partial",
        f"{int((advance > 0).sum())} schools advanced {advance.sum():,.0f} INR; "
        + (f"{stops} kitchens still stop: their blocks' balances run out" if stops else "no kitchen stops"),
        advance, before, after, {"index": key[binding], "dual": res.ineqlin.marginals[binding]})
