"""The learned models through the API: forecasts of a school, a block and a district from the live
twin's recent days, the learned risk beside the rules' score, the accuracy board cut to the
caller's area, and retraining as a background job."""

import asyncio
import datetime as dt

import pytest

from configs import Settings
from configs.settings import Models
from ml.pipeline import retrain
from tests.fixtures.app import client_of, running_app
from tests.fixtures.model_store import small_store
from tests.fixtures.builders import small_directory
from twin.area import Area

DIRECTORY, _ = small_directory()
SCHOOLS = [f"{int(s):011d}" for s in DIRECTORY.school_ids]
SENDURAI, CHENNAI = "33010500100", "33031400100"
TINY = {"lstm": {"epochs": 1, "max_pairs": 3000, "hidden": 8}, "gbm": {"max_pairs": 3000, "max_iter": 30},
        "seasonal_naive": {"max_pairs": 3000}}
SMALL = {"forecast_schools": 120, "risk_rows": 20_000, "forecast_months": 4, "forecast_backtest_days": 25,
         "forecast_options": TINY}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return small_store(tmp_path_factory.mktemp("model-store"), schools=120, seed=3)


def _days(n: int) -> list[dict]:
    events, day = [], dt.date(2025, 6, 2)
    for school in SCHOOLS:
        events.append({"type": "stock_delivered", "event_id": f"d-{school}", "date": day.isoformat(),
                       "school_id": school, "rice_kg": 500, "pulses_kg": 100, "oil_kg": 20, "eggs": 2000})
    for k in range(n):
        date = day + dt.timedelta(days=k)
        if date.weekday() >= 5:
            continue
        for j, school in enumerate(SCHOOLS):
            meals = 40 + (j % 7) + (k % 5)
            events.append({"type": "attendance_reported", "event_id": f"a-{school}-{date}", "date": date.isoformat(),
                           "school_id": school, "present": meals + 3, "meals_served": {"primary": meals}})
    return events


@pytest.fixture
async def app(sqlite_seeded, store):
    settings = Settings(database_url=sqlite_seeded, models=Models(root=str(store), cache_s=3600))
    async with running_app(settings) as app:
        app.state.services.models.retrain_options = SMALL
        async with client_of(app) as admin:
            assert (await admin.post("/api/v1/events", json={"events": _days(42)})).status_code == 200
        yield app


async def test_before_any_training_forecasts_say_how_to_get_one(app):
    async with client_of(app) as c:
        response = await c.get(f"/api/v1/predictions/forecast/{SENDURAI}")
        assert response.status_code == 503 and "POST /api/v1/predictions/retrain" in response.json()["error"]["message"]
        risk = (await c.get(f"/api/v1/predictions/risk/{SENDURAI}")).json()["data"]
        assert risk["learned"] is None and risk["score"] >= 0  # the rules' score stands alone
        board = (await c.get("/api/v1/predictions/accuracy")).json()["data"]
        assert all(not kind["versions"] for kind in board.values() if isinstance(kind, dict) and "versions" in kind)


async def test_forecasts_learned_risk_and_accuracy_once_trained(app, store):
    await asyncio.to_thread(retrain, store, **SMALL)
    async with client_of(app) as c:
        one = (await c.get(f"/api/v1/predictions/forecast/{SENDURAI}")).json()["data"]
        assert [s["school_id"] for s in one["schools"]] == [SENDURAI] and len(one["total"]) == 7
        days = one["schools"][0]["days"]
        assert all(d["p10"] <= d["p50"] <= d["p90"] for d in days)
        dates = [dt.date.fromisoformat(d["date"]) for d in days]
        assert dates == sorted(dates) and dates[0] > dt.date.fromisoformat(one["origin"])
        assert all(d.weekday() < 5 for d in dates)  # school days only

        block = (await c.get("/api/v1/predictions/forecast/blocks/Sendurai", params={"district": "Ariyalur"})).json()["data"]
        assert {s["school_id"] for s in block["schools"]} == {"33010500100", "33010500101"}
        assert block["total"][0]["p50"] == pytest.approx(sum(s["days"][0]["p50"] for s in block["schools"]), abs=0.2)
        district = (await c.get("/api/v1/predictions/forecast/districts/Ariyalur")).json()["data"]
        assert district["district"] == "Ariyalur" and len(district["schools"]) == 12
        cache = app.state.services.models.read_cache
        hits = cache.hits
        assert (await c.get("/api/v1/predictions/forecast/districts/Ariyalur")).json()["data"] == district
        assert cache.hits == hits + 1  # asked again: the read cache answered, the same to the last figure
        rainy = await c.get("/api/v1/predictions/forecast/districts/Ariyalur", params={"rain_mm": "90,90,90,90,90,90,90"})
        assert rainy.status_code == 200 and rainy.json()["data"]["rain_forecast_mm"] == [90.0] * 7
        assert (await c.get(f"/api/v1/predictions/forecast/{SENDURAI}", params={"rain_mm": "1,2"})).status_code == 422

        learned = (await c.get(f"/api/v1/predictions/risk/{SENDURAI}")).json()["data"]["learned"]
        assert 0 <= learned["probability_7d"] <= 1
        total = learned["base"] + sum(learned["top_contributions"].values()) + learned["other_contributions"]
        assert total == pytest.approx(learned["probability_7d"], abs=1e-3)  # contributions add up

        board = (await c.get("/api/v1/predictions/accuracy")).json()["data"]
        for kind in ("forecaster", "risk"):
            assert sum(v["served"] for v in board[kind]["versions"]) == 1, kind
    async with client_of(app, "block_officer", Area("Ariyalur", "Sendurai")) as officer:
        assert (await officer.get(f"/api/v1/predictions/forecast/{CHENNAI}")).status_code == 404
        assert (await officer.get("/api/v1/predictions/forecast/districts/Ariyalur")).status_code == 404
        assert (await officer.get("/api/v1/predictions/forecast/blocks/Sendurai")).status_code == 200


async def test_retraining_is_a_job_for_state_admins(app):
    async with client_of(app, "district_officer", Area("Ariyalur")) as officer:
        assert (await officer.post("/api/v1/predictions/retrain")).status_code == 403
    async with client_of(app) as admin:
        started = await admin.post("/api/v1/predictions/retrain")
        assert started.status_code == 202
        job = started.json()["data"]
        assert (await admin.post("/api/v1/predictions/retrain")).status_code == 409  # one at a time
        async with asyncio.timeout(240):
            while job["status"] in ("queued", "running"):
                await asyncio.sleep(0.5)
                job = (await admin.get(f"/api/v1/predictions/retrain/{job['id']}")).json()["data"]
        assert job["status"] == "done", job.get("error")
        assert job["progress"]["fraction"] == 1.0 and {"risk", "forecaster"} <= set(job["result"])
        assert [j["id"] for j in (await admin.get("/api/v1/predictions/retrain")).json()["data"]] == [job["id"]]
