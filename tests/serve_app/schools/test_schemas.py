"""Every schools route answers what its declared model says (each answer of a small in-process twin
validates as `Envelope[Model]` and has no field the model leaves out), the CSV export documents
its text, and each change is audited by the service."""

import pytest
from fastapi.routing import APIRoute

from configs import Settings
from serve_app.schools.csv import COLUMNS
from serve_app.schools.endpoints import schools_router
from serve_app.schools.schemas import ImportResult, School, SchoolPage, SearchHit
from serve_app.shared.envelope import Envelope
from tests.fixtures.app import client_of, running_app
from tests.fixtures.builders import small_directory
from tests.fixtures.schools import as_csv, school_rows
from tests.fixtures.schemas import assert_declared

ROWS = school_rows(*small_directory())
NEW = {
    "id": "33019900001", "name": "PUMS Sendurai New", "district": "Ariyalur", "block": "Sendurai",
    "address": None, "latitude": 11.25, "longitude": 79.2, "enrolment_primary": 84, "enrolment_upper_primary": 30,
    "enrolment_secondary": 0, "capacity": 140, "has_hostel": False, "breakfast_scheme": True, "depot_id": "DEPOT-5",
}
MODELS = {
    ("GET", "/api/v1/schools"): SchoolPage,
    ("GET", "/api/v1/schools/search"): list[SearchHit],
    ("POST", "/api/v1/schools/bulk-import"): ImportResult,
    ("GET", "/api/v1/schools/{school_id}"): School,
    ("POST", "/api/v1/schools"): School,
    ("PUT", "/api/v1/schools/{school_id}"): School,
    ("DELETE", "/api/v1/schools/{school_id}"): School,
}
CSV_ROUTE = ("GET", "/api/v1/schools/export")


@pytest.fixture
async def app(sqlite_seeded):
    async with running_app(Settings(database_url=sqlite_seeded)) as app:
        yield app


async def test_every_schools_route_answers_its_declared_model(app):
    csv_body = as_csv([NEW | {"id": "33019900002"}]) + "33019900003,too,few\n"
    change = {k: v for k, v in NEW.items() if k != "id"} | {"enrolment_primary": 90}
    calls = [
        ("POST", "/api/v1/schools", {"json": NEW}, 201),
        ("GET", "/api/v1/schools", {"params": {"district": "Ariyalur", "page_size": 5, "include_inactive": True}}, 200),
        ("GET", "/api/v1/schools/search", {"params": {"q": "3301"}}, 200),
        ("GET", f"/api/v1/schools/{NEW['id']}", {}, 200),
        ("PUT", f"/api/v1/schools/{NEW['id']}", {"json": change}, 200),
        ("DELETE", f"/api/v1/schools/{NEW['id']}", {}, 200),
        ("POST", "/api/v1/schools/bulk-import", {"content": csv_body, "headers": {"Content-Type": "text/csv"}}, 200),
    ]
    seen = set()
    async with client_of(app) as client:
        for method, url, kwargs, status in calls:
            response = await client.request(method, url, **kwargs)
            assert response.status_code == status, (url, response.text[:300])
            key = _route_of(method, url)
            envelope = Envelope[MODELS[key]].model_validate(response.json())
            assert_declared(envelope.data, response.json()["data"], str(key))
            seen.add(key)
        imported = ImportResult.model_validate(response.json()["data"])
        assert (imported.created, imported.rejected) == (1, 1) and imported.rejected_rows[0].line == 3
        export = await client.get("/api/v1/schools/export", params={"district": "Ariyalur"})
        assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert seen == set(MODELS)


async def test_each_change_writes_its_audit_entry_through_the_service(app):
    entries = []

    async def record(principal, caller, action, **fields):  # noqa: ANN001, ANN003, ANN202
        entries.append((principal.subject, action, fields.get("target"), fields.get("district")))

    service = app.state.services.schools
    service._audit = record  # noqa: SLF001 - the recorder the composition root injects, observed
    async with client_of(app) as client:
        await client.post("/api/v1/schools", json=NEW)
        await client.put(f"/api/v1/schools/{NEW['id']}", json={k: v for k, v in NEW.items() if k != "id"})
        await client.delete(f"/api/v1/schools/{NEW['id']}")
        await client.post("/api/v1/schools/bulk-import", content=",".join(COLUMNS) + "\n1,x\n",
                          headers={"Content-Type": "text/csv"})
    target = f"school:{NEW['id']}"
    assert [e[1:] for e in entries] == [("schools.create", target, "Ariyalur"), ("schools.update", target, "Ariyalur"),
                                        ("schools.deactivate", target, "Ariyalur"),
                                        ("schools.bulk_import", None, None)]


def _route_of(method: str, path: str) -> tuple[str, str]:
    for route in schools_router().routes:
        if isinstance(route, APIRoute) and method in route.methods and route.path_regex.match(path.split("?")[0]):
            return method, route.path
    raise AssertionError(f"no route for {method} {path}")


def test_each_schools_route_declares_its_model_and_the_examples_are_valid():
    routes = {(next(iter(r.methods)), r.path): r for r in schools_router().routes if isinstance(r, APIRoute)}
    assert set(routes) == set(MODELS) | {CSV_ROUTE}
    for key, model in MODELS.items():
        assert routes[key].response_model is Envelope[model], key
        inner = model.__args__[0] if isinstance(model, type(list[int])) else model
        for example in inner.model_config["json_schema_extra"]["examples"]:
            assert_declared(inner.model_validate(example), example, inner.__name__)
    export = routes[CSV_ROUTE].responses[200]["content"]
    assert set(export) == {"text/csv"} and export["text/csv"]["example"].startswith(",".join(COLUMNS))


def test_the_openapi_document_names_each_schools_model_as_data():
    from serve_app.app import create_api

    spec = create_api().openapi()
    schemas = spec["components"]["schemas"]
    for model in MODELS.values():
        if isinstance(model, type(list[int])):
            data = schemas[f"Envelope_list_{model.__args__[0].__name__}__"]["properties"]["data"]
            assert data["items"] == {"$ref": f"#/components/schemas/{model.__args__[0].__name__}"}
        else:
            data = schemas[f"Envelope_{model.__name__}_"]["properties"]["data"]
            assert data == {"$ref": f"#/components/schemas/{model.__name__}"}
    assert schemas["SchoolPage"]["properties"]["pagination"] == {"$ref": "#/components/schemas/Pagination"}
    assert "text/csv" in spec["paths"]["/api/v1/schools/export"]["get"]["responses"]["200"]["content"]
