"""The optimisation models on small hand-solved instances: rebalancing, delivery schedule, advances."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from scenarios.optimise import (
    DeliveryRule,
    FundRule,
    OptimiseInput,
    StockRule,
    plan_fund_advances,
    rebalance_block,
    rebalance_stock,
    schedule_block,
    schedule_deliveries,
)

RICE = StockRule(buffer_days=(0.0, 0.0, 0.0, 0.0), items=(0,), shortfall_inr_per_child_day=(100.0, 0, 0, 0),
                 rate_inr_per_kg_km=1.0, urgency_days=())


def _input(stock_rice, block=None, depot_rice=(0.0,), arcs=(), vehicle=1e9, days=1.0, depot_km=1.0) -> OptimiseInput:
    """Schools eating 1 kg of rice a day (10 children), `days` school days to their delivery."""
    n = len(stock_rice)
    block = np.zeros(n, np.int64) if block is None else np.asarray(block, np.int64)
    nb = len(depot_rice)
    stock = np.zeros((n, 4))
    stock[:, 0] = stock_rice
    need = np.zeros((n, 4))
    need[:, 0] = 1.0
    depot = np.zeros((nb, 4))
    depot[:, 0] = depot_rice
    a = np.array([x[0] for x in arcs], np.int64)
    b = np.array([x[1] for x in arcs], np.int64)
    km = np.array([x[2] for x in arcs], float)
    return OptimiseInput(block=block, children=np.full(n, 10.0), stock=stock, need_per_day=need,
                         days_to_delivery=np.full((n, 4), float(days)), depot_km=np.full(n, float(depot_km)),
                         depot_stock=depot, vehicle_kg_per_day=np.full(nb, float(vehicle)),
                         funds_inr=np.zeros(n), meal_cost_inr_per_day=np.full(n, 100.0),
                         block_balance_inr=np.zeros(nb), arc_from=a, arc_to=b, arc_km=km)


def _both_ways(*edges):
    return [e for a, b, km in edges for e in ((a, b, km), (b, a, km))]


# ---------------------------------------------------------------- stock rebalancing


def test_hand_solved_rebalancing():
    # targets: 10 kg each (days 10, buffer 0). A holds 16 (gives up to 6), B 4 (lacks 6), C 7 (lacks 3);
    # the depot holds 2 kg at 5 km. A-B 2 km, A-C 1 km. Covering is worth 1,000 INR a kg, transport 1 INR/kg-km,
    # so everything reachable moves, cheapest first: A->C 3, A->B 3, depot->B 2; B still lacks 1 kg.
    inp = _input([16, 4, 7], depot_rice=(2.0,), arcs=_both_ways((0, 1, 2.0), (0, 2, 1.0)), days=10, depot_km=5.0)
    plan = rebalance_stock(inp, RICE)
    got = {(int(f), int(d), int(t)): round(float(q), 6) for f, d, t, q in
           zip(plan.from_school, plan.from_depot, plan.to_school, plan.quantity)}
    assert got == {(0, -1, 2): 3.0, (0, -1, 1): 3.0, (-1, 0, 1): 2.0}
    assert plan.status == "partial"
    assert plan.shortfall_before[:, 0] == pytest.approx([0, 60, 30])  # child-days: kg / (kg per child-day)
    assert plan.shortfall_after[:, 0] == pytest.approx([0, 10, 0])
    assert plan.transport_cost_inr == pytest.approx(3 * 1 + 3 * 2 + 2 * 5)
    # binding: A's surplus and the depot; one more kg of either would cover a child-day ... of B
    assert plan.duals["donor"]["index"].tolist() == [0]
    assert plan.duals["depot"]["index"].tolist() == [0]
    assert plan.duals["depot"]["dual"][0] == pytest.approx(-(1000 - 5))


def test_against_brute_force_on_a_grid():
    # 2 donors, 2 receivers, all arcs; brute force over whole-kg transfers of the same objective
    inp = _input([14, 13, 6, 8], depot_rice=(1.0,),
                 arcs=_both_ways((0, 2, 1.0), (0, 3, 4.0), (1, 2, 3.0), (1, 3, 1.5)), days=10, depot_km=2.0,
                 vehicle=5.0)
    plan = rebalance_stock(inp, RICE)
    best = np.inf
    for x02, x03, x12, x13, d2, d3 in itertools.product(range(5), range(5), range(4), range(4), range(2), range(2)):
        if x02 + x03 > 4 or x12 + x13 > 3 or d2 + d3 > 1 or x02 + x03 + x12 + x13 + d2 + d3 > 5:
            continue
        in2, in3 = x02 + x12 + d2, x03 + x13 + d3
        if in2 > 4 or in3 > 2:
            continue
        cost = x02 * 1 + x03 * 4 + x12 * 3 + x13 * 1.5 + (d2 + d3) * 2 + 1000 * ((4 - in2) + (2 - in3))
        best = min(best, cost)
    assert plan.objective_inr == pytest.approx(best)


def test_conservation_depots_and_donor_buffers():
    rng = np.random.default_rng(3)
    n = 30
    block = np.repeat([0, 1, 2], 10)
    arcs = [(i, j, float(rng.uniform(0.5, 5))) for i in range(n) for j in range(n)
            if i != j and block[i] == block[j] and rng.random() < 0.3]
    inp = _input(rng.uniform(0, 30, n), block=block, depot_rice=(5.0, 0.0, 40.0), arcs=arcs, days=8, vehicle=25.0)
    rule = StockRule(buffer_days=(3.0, 0, 0, 0), items=(0,), rate_inr_per_kg_km=1.0)  # with urgency tranches
    plan = rebalance_stock(inp, rule)
    q = plan.quantity
    target = inp.need_per_day[:, 0] * (8 + 3)
    out = np.bincount(plan.from_school[plan.from_school >= 0], q[plan.from_school >= 0], n)
    into = np.bincount(plan.to_school, q, n)
    from_depot = np.bincount(plan.from_depot[plan.from_depot >= 0], q[plan.from_depot >= 0], 3)
    assert q.sum() == pytest.approx(out.sum() + from_depot.sum())  # what leaves is what arrives
    assert (from_depot <= inp.depot_stock[:, 0] + 1e-6).all()  # depots never go negative
    donors = out > 0
    assert (inp.stock[donors, 0] - out[donors] >= target[donors] - 1e-6).all()  # donors keep their buffer
    assert not (donors & (into > 0)).any()
    sent_by_block = np.bincount(block[np.where(plan.from_school >= 0, plan.from_school, plan.to_school)], q, 3)
    assert (sent_by_block <= 25.0 + 1e-6).all()  # vehicles
    assert (inp.stock[:, 0] + into - out <= np.maximum(target, inp.stock[:, 0]) + 1e-6).all()  # no overfill


def test_urgency_tranches_feed_the_school_running_out_first():
    # targets 20 kg (20 days of 1 kg). B is empty, C holds 10 days; A holds 28, so gives 8: A-B 9 km, A-C 1 km
    inp = _input([28, 0, 10], arcs=_both_ways((0, 1, 9.0), (0, 2, 1.0)), days=20)
    flat = rebalance_stock(inp, RICE)
    urgent = rebalance_stock(inp, StockRule(buffer_days=(0.0, 0.0, 0.0, 0.0), items=(0,),
                                            shortfall_inr_per_child_day=(100.0, 0, 0, 0), rate_inr_per_kg_km=1.0))
    to = lambda plan: {int(t): round(float(q), 6) for t, q in zip(plan.to_school, plan.quantity)}  # noqa: E731
    assert to(flat) == {2: 8.0}  # every kg covers as much: the nearer school gets it
    # B would run out today: its first 7 days (tranches to 3 and 7 days) come first; the 8th kg is
    # worth as much at B (days 7-14) as at C (days 10-14), and C is nearer
    assert to(urgent) == {1: 7.0, 2: 1.0}
    assert urgent.shortfall_after.sum() == pytest.approx(flat.shortfall_after.sum())  # as many child-days covered
    assert urgent.objective_inr == pytest.approx(float((100 * urgent.shortfall_after).sum()) + 7 * 9 + 1)


def test_nothing_to_do_and_nothing_reachable():
    plan = rebalance_stock(_input([20, 20], days=5), RICE)
    assert plan.status == "nothing_to_do" and plan.quantity.size == 0 and plan.shortfall_after.sum() == 0
    stranded = rebalance_stock(_input([0, 3], days=5), RICE)  # no depot stock, no arcs
    assert stranded.status == "partial" and stranded.quantity.size == 0
    assert stranded.shortfall_after[:, 0] == pytest.approx([50, 20])
    assert "no depot stock" in stranded.message


def test_block_resolve_equals_the_state_solve_on_an_isolated_block():
    rng = np.random.default_rng(5)
    block = np.repeat([0, 1, 2], 8)
    arcs = [(i, j, float(rng.uniform(0.5, 5))) for i in range(24) for j in range(24)
            if i != j and block[i] == block[j] and rng.random() < 0.4]
    inp = _input(rng.uniform(0, 25, 24), block=block, depot_rice=(6.0, 3.0, 9.0), arcs=arcs, days=8, vehicle=14.0)
    state = rebalance_stock(inp, RICE)
    one = rebalance_block(inp, 1, RICE)
    in1 = block == 1
    assert one.shortfall_after[in1] == pytest.approx(state.shortfall_after[in1])
    assert one.shortfall_after[~in1].sum() == 0
    mine = in1[state.to_school]
    assert one.transport_cost_inr == pytest.approx(float((state.km[mine] * state.quantity[mine]).sum()))


# ---------------------------------------------------------------- delivery schedule


@pytest.mark.parametrize("method", ["milp", "lp_rounding"])
def test_schedule_meets_deadlines_within_stops(method):
    # one stop a day; schools last 0.5, 1.5 and 2.5 days: visit them on days 0, 1 and 2
    inp = _input([0.5, 1.5, 2.5, 50], depot_rice=(1000.0,))
    plan = schedule_deliveries(inp, DeliveryRule(horizon_days=4, stops_per_day=1, top_up_days=10, method=method))
    assert plan.status == "solved" and plan.runs_out.size == 0
    assert dict(zip(plan.school.tolist(), plan.day.tolist())) == {0: 0, 1: 1, 2: 2}
    assert plan.kg[:, 0] == pytest.approx([9.5, 9.5, 9.5])  # each topped up to 10 days on its day


def test_schedule_names_why_a_school_still_runs_out():
    # two schools empty on day 0, one stop a day: one misses a day for want of a stop
    plan = schedule_deliveries(_input([0.0, 0.0], depot_rice=(1000.0,)),
                               DeliveryRule(horizon_days=3, stops_per_day=1, top_up_days=10, method="milp"))
    assert plan.status == "partial" and plan.runs_out.size == 1 and plan.runs_out_day.tolist() == [0]
    assert plan.missed_child_days == pytest.approx([10.0])
    assert plan.reason[0].startswith("vehicle_stops")  # day 0's only stop went to the other school
    # an empty depot: nobody can be served
    dry = schedule_deliveries(_input([0.0, 1.0], depot_rice=(0.0,)), DeliveryRule(horizon_days=3, method="milp"))
    assert dry.status == "partial" and sorted(dry.runs_out.tolist()) == [0, 1]
    assert all(r.startswith("depot_stock") for r in dry.reason)
    assert schedule_deliveries(_input([40.0]), DeliveryRule(horizon_days=3)).status == "nothing_to_do"


def test_rounding_repair_visits_what_the_relaxation_half_visited():
    # a truck carrying 1.5 visits a day: one relaxation leaves schools half-visited, and rounding
    # alone would keep only the one it fully visits; the repair finds every day that still fits,
    # as the MILP does
    inp = _input([0.0, 0.0, 0.3], depot_rice=(1000.0,), vehicle=15.0)
    exact = schedule_deliveries(inp, DeliveryRule(horizon_days=3, top_up_days=10, method="milp"))
    rounded = schedule_deliveries(inp, DeliveryRule(horizon_days=3, top_up_days=10, rounding_passes=1))
    assert sorted(zip(rounded.school.tolist(), rounded.day.tolist())) == sorted(zip(exact.school.tolist(),
                                                                                  exact.day.tolist()))
    assert rounded.school.size == 3 and not any(r.startswith("rounding") for r in rounded.reason)
    per_day = np.bincount(rounded.day, rounded.kg.sum(axis=1), 3)
    assert (per_day <= 15.0 + 1e-9).all()  # the repair never overloads the truck


@pytest.mark.parametrize("method", ["milp", "lp_rounding"])
def test_a_days_transfers_leave_the_visits_only_what_is_left_of_the_vehicle(method):
    # two schools empty today, each visit today 10 kg, a 20 kg truck: both are visited today, unless
    # the day's transfers already put 8 kg on the truck; then one waits for tomorrow
    inp = _input([0.0, 0.0], depot_rice=(1000.0,), vehicle=20.0)
    rule = DeliveryRule(horizon_days=3, top_up_days=10, method=method)
    free = schedule_deliveries(inp, rule)
    assert free.day.tolist() == [0, 0] and free.runs_out.size == 0
    loaded = np.zeros((1, 3))
    loaded[0, 0] = 8.0
    shared = schedule_deliveries(inp, rule, loaded)
    assert sorted(shared.day.tolist()) == [0, 1]
    today = shared.day == 0
    assert shared.kg[today].sum() + 8.0 <= 20.0 + 1e-9
    assert shared.runs_out.size == 1 and shared.reason[0].startswith("vehicle_kg")
    assert sorted(schedule_block(inp, 0, rule, loaded).day.tolist()) == [0, 1]
    with pytest.raises(ValueError, match="loaded_kg"):
        schedule_deliveries(inp, rule, np.zeros((1, 2)))


def test_schedule_block_is_the_state_schedule_of_that_depot():
    inp = _input([0.5, 1.5, 0.2, 2.5], block=[0, 0, 1, 1], depot_rice=(1000.0, 1000.0))
    rule = DeliveryRule(horizon_days=4, stops_per_day=1, method="milp")
    state, one = schedule_deliveries(inp, rule), schedule_block(inp, 1, rule)
    mine = state.depot == 1
    assert sorted(zip(one.school.tolist(), one.day.tolist())) == sorted(zip(state.school[mine].tolist(),
                                                                           state.day[mine].tolist()))


# ---------------------------------------------------------------- fund advances


def test_advances_by_hand_within_block_balance():
    inp = _input([0, 0, 0], block=[0, 0, 1], depot_rice=(0.0, 0.0))
    inp.funds_inr = np.array([500.0, 1500.0, 0.0])  # bills 100 a day, 20 days: needs 1500, 500, 2000
    inp.block_balance_inr = np.array([1000.0, 5000.0])
    plan = plan_fund_advances(inp, FundRule(horizon_days=20))
    # block 0 covers the more urgent school first (5 days left against 15), then the other
    assert plan.advance_inr == pytest.approx([1000.0, 0.0, 2000.0])
    assert plan.stop_days_before == pytest.approx([15, 5, 20])
    assert plan.stop_days_after == pytest.approx([5, 5, 0])
    assert plan.status == "partial" and plan.block_dual["index"].tolist() == [0]
    assert plan.advance_inr[:2].sum() <= 1000.0 + 1e-6


def test_advances_nothing_to_do_and_no_money():
    inp = _input([0, 0])
    inp.funds_inr = np.array([1e6, 1e6])
    assert plan_fund_advances(inp).status == "nothing_to_do"
    inp.funds_inr = np.array([0.0, -50.0])
    broke = plan_fund_advances(inp, FundRule(horizon_days=10))
    assert broke.status == "partial" and broke.advance_inr.sum() == 0
    assert broke.stop_days_after == pytest.approx([10, 10.5])


def test_greedy_advances_the_soonest_broke_first_within_the_block():
    from scenarios.optimise_greedy import greedy_funds

    inp = _input([0, 0, 0], block=[0, 0, 1], depot_rice=(0.0, 0.0))
    inp.funds_inr = np.array([500.0, -100.0, 0.0])  # bills 100 a day: school 1 is already broke
    inp.block_balance_inr = np.array([1_500.0, 300.0])
    given = greedy_funds(inp, horizon_days=10)
    # block 0: school 1 lacks 1,100 and goes first, school 0 (lacks 500) gets the 400 left; block 1: 300 of 1,000
    assert given.tolist() == pytest.approx([400.0, 1_100.0, 300.0])
