"""What-if runs through the API: started as jobs from the live twin, followed on a WebSocket,
stored with their results, compared, cancelled; bad specs and unknown runs refused."""

import asyncio
import datetime as dt

import pytest

from configs import Settings
from tests.fixtures.app import client_of, running_app
from tests.fixtures.builders import small_directory
from tests.fixtures.ws import AsgiWebSocket

DIRECTORY, _ = small_directory()
SCHOOLS = [f"{int(x):011d}" for x in DIRECTORY.school_ids]
DAY = dt.date(2025, 7, 1)


def spec(**extra) -> dict:
    return {"name": "Ariyalur week", "start": "live", "horizon_days": 7, "scope": {"districts": ["Ariyalur"]},
            "seed": 3, "plans": [{"name": "buffer-45", "buffer_days": 45}],
            "stopping": {"reps_min": 4, "reps_max": 8, "relative_half_width": 0.5}} | extra


@pytest.fixture
async def app(sqlite_seeded):
    async with running_app(Settings(database_url=sqlite_seeded)) as app:
        yield app



async def feed(client) -> None:
    events = [{"type": "stock_delivered", "event_id": f"d-{s}", "date": DAY.isoformat(), "school_id": s,
               "rice_kg": 300, "pulses_kg": 60, "oil_kg": 15, "eggs": 500} for s in SCHOOLS]
    events += [{"type": "attendance_reported", "event_id": f"a-{s}", "date": DAY.isoformat(), "school_id": s,
                "present": 40, "meals_served": {"primary": 35}} for s in SCHOOLS]
    assert (await client.post("/api/v1/events", json={"events": events})).status_code == 200


async def finished(client, run_id: str, timeout_s: float = 120) -> dict:
    async with asyncio.timeout(timeout_s):
        while True:
            run = (await client.get(f"/api/v1/scenarios/{run_id}")).json()["data"]
            if run["status"] not in ("queued", "running"):
                return run
            await asyncio.sleep(0.1)


async def test_a_run_from_the_live_twin_is_streamed_stored_and_compared(app):
    async with client_of(app) as client:
        await feed(client)
        # rounds until 40 replications: long enough to follow live
        response = await client.post("/api/v1/scenarios", json=spec(
            stopping={"reps_min": 4, "reps_max": 40, "relative_half_width": 0.0001}))
        assert response.status_code == 202
        run = response.json()["data"]
        assert run["status"] in ("queued", "running") and run["districts"] == ["Ariyalur"]
        async with AsgiWebSocket(app, f"/api/v1/ws/scenarios/{run['id']}") as ws:
            first = await ws.receive_json()
            assert first["type"] == "snapshot" and first["data"]["id"] == run["id"] and "result" not in first["data"]
            news = [first]
            while news[-1]["data"].get("status") not in ("done", "failed"):
                message = await ws.receive_json(timeout_s=60)
                if message["type"] == "delta":  # not heartbeats
                    news.append(message)
        assert news[-1]["data"]["status"] == "done", news[-1]
        if first["data"]["status"] != "done":  # followed live: every round was told
            assert any("progress" in m["data"] for m in news[1:])
        done = await finished(client, run["id"])
        result = done["result"]
        assert [p["name"] for p in result["plans"]] == ["baseline", "buffer-45"]
        assert result["replications"] == 40 and result["start_date"] == (DAY + dt.timedelta(days=1)).isoformat()
        assert result["plans"][0]["kpis"]["meals_served"]["mean"] > 0
        assert result["plans"][1]["vs_baseline"] is not None
        listed = (await client.get("/api/v1/scenarios", params={"status": "done"})).json()["data"]
        assert [r["id"] for r in listed["runs"]] == [run["id"]] and "result" not in listed["runs"][0]
        compared = (await client.get("/api/v1/scenarios/compare", params={"ids": run["id"]})).json()["data"]
        assert "meals_served" in compared["kpis"] and compared["runs"][0]["plans"][1]["name"] == "buffer-45"
        conflict = await client.post(f"/api/v1/scenarios/{run['id']}/cancel")
        assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "CONFLICT"


async def test_a_cancelled_run_stops_after_its_round(app):
    async with client_of(app) as client:
        await feed(client)
        long = spec(stopping={"reps_min": 2, "reps_max": 2000, "relative_half_width": 0.0001})
        run = (await client.post("/api/v1/scenarios", json=long)).json()["data"]
        cancelled = await client.post(f"/api/v1/scenarios/{run['id']}/cancel")
        assert cancelled.status_code == 200 and cancelled.json()["data"]["cancel_requested"] is True
        done = await finished(client, run["id"])
        assert done["status"] == "cancelled" and done["result"]["stop_reason"] == "cancelled", (done["result"]["stop_reason"], done["result"]["replications"], done["progress"])
        assert done["result"]["replications"] < 2000


