"""GET /api/v1/twin/schools/{id}/history: a school's days folded from the log, checked against a
slow reference that recomputes every day from scratch."""

import datetime as dt

import pytest

from configs import Settings
from tests.fixtures.app import client_of, running_app
from tests.fixtures.builders import small_directory
from tests.fixtures.events import START, random_events
from tests.naive import naive_school_history

DIRECTORY, _ = small_directory()
SCHOOLS = [f"{int(DIRECTORY.school_ids[i]):011d}" for i in (0, 7, 20)]


@pytest.fixture
async def client(seeded_url):
    async with running_app(Settings(database_url=seeded_url, max_events_per_request=2_000)) as app, client_of(app) as c:
        yield c


def _for_school(events, school):
    return [e for e in events if e.get("school_id") == school]


def _pointed(school):
    """Hand-made events for one school: a report, its correction sent days later, a report sent
    late for an earlier day, a no-meal day, and stock and money moving in between."""
    day = lambda n: (START + dt.timedelta(days=n)).isoformat()  # noqa: E731
    return [
        {"type": "stock_delivered", "event_id": "p-del", "date": day(0), "school_id": school, "rice_kg": 100,
         "pulses_kg": 20, "oil_kg": 5, "eggs": 300},
        {"type": "funds_released", "event_id": "p-rel", "date": day(0), "school_id": school, "amount_inr": 5000},
        {"type": "attendance_reported", "event_id": "p-a2", "date": day(2), "school_id": school, "present": 50,
         "meals_served": {"primary": 40}},
        {"type": "attendance_reported", "event_id": "p-a4", "date": day(4), "school_id": school, "present": 45,
         "meals_served": {"primary": 30, "upper_primary": 10}},
        {"type": "attendance_reported", "event_id": "p-a2-fix", "date": day(2), "school_id": school, "present": 50,
         "meals_served": {"primary": 35, "upper_primary": 5}},  # a correction of day 2, after day 4
        {"type": "attendance_reported", "event_id": "p-a1-late", "date": day(1), "school_id": school, "present": 48,
         "meals_served": {"primary": 44}},
        {"type": "attendance_reported", "event_id": "p-a3", "date": day(3), "school_id": school, "present": 0,
         "no_meal_reason": "cook_not_available"},
        {"type": "funds_utilised", "event_id": "p-util", "date": day(3), "school_id": school, "amount_inr": 120},
        {"type": "stock_adjusted", "event_id": "p-adj", "date": day(4), "school_id": school, "reason": "spoilage",
         "rice_kg": -2.5},
    ]


def assert_matches_reference(days, expected):
    assert [d["date"] for d in days] == [e["date"] for e in expected]
    for got, want in zip(days, expected):
        assert got["reported"] == (want["present"] is not None), got["date"]
        assert (got["present"], got["meals_served"], got["no_meal_reason"]) == (
            want["present"], want["meals_served"], want["no_meal_reason"]), got["date"]
        assert got["stock_book_balance"] == pytest.approx(want["stock"], abs=0.01), got["date"]
        assert got["funds_balance_inr"] == pytest.approx(want["funds_balance_inr"], abs=0.01), got["date"]


async def test_history_matches_a_from_scratch_reference_day_by_day(client):
    school = SCHOOLS[0]
    pointed = _pointed(school)
    for event in pointed:  # one batch each, so the log order is the order above
        assert (await client.post("/api/v1/events", json={"events": [event]})).json()["data"]["rejected"] == 0
    first, last = START - dt.timedelta(days=2), START + dt.timedelta(days=6)
    r = await client.get(f"/api/v1/twin/schools/{school}/history",
                         params={"from": first.isoformat(), "to": last.isoformat()})
    assert r.status_code == 200
    body = r.json()["data"]
    assert (body["school_id"], body["from"], body["to"]) == (school, first.isoformat(), last.isoformat())
    assert_matches_reference(body["days"], naive_school_history(pointed, first, last))
    day2 = next(d for d in body["days"] if d["date"] == (START + dt.timedelta(days=2)).isoformat())
    assert day2["meals_served"] == {"primary": 35, "upper_primary": 5, "secondary": 0}  # corrected, not added
    assert body["days"][0]["stock_book_balance"]["rice_kg"] == 0  # before anything was delivered


async def test_history_of_random_traffic_matches_the_reference_and_ends_at_the_live_twin(client):
    events = random_events(DIRECTORY, 1_500, seed=5, days=30)
    answer = (await client.post("/api/v1/events", json={"events": events})).json()["data"]
    assert answer["rejected"] == 0
    first, last = START, START + dt.timedelta(days=40)
    for school in SCHOOLS:
        mine = _for_school(events, school)
        assert len(mine) > 10
        days = (await client.get(f"/api/v1/twin/schools/{school}/history",
                                 params={"from": first.isoformat(), "to": last.isoformat()})).json()["data"]["days"]
        assert_matches_reference(days, naive_school_history(mine, first, last))
        live = (await client.get(f"/api/v1/twin/schools/{school}")).json()["data"]
        assert days[-1]["stock_book_balance"] == pytest.approx(live["stock_book_balance"], abs=0.01)
        assert days[-1]["funds_balance_inr"] == pytest.approx(live["funds"]["balance_inr"], abs=0.01)


async def test_history_rejects_bad_ranges_and_unknown_schools_in_the_envelope(client):
    url = f"/api/v1/twin/schools/{SCHOOLS[0]}/history"
    cases = [
        ({"from": "2025-07-10", "to": "2025-07-01"}, "to"),
        ({"from": "2024-07-01", "to": "2025-07-02"}, "to"),  # 367 days
        ({"to": "2025-07-01"}, "from"),
        ({"from": "2025-13-01", "to": "2025-07-01"}, "from"),
        ({"from": "2019-12-01", "to": "2020-01-05"}, "from"),  # before the twin's first day
    ]
    for params, field in cases:
        r = await client.get(url, params=params)
        body = r.json()
        assert r.status_code == 422 and body["success"] is False, params
        assert body["error"]["code"] == "VALIDATION_ERROR"
        assert body["error"]["details"]["fields"][0]["field"] == field, params
    ok = await client.get(url, params={"from": "2024-07-02", "to": "2025-07-02"})  # exactly 366 days
    assert ok.status_code == 200 and len(ok.json()["data"]["days"]) == 366
    r = await client.get("/api/v1/twin/schools/33000000000/history", params={"from": "2025-07-01", "to": "2025-07-02"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"
    spec = (await client.get("/api/openapi.json")).json()["paths"]["/api/v1/twin/schools/{school_id}/history"]["get"]
    envelope = spec["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert envelope == "Envelope_SchoolHistory_"
