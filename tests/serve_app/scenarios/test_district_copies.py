"""A scenario from the live twin copies the state of only the districts its scope covers (every
district for a state-wide one), starts the day after the twin's day (read from the shards'
statuses), and answers as from a copy of every district.

The twin has two shards (Ariyalur alone, then two districts); the second holds a report of a later
day, so the twin's day is not the day of Ariyalur's shard."""

import datetime as dt

import pytest

from configs import Settings
from tests.fixtures.app import client_of, running_app
from tests.serve_app.optimization.test_district_copies import Copies
from tests.serve_app.scenarios.test_endpoints import (
    DAY,
    DIRECTORY,
    SCHOOLS,
    feed,
    finished,
    spec,
)
from twin import geography

ARIYALUR = 0  # its index
NEXT_DAY = DAY + dt.timedelta(days=1)
ELSEWHERE = next(s for s, d in zip(SCHOOLS, DIRECTORY.school_district.tolist()) if d == 1)


@pytest.fixture
async def app(sqlite_seeded):
    async with running_app(Settings(database_url=sqlite_seeded)) as app:
        yield app


def recording(app, whole: bool = False) -> Copies:
    copies = Copies(app.state.services.router.state_copies, whole)
    app.state.services.scenarios._live_states = copies
    return copies


async def result_of(client, body: dict) -> dict:
    response = await client.post("/api/v1/scenarios", json=body)
    assert response.status_code == 202, response.text
    run = await finished(client, response.json()["data"]["id"])
    assert run["status"] == "done", run
    return {k: run["result"][k] for k in ("start_date", "replications", "plans")}


async def test_a_district_scenario_copies_its_district_and_answers_as_from_every_district(app):
    later = {"type": "attendance_reported", "event_id": "a-later", "date": NEXT_DAY.isoformat(),
             "school_id": ELSEWHERE, "present": 30, "meals_served": {"primary": 25}}
    async with client_of(app) as client:
        await feed(client)
        assert (await client.post("/api/v1/events", json={"events": [later]})).status_code == 200
        whole = recording(app, whole=True)
        before = await result_of(client, spec())
        cut = recording(app)
        after = await result_of(client, spec())
        assert cut.asked == [[ARIYALUR]] and whole.asked == [[ARIYALUR]]
        assert after == before and after["start_date"] == (NEXT_DAY + dt.timedelta(days=1)).isoformat()

        state = recording(app)
        await result_of(client, spec(scope={"state": True}))
        assert state.asked == [None]


async def test_a_scope_of_no_schools_fails_as_the_engine_refuses_it(app):
    empty = geography.district_names()[int(DIRECTORY.school_district.max()) + 1]  # no school of the test twin
    async with client_of(app) as client:
        await feed(client)
        copies = recording(app)
        response = await client.post("/api/v1/scenarios", json=spec(scope={"districts": [empty]}))
        assert response.status_code == 202, response.text
        run = await finished(client, response.json()["data"]["id"])
    assert run["status"] == "failed" and run["error"] == "no schools in the scenario's scope"
    assert copies.asked == [[int(DIRECTORY.school_district.max()) + 1]]
