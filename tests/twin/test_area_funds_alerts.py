"""Block and district funds alerts: their schools' money summed (a balance lasting fewer school days
than the setting, the 75% release rule that will fail by the year's end), checked against the
sums by hand, the money columns against a shard's fold, and the alerts raised and resolved through
the risk desk into the real alert store (SQLite and PostgreSQL)."""

import datetime as dt

import numpy as np
import pytest

from actors.risk_desk import RiskDesk
from configs.settings import AlertRules, RiskRules
from db.alert_repository import AlertRepository, AlertScope
from db.engine import create_engine
from tests.fixtures.builders import small_directory
from tests.twin.test_funds_alerts import _state_with, features
from twin.alert_rules import AREA_FUNDS_CAUSES, HIGH, MEDIUM, NONE, area_funds_severities
from twin.norms import cost_per_meal
from twin.ports import DeskPorts
from twin.risk import FEATURES, F
from twin.school_features import AREA_FUNDS, school_features, school_features_and_funds
from twin.state import FUNDS_RELEASED

DIRECTORY, _ = small_directory()
RULES = AlertRules(funds_days_below=10)
M = {name: i for i, name in enumerate(AREA_FUNDS)}


def _money(balance: float, daily: float, released: float, days_left: int = 150) -> list[float]:
    return [balance, daily, released, released - balance, days_left]


def _causes(row: np.ndarray) -> dict[str, int]:
    return {AREA_FUNDS_CAUSES[c]: int(s) for c, s in enumerate(row) if s != NONE}


def test_an_area_alerts_on_its_schools_sums_not_on_any_one_school():
    group = np.array([0, 0, 1, 1, 2])
    money = np.array([
        _money(100, 100, 10_000), _money(5_000, 100, 10_000),  # area 0: 5,100 / 200 a day: 25 days
        _money(300, 100, 1_000), _money(500, 100, 1_000),  # area 1: 800 / 200 a day: 4 days
        _money(-50, 100, 1_000),  # area 2: overspent: exhausted
    ])
    out = area_funds_severities(group, money, np.ones(5, bool), 4, RULES)
    assert _causes(out[0]) == {} and _causes(out[3]) == {}  # area 3 has no school
    assert _causes(out[1]) == {"funds_low": MEDIUM}
    assert _causes(out[2])["funds_exhausted"] == HIGH
    # a deactivated school leaves its area's sums
    active = np.array([True, False, True, True, True])
    assert _causes(area_funds_severities(group, money, active, 4, RULES)[0]) == {"funds_low": MEDIUM}  # 1 day


def test_the_75_percent_rule_at_risk_for_an_area_by_hand():
    # released 100,000, utilised 50,000: 25,000 short of 75%; at 200 a day that is 125 school days
    group = np.zeros(2, np.int64)
    for days_left, at_risk in ((124, True), (125, False), (200, False)):
        money = np.array([_money(25_000, 100, 50_000, days_left), _money(25_000, 100, 50_000, days_left)])
        row = area_funds_severities(group, money, np.ones(2, bool), 1, RULES)[0]
        assert ("utilisation_rule_at_risk" in _causes(row)) is at_risk, days_left
    nothing_released = np.array([_money(0, 100, 0)])
    assert _causes(area_funds_severities(np.zeros(1, np.int64), nothing_released, np.ones(1, bool), 1,
                                         RULES)[0]) == {}


def test_the_money_columns_are_the_shard_fold_and_the_features_unchanged():
    days = [dt.date(2025, 7, d) for d in (1, 2, 3, 4, 7, 8)]
    state = _state_with(20_000.0, days, 100)
    both = school_features_and_funds(state)
    assert both.shape[1] == len(FEATURES) + len(AREA_FUNDS)
    np.testing.assert_array_equal(both[:, :len(FEATURES)], school_features(state))
    i = int(state.school_local[0])
    money = both[i, len(FEATURES):]
    burn = 100 * cost_per_meal(days[-1])[0]
    assert money[M["released_inr"]] == state.funds[i, FUNDS_RELEASED] == 20_000
    assert money[M["utilised_inr"]] == pytest.approx(burn * len(days))
    assert money[M["balance_inr"]] == pytest.approx(20_000 - burn * len(days))
    assert money[M["daily_cost_inr"]] == pytest.approx(burn)  # what funds_days divides by
    assert both[i, F["funds_days"]] == pytest.approx(money[M["balance_inr"]] / money[M["daily_cost_inr"]])
    assert money[M["school_days_left"]] > 100


