"""Stock rebalancing as one LP (HiGHS through `scipy.optimize.linprog`): move each item from block
depots and from schools with a surplus to schools that would fall below a buffer before their next
delivery, over neighbour arcs (school -> school) and depot arcs (depot -> its block's schools).

Per item k, a school's target is `need * (days_to_delivery + buffer_days)` (both per item): below it, the deficit
is what it lacks; above it, the surplus is what it may give (so a donor keeps its own buffer, and
no school both gives and takes). Variables: flow on each arc from a school with a surplus to one
with a deficit, flow on each depot arc to a school with a deficit, and the deficit left unmet.

    minimise   sum_k weight_k * child-days unmet  +  rate * kg * km moved
    subject to inflow + unmet = deficit          (each school and item in deficit)
               outflow <= surplus                (each donor and item)
               sum of a depot's flows <= depot stock   (each depot and item)
               kg leaving a block today <= vehicle capacity   (each block; a school arc uses its sender's)

Everything is built from index arrays at once (COO), never a Python call per variable.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from scenarios.optimise_input import ITEM_KG, OptimiseInput

_TOL = 1e-9


@dataclass(frozen=True)
class StockRule:
    # school days of need a school should still hold when its next delivery comes, by item (eggs
    # come every week and do not keep)
    buffer_days: tuple[float, ...] = (7.0, 7.0, 7.0, 1.0)
    # weight of a child-day short of each item. A meal is not cooked without rice, while one short
    # of pulses, oil or its egg is a poorer meal, not a missed one; and rations of pulses and oil
    # are small, so per kg of a truck's load a higher weight on them took the trucks' room from rice
    # (at (60, 20, 10, 15) the whole state's LP moved 21% less rice than lowest-stock-first and its
    # simulated stock-out school-days were 29% higher; at these, 13% more rice and 9% higher)
    shortfall_inr_per_child_day: tuple[float, ...] = (60.0, 8.0, 3.0, 5.0)
    rate_inr_per_kg_km: float = 0.5  # transport (an egg counts as its weight)
    items: tuple[int, ...] = (0, 1, 2, 3)
    # Urgency: a receiver's deficit in tranches by the school days of need its stock reaches, the
    # first tranche (its next `urgency_days[0]` days) worth the most, each later one `urgency_value`
    # of its own. Without it every unit covers as many child-days wherever it goes, so the LP
    # is indifferent between a school that runs out tomorrow and one that runs out in three
    # weeks, and feeds whichever is cheapest to reach (measured: with short depots it did worse in
    # simulation than lowest-stock-first); with it, the most urgent days come first. Empty: flat.
    urgency_days: tuple[float, ...] = (3.0, 7.0, 14.0)
    urgency_value: tuple[float, ...] = (1.0, 0.6, 0.35, 0.2)  # one more than `urgency_days`: the last is the rest


@dataclass
class StockPlan:
    """Transfers and their effect. Transfers are rows: `from_school` (-1 when from a depot),
    `from_depot` (-1 when from a school), `to_school`, `item`, `quantity` (units of the item), `km`.
    Shortfalls are child-days below target by school and item, float64 [n, 4]. `duals` holds, per
    constraint family, the binding rows: index arrays and their dual price (INR of objective per
    unit of right-hand side; negative: one more unit would lower the cost)."""

    status: str  # "solved" (no shortfall left), "partial", "nothing_to_do" or "failed"
    message: str
    from_school: np.ndarray
    from_depot: np.ndarray
    to_school: np.ndarray
    item: np.ndarray
    quantity: np.ndarray
    km: np.ndarray
    shortfall_before: np.ndarray
    shortfall_after: np.ndarray
    transport_cost_inr: float = 0.0
    objective_inr: float = 0.0
    variables: int = 0
    constraints: int = 0
    build_s: float = 0.0
    solve_s: float = 0.0
    duals: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)


def rebalance_stock(inp: OptimiseInput, rule: StockRule = StockRule()) -> StockPlan:
    """The whole input in one LP. Never raises for a feasible-by-construction model: an empty
    problem answers "nothing_to_do", a solver failure answers "failed" with its message."""
    inp.check()
    t0 = time.perf_counter()
    items = np.array(rule.items, np.int64)
    child_per_unit = np.divide(inp.children[:, None], inp.need_per_day, out=np.zeros_like(inp.need_per_day),
                               where=inp.need_per_day > 0)
    target = inp.need_per_day * (inp.days_to_delivery + np.broadcast_to(np.asarray(rule.buffer_days, float), (4,)))
    stock = np.maximum(inp.stock, 0.0)
    deficit = np.zeros_like(stock)
    deficit[:, items] = np.maximum(target - stock, 0.0)[:, items]
    deficit[deficit < 1e-6] = 0.0
    surplus = np.zeros_like(stock)
    surplus[:, items] = np.maximum(stock - target, 0.0)[:, items]
    before = deficit * child_per_unit
    depot_stock = np.maximum(inp.depot_stock, 0.0)

    # flows: per item, every arc from a school with a surplus to one in deficit, and every depot
    # arc to a school in deficit whose depot holds the item
    a_idx, a_item = np.nonzero((surplus[inp.arc_from] > 1e-6) & (deficit[inp.arc_to] > 0))
    p_school, p_item = np.nonzero(deficit)
    has = depot_stock[inp.block[p_school], p_item] > 1e-9
    p_school, p_item = p_school[has], p_item[has]
    src = np.concatenate([inp.arc_from[a_idx], np.full(p_school.size, -1)])
    to = np.concatenate([inp.arc_to[a_idx], p_school])
    item = np.concatenate([a_item, p_item])
    km = np.concatenate([inp.arc_km[a_idx], inp.depot_km[p_school]])
    sender_block = np.concatenate([inp.block[inp.arc_from[a_idx]], inp.block[p_school]])
    # unmet = deficit - inflow, so the LP needs no variable for it: each unit moved is worth the
    # child-days it covers, less its transport; a flow worth nothing is left out. With urgency
    # tranches a flow costs its transport and the receiver's tranche variables carry the worth.
    kg = ITEM_KG[item]
    weight = np.asarray(rule.shortfall_inr_per_child_day, np.float64)
    worth = weight[item] * child_per_unit[to, item]
    transport = rule.rate_inr_per_kg_km * kg * km
    tiered = len(rule.urgency_days) > 0
    c = transport - worth * (max(rule.urgency_value) if tiered else 1.0)
    keep = c < 0
    src, to, item, km, sender_block, kg, c, transport = (v[keep] for v in (src, to, item, km, sender_block, kg, c,
                                                                           transport))
    if tiered:
        c = transport
    from_depot = src < 0
    nvar = c.size
    constant = float((weight * before).sum())
    if not deficit.any():
        return _empty(inp, before, "nothing_to_do", "no school falls below its buffer before its next delivery")
    if nvar == 0:
        plan = _empty(inp, before, "partial", "no depot stock, donor or vehicle can reach the schools below their buffer")
        plan.objective_inr = constant
        return plan

    # rows (all <=): receivers (school, item), donors (school, item), depots (block, item), vehicles (block)
    recv_key, recv_row = np.unique(to * 4 + item, return_inverse=True)
    donor_key, donor_row = np.unique((src * 4 + item)[~from_depot], return_inverse=True)
    depot_key, depot_row = np.unique((sender_block * 4 + item)[from_depot], return_inverse=True)
    vehicle_key, vehicle_row = np.unique(sender_block, return_inverse=True)
    n0, n1, n2, n3 = recv_key.size, donor_key.size, depot_key.size, vehicle_key.size
    cols = np.arange(nvar)
    ub = sp.coo_array((np.concatenate([np.ones(2 * nvar), kg]),
                       (np.concatenate([recv_row, n0 + donor_row, n0 + n1 + depot_row, n0 + n1 + n2 + vehicle_row]),
                        np.concatenate([cols, cols[~from_depot], cols[from_depot], cols]))),
                      shape=(n0 + n1 + n2 + n3, nvar)).tocsr()
    b_ub = np.concatenate([deficit.ravel()[recv_key], surplus.ravel()[donor_key], depot_stock.ravel()[depot_key],
                           np.maximum(inp.vehicle_kg_per_day, 0.0)[vehicle_key]])
    source_left = np.where(from_depot, depot_stock[sender_block, item], surplus[np.maximum(src, 0), item])
    upper = np.minimum(source_left, deficit[to, item])
    bounds = np.column_stack([np.zeros(nvar), upper])
    if tiered:  # receivers' rows become tranches - inflow <= 0; each tranche bounded by its size
        ub, c, bounds = _with_tranches(ub, c, bounds, recv_key, n0, inp, stock, target, weight, child_per_unit, rule)
        b_ub[:n0] = 0.0
    build_s = time.perf_counter() - t0

    t1 = time.perf_counter()
    res = linprog(c, A_ub=ub, b_ub=b_ub, bounds=bounds, method="highs")
    solve_s = time.perf_counter() - t1
    if res.x is None:
        plan = _empty(inp, before, "failed", f"HiGHS: {res.message}")
        plan.build_s, plan.solve_s = build_s, solve_s
        return plan

    x = res.x[:nvar]
    moved = x > 1e-7
    received = np.bincount(to * 4 + item, x, minlength=stock.size).reshape(stock.shape)
    after = np.maximum(deficit - received, 0.0) * child_per_unit
    after[after < 1e-7] = 0.0
    slack = res.ineqlin.residual
    marg = res.ineqlin.marginals
    if tiered:  # a receiver binds when it got its whole deficit (its row is always tight by construction)
        slack = slack.copy()
        slack[:n0] = deficit.ravel()[recv_key] - received.ravel()[recv_key]
        b_ub = b_ub.copy()
        b_ub[:n0] = deficit.ravel()[recv_key]
    binding = (slack <= 1e-7 * np.maximum(1.0, np.abs(b_ub))) & (np.abs(marg) > _TOL)
    fam = np.repeat(np.arange(4), [n0, n1, n2, n3])
    keys = np.concatenate([recv_key, donor_key, depot_key, vehicle_key])

    def family(f: int, per_item: bool) -> dict[str, np.ndarray]:
        sel = binding & (fam == f)
        out = {"index": keys[sel] // 4 if per_item else keys[sel], "dual": marg[sel]}
        if per_item:
            out["item"] = keys[sel] % 4
        return out

    unmet = int((after > 0).any(axis=1).sum())
    transport = float((rule.rate_inr_per_kg_km * kg * km) @ x)
    return StockPlan(
        status="solved" if unmet == 0 else "partial",
        message=("every school reaches its buffer" if unmet == 0 else
                 f"{unmet} schools still below their buffer: depot stock, vehicle capacity or donors within "
                 f"reach run short, or moving costs more than it saves (see duals)"),
        from_school=src[moved], from_depot=np.where(from_depot, sender_block, -1)[moved], to_school=to[moved],
        item=item[moved], quantity=x[moved], km=km[moved],
        shortfall_before=before, shortfall_after=after, transport_cost_inr=transport,
        objective_inr=float((weight * after).sum()) + transport, variables=int(res.x.size),
        constraints=n0 + n1 + n2 + n3,
        build_s=build_s, solve_s=solve_s,
        duals={"receiver": family(0, True), "donor": family(1, True), "depot": family(2, True),
               "vehicle": family(3, False)})


def _with_tranches(ub, c, bounds, recv_key, n0, inp, stock, target, weight, child_per_unit, rule):  # noqa: ANN001, ANN202
    """Add each receiver's tranche variables: tranche k covers the school days of need from
    `levels[k-1]` to `levels[k]` (capped by the stock it holds and its target), is worth
    `urgency_value[k]` of a covered child-day, and its row reads sum of tranches - inflow <= 0.
    Worth falls from tranche to tranche, so the LP fills a receiver's tranches in order."""
    school, item = recv_key // 4, recv_key % 4
    need = inp.need_per_day[school, item]
    held_days = stock[school, item] / need
    target_days = target[school, item] / need
    levels = np.concatenate([[0.0], np.asarray(rule.urgency_days, float), [np.inf]])
    value = np.asarray(rule.urgency_value, float)
    if value.size != levels.size - 1:
        raise ValueError("urgency_value needs one more entry than urgency_days")
    low = np.maximum(held_days[:, None], levels[None, :-1])
    high = np.minimum(target_days[:, None], levels[None, 1:])
    size = np.maximum(high - low, 0.0) * need[:, None]  # [n0, K] units
    r, k = np.nonzero(size > 1e-9)
    worth = weight[item[r]] * child_per_unit[school[r], item[r]] * value[k]
    m = r.size
    flip = np.ones(ub.shape[0])
    flip[:n0] = -1.0  # a receiver's row: tranches - inflow <= 0 (a tranche is worth only what arrives)
    tranche = sp.coo_array((np.ones(m), (r, np.arange(m))), shape=(ub.shape[0], m)).tocsr()
    return (sp.hstack([sp.diags_array(flip) @ ub, tranche], format="csr"), np.concatenate([c, -worth]),
            np.vstack([bounds, np.column_stack([np.zeros(m), size[r, k]])]))


