"""POST /api/v1/events and the twin read endpoints, through the FastAPI app with in-process shards."""

import pytest

from configs import Settings
from tests.fixtures.app import client_of, running_app
from tests.fixtures.builders import small_directory
from tests.fixtures.events import random_events

DIRECTORY, _ = small_directory()
SCHOOL = f"{int(DIRECTORY.school_ids[0]):011d}"


@pytest.fixture
async def client(seeded_url):
    async with running_app(Settings(database_url=seeded_url, max_events_per_request=1_000)) as app, client_of(app) as c:
        yield c


def attendance(event_id, present=40, primary=30, date="2025-07-01", school=SCHOOL):
    return {"type": "attendance_reported", "event_id": event_id, "date": date, "school_id": school,
            "present": present, "meals_served": {"primary": primary}}


async def test_each_event_gets_its_own_result_and_a_bad_one_costs_nothing(client):
    events = [
        attendance("a1"),
        {"type": "attendance_reported", "event_id": "bad1", "date": "2025-07-01", "school_id": SCHOOL,
         "present": 10, "meals_served": {"primary": 30}},  # more meals than children
        attendance("u1", school="33999999999"),  # no such school
        {"type": "teleported", "event_id": "x"},
        attendance("a1"),  # repeated id
        attendance("a2", primary=20),  # the same school and date again: a correction
    ]
    response = await client.post("/api/v1/events", json={"events": events})
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    data = body["data"]
    statuses = [r["status"] for r in data["results"]]
    assert statuses == ["accepted", "rejected", "rejected", "rejected", "duplicate", "correction"]
    assert "meals_served exceeds" in data["results"][1]["error"]["message"]
    assert data["results"][2]["error"]["code"] == "UNKNOWN_REFERENCE"
    assert (data["accepted"], data["corrections"], data["duplicates"], data["rejected"]) == (1, 1, 1, 3)

    twin = (await client.get(f"/api/v1/twin/schools/{SCHOOL}")).json()["data"]
    assert twin["recent_days"][0]["meals_served"]["primary"] == 20  # corrected, not added
    assert twin["stock_book_balance"]["rice_kg"] == pytest.approx(-2.0)  # 20 meals x 100 g


async def test_the_log_keeps_the_body_order_across_event_types(client):
    # plain attendance reports are read apart from the other types: they must meet again in order
    other = f"{int(DIRECTORY.school_ids[1]):011d}"
    events = [
        attendance("o1"),
        {"type": "stock_delivered", "event_id": "o2", "date": "2025-07-01", "school_id": SCHOOL, "rice_kg": 50},
        attendance("o3", school=other),
        {"type": "inspection_done", "event_id": "o4", "date": "2025-07-01", "school_id": "33999999999"},
        {"type": "attendance_reported", "event_id": "o5", "date": "2025-07-02", "school_id": SCHOOL,
         "present": "12"},  # text for a number: valid, but read by the event models
        attendance("o6", date="2025-07-02"),  # a correction of o5
    ]
    results = (await client.post("/api/v1/events", json={"events": events})).json()["data"]["results"]
    assert [r["event_id"] for r in results] == [e["event_id"] for e in events]
    assert [r["status"] for r in results] == ["accepted", "accepted", "accepted", "rejected", "accepted", "correction"]
    seqs = [r["seq"] for r in results if "seq" in r]
    assert seqs == sorted(seqs) and len(set(seqs)) == 5
    twin = (await client.get(f"/api/v1/twin/schools/{SCHOOL}")).json()["data"]
    assert twin["stock_book_balance"]["rice_kg"] == pytest.approx(50 - 3.0 - 3.0)  # delivered, then 2 x 30 meals


async def test_resending_a_batch_changes_nothing(client):
    events = random_events(DIRECTORY, 400, seed=11)
    first = (await client.post("/api/v1/events", json={"events": events})).json()["data"]
    state_before = (await client.get("/api/v1/twin/state")).json()["data"]
    again = (await client.post("/api/v1/events", json={"events": events})).json()["data"]
    assert again["duplicates"] == 400 and first["duplicates"] == 0
    assert (await client.get("/api/v1/twin/state")).json()["data"] == state_before


