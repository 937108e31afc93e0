"""`mealtwin scenario run --from-twin`: the start is the twin's own state, rebuilt from its
database, and a date the log does not reach is refused."""

import datetime as dt

import pytest

from configs import Settings
from scenarios.spec import ScenarioSpec
from startup.scenario_start import twin_start
from tests.fixtures.app import client_of, running_app
from tests.fixtures.builders import small_directory
from twin.errors import NotFound

DIRECTORY, _ = small_directory()
SCHOOL = "33010500100"


async def test_the_start_is_the_twins_own_state(sqlite_seeded):
    settings = Settings(database_url=sqlite_seeded)
    events = [{"type": "stock_delivered", "event_id": "d-1", "date": "2025-07-01", "school_id": SCHOOL,
               "rice_kg": 321.5},
              {"type": "attendance_reported", "event_id": "a-1", "date": "2025-07-01", "school_id": SCHOOL,
               "present": 10, "meals_served": {"primary": 10}}]
    async with running_app(settings) as app, client_of(app) as c:
        assert (await c.post("/api/v1/events", json={"events": events})).status_code == 200
        live = (await c.get(f"/api/v1/twin/schools/{SCHOOL}")).json()["data"]

    start = await twin_start(settings, ScenarioSpec(name="now", horizon_days=7))
    i = list(start.school_ids).index(int(SCHOOL))
    assert len(start) == len(DIRECTORY) and start.day == dt.date(2025, 7, 2)  # the day after the latest report
    assert start.stock[i, 0] == pytest.approx(live["stock_kg"]["rice"])

    with pytest.raises(NotFound):
        await twin_start(settings, ScenarioSpec(name="then", horizon_days=7, start=dt.date(2020, 1, 1)))
