"""The risk desk over a real alert store: alerts open once, escalate, resolve and survive a restart;
scores add up; a school surrounded by failing kitchens is cascade-flagged and told where it comes from."""

import numpy as np
import pytest

from actors.broker import MemoryBroker
from actors.risk_desk import RiskDesk
from actors.shard_publisher import alerts_topic
from configs.settings import AlertRules, RiskRules
from db.alert_repository import AlertRepository, AlertScope
from db.engine import create_engine
from tests.fixtures.builders import small_directory
from twin.ports import DeskPorts
from twin.risk import FACTORS, FEATURES, F, NEIGHBOURS

DIRECTORY, _ = small_directory(districts=(0, 1), per_block=6)
RISK, RULES = RiskRules(), AlertRules()


def locations() -> tuple[np.ndarray, np.ndarray]:
    """Each block's schools within ~1 km of each other; blocks 50 km apart."""
    block = DIRECTORY.school_block.astype(float)
    rank = np.arange(len(DIRECTORY)) % 6
    return 9.0 + 0.45 * (block % 9) + 0.002 * rank, 77.0 + 0.45 * (block // 9) + 0.002 * rank


def healthy(n: int) -> np.ndarray:
    x = np.full((n, len(FEATURES)), np.nan)
    x[:, F["stock_days"]] = 25
    x[:, F["meal_share"]] = 0.9
    x[:, F["days_since_report"]] = 0
    x[:, F["no_meal_streak"]] = 0
    x[:, F["no_meal_days_30"]] = 0
    x[:, F["funds_days"]] = 60
    x[:, F["closed_today"]] = 0
    return x


def failing(n: int) -> np.ndarray:
    x = healthy(n)
    x[:, F["stock_days"]] = 0
    x[:, F["meal_share"]] = 0
    x[:, F["no_meal_streak"]] = 4
    x[:, F["funds_days"]] = 0
    x[:, F["days_since_shortage"]] = 0
    return x


@pytest.fixture
async def store(database_url):
    engine = create_engine(database_url)
    yield AlertRepository(engine)
    await engine.dispose()


async def desk_on(store, broker=None) -> RiskDesk:
    lat, lon = locations()
    desk = RiskDesk(DeskPorts(DIRECTORY, lat, lon, store=store, broker=broker), RISK, RULES)
    await desk.start()
    everyone = np.arange(len(DIRECTORY))
    desk.ingest(everyone, healthy(len(everyone)))
    return desk


async def open_alerts(store) -> dict[tuple[str, str], str]:
    return {(s, c): sev for s, c, sev in await store.open_alerts()}


async def test_an_alert_opens_once_escalates_and_resolves(store):
    desk = await desk_on(store)
    assert await desk.evaluate() == 0  # all healthy: nothing to say
    sick = healthy(1)
    sick[0, F["stock_days"]] = 2.5
    desk.ingest(np.array([0]), sick)
    assert await desk.evaluate() == 1
    subject = f"school:{int(DIRECTORY.school_ids[0]):011d}"
    assert await open_alerts(store) == {(subject, "stock_low"): "high"}
    assert await desk.evaluate() == 0  # the same cause: no second alert
    sick[0, F["stock_days"]] = 0.5
    desk.ingest(np.array([0]), sick)
    await desk.evaluate()
    assert await open_alerts(store) == {(subject, "stock_low"): "critical"}
    (row,), total = await store.page(AlertScope(), 0, 10)
    assert total == 1 and row["severity"] == "critical" and row["details"]["stock_days"] == 0.5
    desk.ingest(np.array([0]), healthy(1))
    await desk.evaluate()
    assert await open_alerts(store) == {}


async def test_a_restarted_desk_does_not_raise_open_alerts_again(store):
    desk = await desk_on(store)
    desk.ingest(np.array([1, 2]), failing(2))
    await desk.evaluate()
    before = await open_alerts(store)
    assert before
    again = await desk_on(store)
    again.ingest(np.array([1, 2]), failing(2))
    assert await again.evaluate() == 0
    assert await open_alerts(store) == before


async def test_points_add_up_to_the_score(store):
    desk = await desk_on(store)
    desk.ingest(np.arange(6), failing(6))
    await desk.evaluate()
    for i in range(8):
        risk = desk.risk(i)
        assert [f["factor"] for f in risk["factors"]] == [*FACTORS, NEIGHBOURS]
        assert sum(f["points"] for f in risk["factors"]) == pytest.approx(risk["score"])
        assert 0 <= risk["score"] <= 100
    assert desk.risk(0)["level"] == "critical" and "risk_high" in desk.risk(0)["open_alerts"]


async def test_a_school_among_failing_neighbours_is_cascade_flagged_with_its_sources(store):
    broker = MemoryBroker(1_000)
    desk = await desk_on(store, broker)
    block = DIRECTORY.school_block == DIRECTORY.school_block[0]
    members = np.flatnonzero(block)
    calm = int(members[0])
    desk.ingest(members[1:], failing(len(members) - 1))
    await desk.evaluate()
    risk = desk.risk(calm)
    assert risk["local_score"] == 0 and risk["cascade"]["flagged"]
    neighbours = next(f for f in risk["factors"] if f["factor"] == NEIGHBOURS)["points"]
    assert neighbours == risk["score"] > RISK.cascade_flag_points
    source = risk["cascade"]["path"][-1]
    failing_ids = {f"{int(DIRECTORY.school_ids[i]):011d}" for i in members[1:]}
    assert source.get("school_id") in failing_ids or source.get("depot_of_block")
    view = desk.cascade_view(members)
    assert calm in [int(DIRECTORY.index(r["school_id"])) for r in view["flagged"]]
    far = np.flatnonzero(DIRECTORY.school_block != DIRECTORY.school_block[0])
    assert not desk.risk(int(far[-1]))["cascade"]["flagged"]  # 50 km away: untouched
    # five schools of the block at critical risk: a block-level cascade warning, streamed too
    warnings = [a for a in (await store.page(AlertScope(category="cascade"), 0, 10))[0]]
    assert len(warnings) == 1 and warnings[0]["details"]["schools_at_risk"] >= 5
    district = int(DIRECTORY.school_district[calm])
    messages = await broker.read({alerts_topic(district): 0}, 0)
    assert any(m["alert_type"] == "cascade_warning" for _, _, m in messages)


async def test_a_failing_store_loses_nothing_the_next_round_retries(store):
    desk = await desk_on(store)

    class Broken:
        async def apply(self, *args):
            raise ConnectionError("database down")

        async def open_alerts(self):
            return []

    desk._ports.store = Broken()
    desk.ingest(np.array([3]), failing(1))
    assert await desk.evaluate() == 0
    desk._ports.store = store
    assert await desk.evaluate() > 0
    assert any(s.endswith(f"{int(DIRECTORY.school_ids[3]):011d}") for s, _ in await open_alerts(store))