async def test_rollups_are_consistent_after_every_batch(client):
    for seed in range(3):
        await client.post("/api/v1/events", json={"events": random_events(DIRECTORY, 300, seed=seed)})
        state = (await client.get("/api/v1/twin/state")).json()["data"]
        districts = [(await client.get(f"/api/v1/twin/districts/{d['district']}")).json()["data"]
                     for d in state["districts"]]
        assert sum(d["meals_today"] for d in districts) == state["meals_today"]
        assert sum(d["schools"] for d in districts) == state["schools"] == len(DIRECTORY)
        assert sum(d["stock_kg"]["rice"] for d in districts) == pytest.approx(state["stock_kg"]["rice"], abs=0.5)


async def test_a_school_that_has_not_reported_today_is_stale_not_zero_meals(client):
    await client.post("/api/v1/events", json={"events": [attendance("s1")]})
    silent = next(i for i in range(1, len(DIRECTORY))
                  if DIRECTORY.school_district[i] == DIRECTORY.school_district[0])
    quiet = (await client.get(f"/api/v1/twin/schools/{int(DIRECTORY.school_ids[silent]):011d}")).json()["data"]
    assert quiet["today"] == "2025-07-01" and quiet["stale"] is True
    assert quiet["last_report_date"] is None and quiet["recent_days"] == []  # no day of zero meals
    reported = (await client.get(f"/api/v1/twin/schools/{SCHOOL}")).json()["data"]
    assert reported["stale"] is False
    state = (await client.get("/api/v1/twin/state")).json()["data"]
    name = next(d["district"] for d in state["districts"] if d["meals_today"])
    district = (await client.get(f"/api/v1/twin/districts/{name}")).json()["data"]
    assert (district["reported_today"], district["stale"]) == (1, district["schools"] - 1)
    assert district["meals_today"] == 30  # the one report's meals; the silent schools add none


async def test_errors_use_the_envelope(client):
    r = await client.get("/api/v1/twin/schools/33000000000")
    assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"
    r = await client.post("/api/v1/events", content=b"{not json")
    assert r.status_code == 422 and r.json()["success"] is False
    r = await client.post("/api/v1/events", json={"events": []})
    assert r.status_code == 422 and "empty" in r.json()["error"]["message"]
    r = await client.post("/api/v1/events", json={"events": [attendance(f"e{i}") for i in range(1_001)]})
    assert r.status_code == 422 and r.json()["error"]["details"]["limit"] == 1_000
    r = await client.get("/api/v1/twin/districts/Atlantis")
    assert r.status_code == 404
    r = await client.get("/api/v1/twin/blocks/Ammapet")  # in Salem and in Thanjavur
    assert r.status_code == 422 and "district" in r.json()["error"]["message"]
    r = await client.get("/api/v1/events", params={"school_id": "12"})
    assert r.status_code == 422 and r.json()["error"]["details"]["fields"][0]["field"] == "school_id"


async def test_block_district_and_events_reads(client):
    await client.post("/api/v1/events", json={"events": [attendance("r1")]})
    block = DIRECTORY.blocks.names[int(DIRECTORY.school_block[0])]
    r = (await client.get(f"/api/v1/twin/blocks/{block}")).json()
    assert r["success"] and r["data"]["meals_today"] == 30
    events = (await client.get("/api/v1/events", params={"school_id": SCHOOL})).json()["data"]["events"]
    assert [e["event_id"] for e in events] == ["r1"]
    assert (await client.get("/health")).json()["data"]["status"] == "alive"
    ready = await client.get("/ready")
    assert ready.status_code == 200 and ready.json()["data"]["shards"]["up"] == 2
    spec = (await client.get("/api/openapi.json")).json()
    assert "Event" in spec["components"]["schemas"]