@pytest.fixture
async def store(database_url):
    engine = create_engine(database_url)
    yield AlertRepository(engine)
    await engine.dispose()


async def test_block_and_district_funds_alerts_go_through_the_desk_into_the_store(store):
    n = len(DIRECTORY)
    desk = RiskDesk(DeskPorts(DIRECTORY, np.linspace(9, 12, n), np.linspace(77, 79, n), store=store),
                    RiskRules(), RULES)
    await desk.start()
    x = np.repeat(features(funds_days=60, utilisation_rule_days=-20, stock_days=20, days_since_report=0,
                           no_meal_streak=0, no_meal_days_30=0, meal_share=0.9), n, axis=0)
    money = np.array([_money(6_000, 100, 20_000)] * n)  # 60 days of funds each, 75% within reach
    desk.ingest(np.arange(n), np.hstack([x, money]))
    await desk.evaluate()
    assert not [a for a in await store.open_alerts() if not a[0].startswith("school:")]

    block = int(DIRECTORY.school_block[0])
    district = int(DIRECTORY.school_district[0])
    in_block = np.flatnonzero(DIRECTORY.school_block == block)
    money[in_block, M["balance_inr"]] = 500  # 5 days each; each school's own feature still says 60
    desk.ingest(in_block, np.hstack([x[in_block], money[in_block]]))
    await desk.evaluate()
    opened = {(s, c): sev for s, c, sev in await store.open_alerts()}
    assert opened[(f"block:{block}", "funds_low")] == "medium"
    assert not [k for k in opened if k[0].startswith("school:") and k[1] == "funds_low"]
    in_district = np.flatnonzero(DIRECTORY.school_district == district)
    if len(in_district) > len(in_block):  # the district's other blocks keep it above the setting
        assert (f"district:{district}", "funds_low") not in opened
    money[in_district, M["balance_inr"]] = 50  # half a day everywhere in the district
    money[in_district, M["utilised_inr"]] = 1_000  # 14,000 short of 75% a school: 140 school days at 100 a day,
    money[in_district, M["school_days_left"]] = 100  # and 100 left in the year
    desk.ingest(in_district, np.hstack([x[in_district], money[in_district]]))
    await desk.evaluate()
    opened = {(s, c): sev for s, c, sev in await store.open_alerts()}
    assert opened[(f"district:{district}", "funds_exhausted")] == "high"
    assert opened[(f"district:{district}", "utilisation_rule_at_risk")] == "medium"
    assert opened[(f"block:{block}", "funds_exhausted")] == "high"
    rows, _ = await store.page(AlertScope(district=DIRECTORY.district_names()[district]), 0, 1000)
    area_rows = {(r["subject"], r["alert_type"]): r for r in rows if r["is_resolved"] is False}
    exhausted = area_rows[(f"district:{district}", "funds_exhausted")]
    assert exhausted["category"] == "funds" and exhausted["school_id"] is None and exhausted["block"] == ""
    assert exhausted["details"]["schools"] == len(in_district)
    assert exhausted["details"]["balance_inr"] == pytest.approx(50 * len(in_district))
    assert area_rows[(f"block:{block}", "funds_exhausted")]["block"] == DIRECTORY.blocks.names[block]

    money[in_district] = _money(6_000, 100, 20_000)  # releases came in: every area alert resolves
    desk.ingest(in_district, np.hstack([x[in_district], money[in_district]]))
    await desk.evaluate()
    assert not [a for a in await store.open_alerts() if not a[0].startswith("school:")]

    # a restarted desk takes the open area alerts from the store and raises none twice
    money[in_block, M["balance_inr"]] = 500
    desk.ingest(in_block, np.hstack([x[in_block], money[in_block]]))
    assert await desk.evaluate() == 1
    again = RiskDesk(DeskPorts(DIRECTORY, np.linspace(9, 12, n), np.linspace(77, 79, n), store=store),
                     RiskRules(), RULES)
    await again.start()
    again.ingest(np.arange(n), np.hstack([x, money]))
    await again.evaluate()
    assert [c for s, c, _ in await store.open_alerts() if s == f"block:{block}"] == ["funds_low"]
