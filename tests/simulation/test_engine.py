"""The scenario engine: ledgers balance, runs repeat, plans share random numbers, the baseline
behaves as the live world does, and each lever moves the KPIs the right way."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest

from simulation.engine import Engine
from simulation.kpi import K
from simulation.levers import Disruption, Lever, PlanLevers, Reallocation, ScenarioInputs
from simulation.start_state import StartState
from simulation.synthetic_schools import generate_schools
from simulation.world import GRAINS, World
from twin import geography
from twin.directory import BlockTable

N_SCHOOLS = 800
ALL_BLOCKS = np.ones(len(BlockTable.from_geography()), bool)


@pytest.fixture(scope="module")
def warm_world_start():
    """A world run 40 days into the year, so depots are mid-cycle and some schools run short."""
    world = World(generate_schools(N_SCHOOLS, seed=3), seed=4, start=dt.date(2025, 7, 1))
    for _ in range(40):
        world.step_day()
    return world, StartState.from_world(world)


@pytest.fixture(scope="module")
def autumn_start():
    """Late September: the October tranche of funds and the monsoon fall inside a 30-day horizon."""
    return StartState.from_schools(generate_schools(N_SCHOOLS, seed=5), dt.date(2025, 9, 22), seed=5)


def _totals(outcome) -> np.ndarray:
    return outcome.block_daily.sum(axis=(0, 1))


def _everything(horizon: int) -> ScenarioInputs:
    """Every lever at once, over the whole state."""
    levers = [Disruption(Lever.DELIVERY_DELAY, ALL_BLOCKS, 0, 10, 7), Disruption(Lever.DELIVERY_CANCEL, ALL_BLOCKS, 12, 14),
              Disruption(Lever.SCHOOL_CLOSURE, ALL_BLOCKS, 3, 5), Disruption(Lever.ROAD_CLOSURE, ALL_BLOCKS, 3, 8),
              Disruption(Lever.FUND_DELAY, ALL_BLOCKS, 0, horizon, 2), Disruption(Lever.ENROLMENT_CHANGE, ALL_BLOCKS, 0, 0, 5),
              Disruption(Lever.COOK_VACANCY, ALL_BLOCKS, 0, 0, 0.2), Disruption(Lever.PRICE_SHOCK, ALL_BLOCKS, 5, 20, 10),
              Disruption(Lever.EGG_SHORTFALL, ALL_BLOCKS, 0, 20, 0.3)]
    return ScenarioInputs(horizon, seed=2, disruptions=tuple(levers))


PLANS = [
    PlanLevers(),
    PlanLevers("busy", buffer_days=45, delivery_interval_days=10, reallocation=Reallocation(34, 40, 36),
               fund_advance_months=1),
]


@pytest.mark.parametrize("plan", PLANS, ids=lambda p: p.name)
def test_stock_and_funds_balance_exactly_in_every_replication(autumn_start, plan):
    engine = Engine(autumn_start, _everything(30))
    for r in range(3):
        led = engine.run(plan, r).ledger
        assert led["delivered"].sum() > 0 and led["released_inr"] > 0 and led["spoiled"].sum() > 0
        # stock delivered = consumed + on hand + spoiled, relative to the start stock (moves net to zero)
        np.testing.assert_allclose(led["stock_start"] + led["delivered"],
                                   led["consumed"] + led["spoiled"] + led["stock_end"], rtol=1e-12, atol=1e-6)
        # funds released = spent + balance, relative to the start balance
        assert led["funds_start"] + led["released_inr"] == pytest.approx(
            led["meal_cost_inr"] + led["other_spent_inr"] + led["funds_end"], rel=1e-12, abs=1e-3)
        if plan.reallocation is not None:
            assert led["moved_kg"].sum() > 0


def test_same_seed_same_result_and_another_seed_differs(autumn_start):
    a = Engine(autumn_start, _everything(20)).run(PLANS[1], 4)
    b = Engine(autumn_start, _everything(20)).run(PLANS[1], 4)
    np.testing.assert_array_equal(a.block_daily, b.block_daily)
    other = Engine(autumn_start, dataclasses.replace(_everything(20), seed=3)).run(PLANS[1], 4)
    assert not np.array_equal(a.block_daily, other.block_daily)
    assert not np.array_equal(a.block_daily, Engine(autumn_start, _everything(20)).run(PLANS[1], 5).block_daily)


def test_plans_share_random_numbers(autumn_start):
    """Two plans that change the same nothing are the same run; a plan that delivers more often
    draws no attendance of its own (common random numbers)."""
    engine = Engine(autumn_start, _everything(25))
    base = engine.run(PLANS[0], 7)
    same = engine.run(PlanLevers("renamed"), 7)
    np.testing.assert_array_equal(base.block_daily, same.block_daily)
    frequent = engine.run(PlanLevers("weekly", delivery_interval_days=7), 7)
    # with no stock-outs either way, meals served are identical day by day
    if _totals(base)[K["stockout_school_days"]] == 0 == _totals(frequent)[K["stockout_school_days"]]:
        np.testing.assert_array_equal(base.block_daily[:, :, K["meals_served"]],
                                      frequent.block_daily[:, :, K["meals_served"]])


def test_no_intervention_reproduces_the_live_worlds_statistics(warm_world_start):
    """Meals per open school day and the stock-out rate match the world's own over the same 40 days."""
    world, start = warm_world_start
    world = _copy_world(world)
    meals = opened = stockouts = 0
    for _ in range(40):
        world.step_day()
        rec = world._yesterday
        if rec is not None and rec["date"] == (world.today - dt.timedelta(days=1)).isoformat():
            meals += rec["meals"].sum()
            opened += rec["open"].sum()
            stockouts += ((rec["reason"] == GRAINS) & rec["open"]).sum()
    engine = Engine(start, ScenarioInputs(40, seed=9))
    runs = np.array([_totals(engine.run(PlanLevers(), r)) for r in range(4)]).sum(axis=0)
    per_day = runs[K["meals_served"]] / runs[K["open_school_days"]]
    assert per_day == pytest.approx(meals / opened, rel=0.02)
    assert runs[K["stockout_school_days"]] / runs[K["open_school_days"]] == pytest.approx(stockouts / opened, abs=0.003)
    assert runs[K["open_school_days"]] / 4 == pytest.approx(opened, rel=0.02)


