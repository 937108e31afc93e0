"""Every twin route answers what its declared model says: each answer of a small in-process twin
validates as `Envelope[Model]` and has no field the model leaves out; the OpenAPI document names
the model as each operation's `data`."""

import datetime as dt

import pytest
from fastapi.routing import APIRoute
from pydantic import BaseModel

from configs import Settings
from serve_app.shared.envelope import Envelope
from serve_app.twin.endpoints import twin_router
from serve_app.twin.schemas import (BlockTwin, DistrictTwin, EventsPage, IngestResult, SchoolHistory, SchoolTwin,
                                    StateTwin)
from tests.fixtures.app import client_of, running_app
from tests.fixtures.builders import small_directory
from tests.fixtures.events import random_events
from tests.fixtures.schemas import assert_declared

DIRECTORY, _ = small_directory()
SCHOOL = f"{int(DIRECTORY.school_ids[0]):011d}"
BLOCK = DIRECTORY.blocks.names[int(DIRECTORY.school_block[0])]
MODELS = {
    ("POST", "/api/v1/events"): IngestResult,
    ("GET", "/api/v1/events"): EventsPage,
    ("GET", "/api/v1/twin/schools/{school_id}"): SchoolTwin,
    ("GET", "/api/v1/twin/schools/{school_id}/history"): SchoolHistory,
    ("GET", "/api/v1/twin/blocks/{name}"): BlockTwin,
    ("GET", "/api/v1/twin/districts/{name}"): DistrictTwin,
    ("GET", "/api/v1/twin/state"): StateTwin,
}


@pytest.fixture
async def app(sqlite_seeded):
    async with running_app(Settings(database_url=sqlite_seeded, max_events_per_request=2_000)) as app:
        yield app


def assert_answers(model: type[BaseModel], body: dict) -> None:
    """`body` validates as `Envelope[model]`, and every field it has is one the models declare."""
    envelope = Envelope[model].model_validate(body)
    assert_declared(envelope.data, body["data"], model.__name__)


async def test_every_twin_route_answers_its_declared_model(app):
    events = random_events(DIRECTORY, 600, seed=5, days=10) + [
        {"type": "attendance_reported", "event_id": "bad", "date": "2025-07-01", "school_id": SCHOOL,
         "present": 1, "meals_served": {"primary": 30}},
        {"type": "teleported", "event_id": 7},
        {"type": "inspection_done", "event_id": "far", "date": "2025-07-01", "school_id": "33999999999"},
    ]
    async with client_of(app) as client:
        for params in ({}, {"results": "problems"}):
            response = await client.post("/api/v1/events", json={"events": events}, params=params)
            assert response.status_code == 200, response.text[:300]
            assert_answers(IngestResult, response.json())
        now = dt.datetime.now(dt.UTC).isoformat()
        calls = [
            ("GET", "/api/v1/events", {"params": {"school_id": SCHOOL, "limit": 2}}),
            ("GET", f"/api/v1/twin/schools/{SCHOOL}", {}),
            ("GET", f"/api/v1/twin/schools/{SCHOOL}", {"params": {"as_of": now}}),
            ("GET", f"/api/v1/twin/schools/{SCHOOL}/history", {"params": {"from": "2025-07-01", "to": "2025-07-12"}}),
            ("GET", f"/api/v1/twin/blocks/{BLOCK}", {"params": {"district": "Ariyalur"}}),
            ("GET", f"/api/v1/twin/blocks/{BLOCK}", {"params": {"district": "Ariyalur", "as_of": now}}),
            ("GET", "/api/v1/twin/districts/Ariyalur", {}),
            ("GET", "/api/v1/twin/districts/Ariyalur", {"params": {"as_of": now}}),
            ("GET", "/api/v1/twin/state", {}),
            ("GET", "/api/v1/twin/state", {"params": {"as_of": now}}),
        ]
        seen = {("POST", "/api/v1/events")}
        for method, url, kwargs in calls:
            response = await client.request(method, url, **kwargs)
            assert response.status_code == 200, (url, response.text[:300])
            route = _route_of(method, url)
            assert_answers(MODELS[route], response.json())
            seen.add(route)
    assert seen == set(MODELS)
    ingest = IngestResult.model_validate((await _ingest_again(app, events[:3]))["data"])
    assert [r.status for r in ingest.results] == ["duplicate"] * 3


async def _ingest_again(app, events):  # noqa: ANN001, ANN202
    async with client_of(app) as client:
        return (await client.post("/api/v1/events", json={"events": events})).json()


def _route_of(method: str, path: str) -> tuple[str, str]:
    for route in twin_router().routes:
        if isinstance(route, APIRoute) and method in route.methods and route.path_regex.match(path):
            return method, route.path
    raise AssertionError(f"no route for {method} {path}")


def test_each_twin_route_declares_its_model_and_the_examples_are_valid():
    routes = {(next(iter(r.methods)), r.path): r for r in twin_router().routes if isinstance(r, APIRoute)}
    assert set(routes) == set(MODELS)
    for key, route in routes.items():
        assert route.response_model is Envelope[MODELS[key]], key
    for model in MODELS.values():
        for example in model.model_config["json_schema_extra"]["examples"]:
            assert_declared(model.model_validate(example), example, model.__name__)


def test_the_openapi_document_names_each_twin_model_as_data():
    from serve_app.app import create_api

    spec = create_api().openapi()
    schemas = spec["components"]["schemas"]
    for (method, path), model in MODELS.items():
        envelope = schemas[f"Envelope_{model.__name__}_"]
        assert envelope["properties"]["data"] == {"$ref": f"#/components/schemas/{model.__name__}"}
        assert schemas[model.__name__]["properties"], model
        assert schemas[model.__name__].get("examples"), model


def test_each_twin_operation_answers_its_envelope_in_the_openapi_document():
    from serve_app.app import create_api

    spec = create_api().openapi()
    for (method, path), model in MODELS.items():
        schema = spec["paths"][path][method.lower()]["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema == {"$ref": f"#/components/schemas/Envelope_{model.__name__}_"}, (method, path, schema)


async def test_the_openapi_document_is_served(app):
    async with client_of(app) as client:
        assert (await client.get("/api/openapi.json")).status_code == 200