async def test_bad_specs_and_unknown_runs_are_refused(app):
    async with client_of(app) as client:
        empty = await client.post("/api/v1/scenarios", json=spec())  # nothing reported yet: no live state
        assert empty.status_code == 422 and "no reports yet" in empty.json()["error"]["message"]
        await feed(client)
        for bad in (spec(scope={"districts": ["Atlantis"]}), spec(horizon_days=0),
                    spec(interventions=[{"kind": "closure", "districts": ["Ariyalur"], "from": "2030-01-01",
                                         "to": "2030-01-02"}])):
            response = await client.post("/api/v1/scenarios", json=bad)
            assert response.status_code == 422, bad
            assert response.json()["error"]["code"] == "VALIDATION_ERROR"
        unknown = "0" * 32
        assert (await client.get(f"/api/v1/scenarios/{unknown}")).status_code == 404
        assert (await client.post(f"/api/v1/scenarios/{unknown}/cancel")).status_code == 404
        assert (await client.get("/api/v1/scenarios/compare", params={"ids": unknown})).status_code == 404
        assert (await client.get("/api/v1/scenarios/not-an-id")).status_code == 422


async def test_a_past_start_the_log_cannot_rebuild_fails_with_its_reason(app):
    async with client_of(app) as client:
        await feed(client)
        run = (await client.post("/api/v1/scenarios", json=spec(start="2020-01-06"))).json()["data"]
        done = await finished(client, run["id"])
        assert done["status"] == "failed" and "no events" in done["error"]


async def test_a_run_whose_process_stopped_reads_failed_and_a_live_one_beats(app, sqlite_seeded, monkeypatch):
    from db.engine import create_engine
    from db.scenario_repository import ScenarioRepository
    from serve_app.scenarios import service as scenario_runs
    from tests.db.test_scenario_repository import SILENCE, _running

    engine = create_engine(sqlite_seeded)
    repo = ScenarioRepository(engine)
    try:
        await _running(repo, "e" * 32, SILENCE * 2)  # its replica died 30 minutes ago
        await _running(repo, "f" * 32, SILENCE * 2)  # a long round: only the heartbeat speaks for it
        async with client_of(app) as client:
            dead = (await client.get(f"/api/v1/scenarios/{'e' * 32}")).json()["data"]
            assert dead["status"] == "failed" and "stopped" in dead["error"]

            monkeypatch.setattr(scenario_runs, "CANCEL_POLL_S", 0.01)
            monkeypatch.setattr(scenario_runs, "HEARTBEAT_S", 0.0)
            cancel = asyncio.Event()  # the watcher reads is_set() and set(), as of a threading.Event
            watcher = asyncio.create_task(app.state.services.scenarios._watch_cancel("f" * 32, cancel))
            await asyncio.sleep(0.1)
            cancel.set()
            await watcher
            alive = (await client.get(f"/api/v1/scenarios/{'f' * 32}")).json()["data"]
            assert alive["status"] == "running"
    finally:
        await engine.dispose()


async def test_a_scenario_wider_than_the_limit_is_refused_at_once_naming_it(sqlite_seeded):
    from configs.settings import Limits

    ariyalur = int(sum(DIRECTORY.school_district == 0))
    async with running_app(Settings(database_url=sqlite_seeded, limits=Limits(scenario_schools=ariyalur))) as app, \
            client_of(app) as client:
        await feed(client)
        wide = await client.post("/api/v1/scenarios", json=spec(scope={"state": True}))
        error = wide.json()["error"]
        assert wide.status_code == 422 and error["code"] == "VALIDATION_ERROR"
        assert error["details"]["limit"] == ariyalur and error["details"]["schools"] == len(SCHOOLS)
        assert "limits.scenario_schools" in error["message"] and "narrow its scope" in error["message"]
        assert (await client.get("/api/v1/scenarios")).json()["data"]["pagination"]["total"] == 0  # nothing queued
        within = await client.post("/api/v1/scenarios", json=spec())  # Ariyalur alone: at the limit
        assert within.status_code == 202, within.json()
        await finished(client, within.json()["data"]["id"])