def _copy_world(world: World) -> World:
    import copy

    return copy.deepcopy(world)


def _paired(start: StartState, inputs: ScenarioInputs, plan: PlanLevers, other_inputs=None, other_plan=None,
            reps: int = 3) -> tuple[np.ndarray, np.ndarray]:
    a = Engine(start, inputs)
    b = Engine(start, other_inputs or inputs)
    x = np.array([_totals(a.run(plan, r)) for r in range(reps)])
    y = np.array([_totals(b.run(other_plan or plan, r)) for r in range(reps)])
    return x, y


def test_closures_reduce_meals_served(autumn_start):
    shut = ScenarioInputs(20, 1, (Disruption(Lever.SCHOOL_CLOSURE, _district_blocks("Cuddalore", "Chennai"), 2, 8),))
    base, closed = _paired(autumn_start, ScenarioInputs(20, 1), PlanLevers(), shut)
    assert (closed[:, K["meals_served"]] < base[:, K["meals_served"]]).all()
    assert (closed[:, K["children_without_meal"]] > base[:, K["children_without_meal"]]).all()


def test_a_larger_buffer_reduces_stockouts_under_delivery_delays(warm_world_start):
    _, start = warm_world_start
    late = ScenarioInputs(40, 1, (Disruption(Lever.DELIVERY_DELAY, ALL_BLOCKS, 0, 39, 15),))
    thin, thick = _paired(start, late, PlanLevers(), other_plan=PlanLevers("45", buffer_days=45, top_up_at_start=True))
    assert thin[:, K["stockout_school_days"]].sum() > 0
    assert (thick[:, K["stockout_school_days"]] < thin[:, K["stockout_school_days"]]).all()
    assert (thick[:, K["meals_served"]] >= thin[:, K["meals_served"]]).all()


def test_sharing_within_blocks_reduces_stockouts(warm_world_start):
    _, start = warm_world_start
    late = ScenarioInputs(40, 1, (Disruption(Lever.DELIVERY_DELAY, ALL_BLOCKS, 0, 39, 15),))
    alone, shared = _paired(start, late, PlanLevers(), other_plan=PlanLevers("share", reallocation=Reallocation(2, 6, 4)))
    assert shared[:, K["stockout_school_days"]].sum() < alone[:, K["stockout_school_days"]].sum()


@pytest.mark.parametrize("lever, value, kpi, sign", [
    (Lever.PRICE_SHOCK, 20, "cost_inr", +1),
    (Lever.ENROLMENT_CHANGE, 10, "meals_served", +1),
    (Lever.EGG_SHORTFALL, 0.8, "eggs_missed", +1),
    (Lever.COOK_VACANCY, 0.5, "meals_missed", +1),
])
def test_each_disruption_moves_its_kpi(autumn_start, lever, value, kpi, sign):
    hit = ScenarioInputs(20, 1, (Disruption(lever, ALL_BLOCKS, 0, 19, value),))
    base, shocked = _paired(autumn_start, ScenarioInputs(20, 1), PlanLevers(), hit)
    assert (sign * (shocked[:, K[kpi]] - base[:, K[kpi]]) > 0).all()


