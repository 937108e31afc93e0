"""Every alerts route answers what its declared model says: each JSON answer of a small in-process
twin validates as `Envelope[Model]`, and the OpenAPI document names that model as each operation's
`data`."""

import datetime as dt

import pytest

from configs import Settings
from serve_app.alerts.schemas import Alert, AlertPage, Subscription, UnreadCount
from serve_app.shared.envelope import Envelope
from tests.fixtures.app import client_of, running_app
from tests.fixtures.builders import small_directory
from tests.fixtures.schemas import schema_models

DIRECTORY, _ = small_directory()
SICK = f"{int(DIRECTORY.school_ids[0]):011d}"
DAY = dt.date(2025, 7, 1)

DECLARED = {
    ("get", "/api/v1/alerts"): AlertPage, ("get", "/api/v1/alerts/unread-count"): UnreadCount,
    ("get", "/api/v1/alerts/{alert_id}"): Alert, ("post", "/api/v1/alerts/mark-read/{alert_id}"): Alert,
    ("post", "/api/v1/alerts/subscribe"): Subscription,
}


@pytest.fixture
async def app(seeded_url):
    async with running_app(Settings(database_url=seeded_url)) as app:
        yield app


def no_meal(day: int) -> dict:
    date = (DAY + dt.timedelta(days=day)).isoformat()
    return {"type": "attendance_reported", "event_id": f"att-{SICK}-{date}", "date": date, "school_id": SICK,
            "present": 50, "no_meal_reason": "food_grains_not_available"}


async def test_every_alerts_answer_is_its_declared_model(app):
    async with client_of(app) as c:
        seen = set()

        async def call(method: str, route: str, status: int = 200, path: dict | None = None, **kwargs) -> dict:  # noqa: ANN003
            response = await c.request(method.upper(), route.format(**(path or {})), **kwargs)
            assert response.status_code == status, (route, response.text)
            Envelope[DECLARED[method, route]].model_validate(response.json())
            seen.add((method, route))
            return response.json()["data"]

        assert (await c.post("/api/v1/events", json={"events": [no_meal(d) for d in range(4)]})).status_code == 200
        assert (await c.get(f"/api/v1/predictions/risk/{SICK}")).status_code == 200  # the rules raise the alerts
        page = await call("get", "/api/v1/alerts", params={"school_id": SICK, "page_size": 1})
        assert page["pagination"]["pages"] == page["pagination"]["total"] >= 2
        first = page["alerts"][0]
        assert first["school_id"] == SICK and first["details"]
        count = await call("get", "/api/v1/alerts/unread-count", params={"district": "Ariyalur"})
        assert count["total"] == sum(count["by_severity"].values()) >= 2
        assert await call("get", "/api/v1/alerts/{alert_id}", path={"alert_id": first["id"]}) == first
        read = await call("post", "/api/v1/alerts/mark-read/{alert_id}", path={"alert_id": first["id"]})
        assert read["is_read"] is True
        everything = await call("get", "/api/v1/alerts", params={"status": "all"})
        assert everything["pagination"]["total"] >= page["pagination"]["total"]
        subscribed = await call("post", "/api/v1/alerts/subscribe", 201, json={
            "owner": "beo@example.org", "channel": "email", "target": "beo@example.org",
            "filters": {"severity_at_least": "medium", "categories": ["meals"], "districts": ["Ariyalur"]}})
        assert subscribed["filters"]["categories"] == ["meals"] and subscribed["filters"]["within_district"] is None
        assert seen == set(DECLARED)


async def test_a_subscription_keeps_the_subscribers_area(app):
    from twin.area import Area

    async with client_of(app, role="block_officer", area=Area("Ariyalur", "Sendurai")) as c:
        response = await c.post("/api/v1/alerts/subscribe", json={
            "owner": "beo@example.org", "channel": "sms", "target": "+919876543210"})
    assert response.status_code == 201, response.text
    data = Envelope[Subscription].model_validate(response.json()).data
    assert (data.filters.within_district, data.filters.within_block) == ("Ariyalur", "Sendurai")


async def test_the_openapi_document_shows_each_answers_model(app):
    spec = app.openapi()  # the document /api/openapi.json serves
    operations = {(m, p) for p, ops in spec["paths"].items() for m in ops if p.startswith("/api/v1/alerts")}
    assert operations == set(DECLARED)
    for (method, path), model in DECLARED.items():
        responses = spec["paths"][path][method]["responses"]
        envelope = (responses.get("200") or responses["201"])["content"]["application/json"]["schema"]
        data = schema_models(spec, envelope)[0][1]
        assert data >= {"success", "data", "message", "timestamp"}
        envelope_schema = spec["components"]["schemas"][envelope["$ref"].rsplit("/", 1)[1]]
        assert schema_models(spec, envelope_schema["properties"]["data"]) == [(model.__name__, set(model.model_fields))]
