"""A block re-solved alone when the twin crosses a risk threshold in it: which alerts mark a block,
how a burst settles into one run and runs are spaced (by a clock the test moves), and through
the in-process twin, an alert raised by a shortage re-solving its block as the twin itself and
superseding the officer's older recommendations there. On SQLite and PostgreSQL."""

import asyncio

import pytest

from configs import Settings
from configs.settings import Optimisation
from serve_app.optimization.triggers import RiskTriggeredRuns
from tests.fixtures.app import client_of, running_app
from tests.serve_app.optimization.test_endpoints import SHORT, feed, run_for_block


def alert(cause: str = "stock_low", change: str = "raised", district: str = "Ariyalur",
          block: str = "Ariyalur") -> dict:
    return {"kind": "alert", "change": change, "alert_type": cause, "district": district, "block": block}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_burst_of_alerts_settles_into_one_run_and_runs_are_spaced():
    ran: list[tuple[str, str]] = []

    async def run_block(district: str, block: str) -> dict:
        ran.append((district, block))
        if block == "Broken":
            raise RuntimeError("the shards did not answer")
        return {"district": district, "block": block}

    clock = Clock()
    runs = RiskTriggeredRuns(run_block, settle_s=60, debounce_s=900, clock=clock)
    assert not runs.noticed(alert(change="resolved"))
    assert not runs.noticed(alert(cause="stale_report"))  # nothing an action of the LPs answers
    assert not runs.noticed(alert(cause="funds_low", block=""))  # a district's own alert names no block
    assert not runs.noticed({"kind": "school", "district": "Ariyalur", "block": "Ariyalur"})
    for cause in ("stock_low", "risk_high", "cascade_warning"):
        assert runs.noticed(alert(cause))
        clock.now += 20
    assert await runs.step() == []  # the burst has not settled yet
    clock.now += 60
    assert await runs.step() == [{"district": "Ariyalur", "block": "Ariyalur"}] and ran == [("Ariyalur", "Ariyalur")]
    assert await runs.step() == []  # nothing new
    runs.noticed(alert())
    clock.now += 120
    assert await runs.step() == [] and len(ran) == 1  # settled, but re-solved too recently
    clock.now += 900
    assert len(await runs.step()) == 1 and len(ran) == 2  # the crossing waited, and was not lost
    runs.noticed(alert(block="Broken"))
    runs.noticed(alert(block="Thirumanur"))
    clock.now += 60
    assert await runs.step() == [{"district": "Ariyalur", "block": "Thirumanur"}]  # a failure stops no other block


@pytest.fixture
async def following_app(seeded_url):
    rule = Optimisation(recompute_on_risk=True, risk_settle_s=3.0, risk_debounce_s=3600.0)
    async with running_app(Settings(database_url=seeded_url, optimisation=rule)) as app:
        app.state.services.optimisation.depot_days = 0.0
        yield app


async def test_a_shortage_alert_re_solves_its_block_and_supersedes_older_recommendations(following_app):
    app = following_app
    async with client_of(app) as admin:
        await feed(admin)  # the short school's rice lasts about a day: a stock alert
        earlier = await run_for_block(app)  # an officer's run, before the alerts settle
        assert (await admin.get(f"/api/v1/predictions/risk/{SHORT}")).status_code == 200  # the desk evaluates (in-process)
        mine = []
        for _ in range(120):  # the follower re-solves the block once its alerts have been quiet for 3 s
            listed = (await admin.get("/api/v1/optimization/recommendations",
                                      params={"block": "Ariyalur", "district": "Ariyalur"})).json()["data"]
            mine = [r for r in listed["recommendations"] if r["created_by"] == "system:risk"]
            if mine:
                break
            await asyncio.sleep(0.25)
        assert mine and all(r["status"] == "pending" and r["block"] == "Ariyalur" for r in mine)
        assert any(r["school_id"] == SHORT for r in mine)
        for rec in earlier["recs"]:
            old = (await admin.get(f"/api/v1/optimization/recommendations/{rec['id']}")).json()["data"]
            assert old["status"] == "superseded" and mine[0]["run_id"] in old["reason"]