def test_late_funds_hurt_and_an_advance_helps(autumn_start):
    broke = dataclasses.replace(autumn_start, funds_inr=np.zeros(len(autumn_start)))
    on_time, _ = _paired(broke, ScenarioInputs(30, 1), PlanLevers(), reps=2)
    late, advanced = _paired(broke, ScenarioInputs(30, 1, (Disruption(Lever.FUND_DELAY, ALL_BLOCKS, 0, 29, 60),)),
                             PlanLevers(), other_plan=PlanLevers("advance", fund_advance_months=1), reps=2)
    assert (late[:, K["fund_shortfall_inr"]] > on_time[:, K["fund_shortfall_inr"]]).all()
    assert (advanced[:, K["fund_shortfall_inr"]] < late[:, K["fund_shortfall_inr"]]).all()


def test_roads_closed_hold_deliveries_back(warm_world_start):
    _, start = warm_world_start
    cut = ScenarioInputs(20, 1, (Disruption(Lever.ROAD_CLOSURE, ALL_BLOCKS, 0, 19),))
    e = Engine(start, cut).run(PlanLevers(), 0)
    assert e.ledger["delivered"][:3].sum() == 0


def _district_blocks(*names: str) -> np.ndarray:
    table = BlockTable.from_geography()
    return np.isin(table.district, [geography.district_index(n) for n in names])


def test_start_from_shards_matches_the_twins_columns():
    from twin.state import FUNDS_RELEASED, MEAL_COST, ShardState
    from tests.fixtures.builders import small_directory

    directory, enrolment = small_directory()
    shards = [ShardState.for_districts(directory, enrolment, [0, 2]), ShardState.for_districts(directory, enrolment, [1])]
    for k, s in enumerate(shards):
        s.stock[:] = [100.0, 20.0, 5.0, 50.0]
        s.stock[0, 0] = -3.0  # a book balance below zero is read as empty
        s.funds[:, FUNDS_RELEASED] = 1000.0
        s.funds[:, MEAL_COST] = 250.0
        s.today[0] = 2_000 + k
    start = StartState.from_shards(shards, directory)
    assert len(start) == len(directory)
    np.testing.assert_array_equal(start.school_ids, directory.school_ids)
    np.testing.assert_array_equal(start.block, directory.school_block)
    assert start.day == dt.date(2020, 1, 1) + dt.timedelta(days=2_002)
    assert (start.stock >= 0).all() and start.stock[:, 0].min() == 0
    np.testing.assert_allclose(start.funds_inr, 750.0)
    out = Engine(start, ScenarioInputs(10, 0)).run(PlanLevers(), 0)
    assert out.block_daily.shape[1] == len(np.unique(directory.school_block))


def test_a_delivery_schedules_visits_are_replayed_on_their_days(autumn_start):
    """Every school out of stock; a plan bringing each a month of grain before the first day, and
    the same grain as depot visits on the third school day: the visits leave the first two days
    short, arrive in the ledger, and wait for closed roads."""
    empty = dataclasses.replace(autumn_start, stock=np.zeros_like(autumn_start.stock))
    quiet = ScenarioInputs(10, seed=2, weather=False)
    engine = Engine(empty, quiet)
    month = engine.need_per_day * 30
    month[:, 3] = 0.0
    rows = np.arange(engine.n)
    visits = (np.full(engine.n, 2), rows, month)
    none = engine.run(PlanLevers("none"), 1)
    now = engine.run(PlanLevers("now", stock_change=month), 1)
    later = engine.run(PlanLevers("later", stock_visits=visits), 1)
    out = {p.plan: _totals(p)[K["stockout_school_days"]] for p in (none, now, later)}
    assert out["now"] < out["later"] < out["none"]
    school_days = np.flatnonzero(engine.days.school_day)
    assert later.block_daily[school_days[3]:, :, K["stockout_school_days"]].sum() <= \
        now.block_daily[school_days[3]:, :, K["stockout_school_days"]].sum()
    led = later.ledger  # the visits are deliveries: stock still balances
    np.testing.assert_allclose(led["stock_start"] + led["delivered"], led["consumed"] + led["spoiled"] + led["stock_end"],
                               rtol=1e-12, atol=1e-6)
    assert led["delivered"][:3].sum() >= month.sum() - 1e-6
    # roads cut for the whole horizon: no visit comes, the run is the no-action run
    cut = Engine(empty, ScenarioInputs(10, seed=2, weather=False,
                                       disruptions=(Disruption(Lever.ROAD_CLOSURE, ALL_BLOCKS, 0, 9),)))
    np.testing.assert_array_equal(cut.run(PlanLevers("later", stock_visits=visits), 1).block_daily,
                                  cut.run(PlanLevers("none"), 1).block_daily)
    # a visit past the horizon never comes either
    beyond = engine.run(PlanLevers("beyond", stock_visits=(np.full(engine.n, 500), rows, month)), 1)
    np.testing.assert_array_equal(beyond.block_daily, none.block_daily)
