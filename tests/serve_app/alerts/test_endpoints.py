"""Risk and alerts through the API: a school that stops serving meals gets a score whose factors
add up, its alerts open once and resolve when meals return; the alert routes read, count, mark
read and subscribe, and refuse what is wrong."""

import datetime as dt

import pytest

from configs import Settings
from tests.fixtures.app import client_of, running_app
from tests.fixtures.builders import small_directory

DIRECTORY, ENROLMENT = small_directory()
SCHOOLS = [f"{int(x):011d}" for x in DIRECTORY.school_ids]
SICK, WELL = SCHOOLS[0], SCHOOLS[1]
DAY = dt.date(2025, 7, 1)


@pytest.fixture
async def client(seeded_url):
    async with running_app(Settings(database_url=seeded_url)) as app, client_of(app) as c:
        yield c


def report(school: str, day: int, meals: int | None) -> dict:
    date = (DAY + dt.timedelta(days=day)).isoformat()
    event = {"type": "attendance_reported", "event_id": f"att-{school}-{date}", "date": date, "school_id": school,
             "present": 50}
    if meals is None:
        return event | {"no_meal_reason": "food_grains_not_available"}
    return event | {"meals_served": {"primary": meals}}


async def post(client, events) -> None:
    response = await client.post("/api/v1/events", json={"events": events})
    assert response.status_code == 200, response.text


async def open_causes(client, school: str) -> set[str]:
    body = (await client.get("/api/v1/alerts", params={"school_id": school})).json()
    return {a["alert_type"] for a in body["data"]["alerts"]}


async def test_a_school_without_meals_is_scored_and_alerted_until_meals_return(client):
    stock = {"type": "stock_delivered", "event_id": "dlv-all", "date": DAY.isoformat(), "school_id": WELL,
             "rice_kg": 500}
    await post(client, [stock, *[report(s, d, 40 if s != SICK else None) for d in range(4) for s in (SICK, WELL)]])
    risk = (await client.get(f"/api/v1/predictions/risk/{SICK}")).json()["data"]
    assert risk["school_id"] == SICK and risk["district"] == "Ariyalur"
    assert sum(f["points"] for f in risk["factors"]) == pytest.approx(risk["score"])
    points = {f["factor"]: f["points"] for f in risk["factors"]}
    assert points["no_meal_streak"] == 15 and points["meals"] == 15
    assert risk["features"]["no_meal_streak"] == 4
    assert risk["history"][-1] == {"date": (DAY + dt.timedelta(days=3)).isoformat(), "score": round(risk["score"], 1)}
    state = (await client.get("/api/v1/twin/state")).json()["data"]
    assert sum(state["risk"]["by_level"].values()) == len(SCHOOLS) and state["risk"]["open_alerts"] >= 2
    listed = (await client.get("/api/v1/schools", params={"risk_level": risk["level"]})).json()["data"]
    assert SICK in {s["id"] for s in listed["schools"]}  # the schools list filters by the live level
    factors = (await client.get(f"/api/v1/predictions/risk-factors/{SICK}")).json()["data"]
    assert factors["factors"] == risk["factors"] and "cascade" not in factors
    causes = await open_causes(client, SICK)
    assert {"no_meal_streak", "meals_below_share"} <= causes
    assert "no_meal_streak" not in await open_causes(client, WELL)
    await client.get(f"/api/v1/predictions/risk/{SICK}")  # evaluated again: no duplicate
    body = (await client.get("/api/v1/alerts", params={"school_id": SICK, "category": "meals"})).json()["data"]
    assert sorted(a["alert_type"] for a in body["alerts"]) == sorted({"no_meal_streak", "meals_below_share"})
    # meals are back: the streak alert resolves itself and stays in the record
    await post(client, [report(SICK, 4, 45)])
    await client.get(f"/api/v1/predictions/risk/{SICK}")
    assert "no_meal_streak" not in await open_causes(client, SICK)
    resolved = (await client.get("/api/v1/alerts", params={"school_id": SICK, "status": "resolved"})).json()["data"]
    assert "no_meal_streak" in {a["alert_type"] for a in resolved["alerts"]}


async def test_cascade_views_of_a_block_and_a_district(client):
    await post(client, [report(s, 0, 40) for s in SCHOOLS[:4]])
    district = (await client.get("/api/v1/predictions/cascade/districts/Ariyalur")).json()["data"]
    assert district["district"] == "Ariyalur" and district["schools"] == sum(
        1 for d in DIRECTORY.school_district if d == 0)
    assert sum(district["by_level"].values()) == district["schools"]
    block = DIRECTORY.blocks.names[int(DIRECTORY.school_block[0])]
    view = (await client.get(f"/api/v1/predictions/cascade/blocks/{block}", params={"district": "Ariyalur"})).json()
    assert view["data"]["block"] == block and view["data"]["schools"] == 2
    assert (await client.get("/api/v1/predictions/cascade/districts/Atlantis")).status_code == 404


async def test_unknown_schools_and_alerts_answer_404(client):
    for path in ("/api/v1/predictions/risk/33999999999", "/api/v1/predictions/risk-factors/nope",
                 "/api/v1/alerts/999999", "/api/v1/alerts?school_id=33999999999", "/api/v1/alerts?district=Atlantis"):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "NOT_FOUND"
    assert (await client.post("/api/v1/alerts/mark-read/999999")).status_code == 404


async def test_read_mark_read_and_count(client):
    await post(client, [report(SICK, d, None) for d in range(3)])
    await client.get(f"/api/v1/predictions/risk/{SICK}")
    before = (await client.get("/api/v1/alerts/unread-count", params={"district": "Ariyalur"})).json()["data"]
    assert before["total"] >= 1
    first = (await client.get("/api/v1/alerts", params={"school_id": SICK})).json()["data"]["alerts"][0]
    assert (await client.get(f"/api/v1/alerts/{first['id']}")).json()["data"] == first
    read = (await client.post(f"/api/v1/alerts/mark-read/{first['id']}")).json()["data"]
    assert read["is_read"] is True
    after = (await client.get("/api/v1/alerts/unread-count", params={"district": "Ariyalur"})).json()["data"]
    assert after["total"] == before["total"] - 1
    unread = (await client.get("/api/v1/alerts", params={"school_id": SICK, "is_read": False})).json()["data"]
    assert first["id"] not in {a["id"] for a in unread["alerts"]}
    assert (await client.get("/api/v1/alerts", params={"severity": "dire"})).status_code == 422


async def test_subscribe_checks_the_target_and_never_shows_the_secret(client):
    good = {"owner": "beo@example.org", "channel": "webhook", "target": "https://example.org/hook",
            "secret": "a-long-shared-secret-0001", "filters": {"severity_at_least": "high", "districts": ["Ariyalur"]}}
    response = await client.post("/api/v1/alerts/subscribe", json=good)
    assert response.status_code == 201
    assert "secret" not in response.json()["data"] and response.json()["data"]["channel"] == "webhook"
    for bad in ({**good, "secret": None}, {**good, "target": "not a url"}, {**good, "channel": "pigeon"},
                {**good, "channel": "sms", "target": "12345"}, {**good, "filters": {"districts": ["Atlantis"]}},
                {**good, "target": "http://127.0.0.1:6379/"}, {**good, "target": "http://169.254.169.254/latest"},
                {**good, "target": "http://db.internal/hook"}):  # not the twin's own network
        response = await client.post("/api/v1/alerts/subscribe", json=bad)
        assert response.status_code == 422, bad
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"