def rebalance_block(inp: OptimiseInput, block: int, rule: StockRule = StockRule()) -> StockPlan:
    """Block `block` (global index) alone: its schools, its depot, arcs inside it. School indices in
    the answer are the full input's."""
    schools = inp.block_schools(block)
    plan = rebalance_stock(inp.part(schools), rule)
    full_before, full_after = np.zeros((inp.n, 4)), np.zeros((inp.n, 4))
    full_before[schools], full_after[schools] = plan.shortfall_before, plan.shortfall_after
    plan.shortfall_before, plan.shortfall_after = full_before, full_after
    plan.from_school = np.where(plan.from_school >= 0, schools[np.maximum(plan.from_school, 0)], -1)
    plan.to_school = schools[plan.to_school]
    for name in ("receiver", "donor"):
        plan.duals[name]["index"] = schools[plan.duals[name]["index"]]
    return plan


def _empty(inp: OptimiseInput, before: np.ndarray, status: str, message: str) -> StockPlan:
    none_i, none_f = np.empty(0, np.int64), np.empty(0)
    per_item = {"index": none_i, "item": none_i, "dual": none_f}
    return StockPlan(status, message, none_i, none_i, none_i, none_i, none_f, none_f, before, before.copy(),
                     duals={"receiver": dict(per_item), "donor": dict(per_item), "depot": dict(per_item),
                            "vehicle": {"index": none_i, "dual": none_f}})
