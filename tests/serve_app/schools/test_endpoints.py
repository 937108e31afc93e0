"""The schools API through the FastAPI app with in-process shards, on SQLite and PostgreSQL."""

import orjson
import pytest

from configs import Settings
from serve_app.schools.csv import COLUMNS
from startup.services import open_local_services
from tests.fixtures.app import client_of, running_app
from tests.fixtures.builders import small_directory
from tests.fixtures.schools import as_csv, school_rows

DIRECTORY, ENROLMENT = small_directory()
ROWS = school_rows(DIRECTORY, ENROLMENT)
SCHOOL = ROWS[0]["id"]
NEW = {
    "id": "33019900001", "name": "PUMS Sendurai New", "district": "ariyalur", "block": " sendurai ",
    "address": "Main Road", "latitude": 11.25, "longitude": 79.2, "enrolment_primary": 84,
    "enrolment_upper_primary": 30, "enrolment_secondary": 0, "capacity": 140, "has_hostel": False,
    "breakfast_scheme": True, "depot_id": "DEPOT-5",
}
CSV_TYPE = {"Content-Type": "text/csv"}


@pytest.fixture
async def app_client(seeded_url):
    async with running_app(Settings(database_url=seeded_url)) as app, client_of(app) as c:
        yield app, c


@pytest.fixture
async def client(app_client):
    return app_client[1]


async def test_list_filters_sorts_and_pages(client):
    r = await client.get("/api/v1/schools", params={"district": "Chengalpattu", "sort": "-total_students",
                                                    "page": 2, "page_size": 5})
    body = r.json()
    assert r.status_code == 200 and body["success"]
    assert body["data"]["pagination"] == {"page": 2, "page_size": 5, "total": 16, "pages": 4}
    totals = sorted((x["total_students"] for x in ROWS if x["district"] == "Chengalpattu"), reverse=True)
    assert [s["total_students"] for s in body["data"]["schools"]] == totals[5:10]
    r = await client.get("/api/v1/schools", params={"block": "Sendurai", "sort": "district,name"})
    assert {s["block"] for s in r.json()["data"]["schools"]} == {"Sendurai"}
    for bad, field in (({"sort": "password"}, "sort"), ({"page": 0}, "page"), ({"page_size": 201}, "page_size"),
                       ({"district": "Atlantis"}, "district"), ({"district": "Chennai", "block": "Sendurai"}, "block"),
                       ({"risk_level": "dire"}, "risk_level")):
        r = await client.get("/api/v1/schools", params=bad)
        assert r.status_code == 422 and r.json()["error"]["code"] == "VALIDATION_ERROR", bad
        assert r.json()["error"]["details"]["fields"][0]["field"] == field


async def test_a_page_past_the_limit_is_refused_naming_the_limit_and_what_to_do_instead(client):
    from serve_app.shared.page import MAX_SKIPPED

    last_allowed = MAX_SKIPPED // 200 + 1  # skips exactly the limit: allowed (and empty here)
    r = await client.get("/api/v1/schools", params={"page": last_allowed, "page_size": 200})
    assert r.status_code == 200 and r.json()["data"]["schools"] == []
    r = await client.get("/api/v1/schools", params={"page": last_allowed + 1, "page_size": 200})
    error = r.json()["error"]
    assert r.status_code == 422 and error["code"] == "VALIDATION_ERROR"
    assert error["details"]["limit"] == MAX_SKIPPED and error["details"]["fields"][0]["field"] == "page"
    assert f"{MAX_SKIPPED:,}" in error["message"] and "/schools/export" in error["message"]


async def test_read_create_update_and_soft_delete(client):
    r = await client.get(f"/api/v1/schools/{SCHOOL}")
    assert r.status_code == 200 and r.json()["data"]["name"] == ROWS[0]["name"]
    for unknown in ("33000000000", "abc", "1"):
        r = await client.get(f"/api/v1/schools/{unknown}")
        assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"

    r = await client.post("/api/v1/schools", json=NEW)
    created = r.json()["data"]
    assert r.status_code == 201 and created["district"] == "Ariyalur" and created["block"] == "Sendurai"
    assert created["total_students"] == 114 and created["is_active"] and created["created_at"].endswith("Z")
    r = await client.post("/api/v1/schools", json=NEW)
    assert r.status_code == 409 and r.json()["error"]["code"] == "CONFLICT"

    change = {k: v for k, v in NEW.items() if k != "id"} | {"enrolment_primary": 90, "name": "PUMS Sendurai"}
    r = await client.put(f"/api/v1/schools/{NEW['id']}", json=change)
    assert r.status_code == 200 and r.json()["data"]["total_students"] == 120
    r = await client.put(f"/api/v1/schools/{NEW['id']}", json=change | {"block": "Thirumanur"})
    assert r.status_code == 422 and r.json()["error"]["details"]["fields"][0]["field"] == "block"
    assert (await client.put("/api/v1/schools/33000000000", json=change)).status_code == 404

    r = await client.delete(f"/api/v1/schools/{NEW['id']}")
    assert r.status_code == 200 and r.json()["data"]["is_active"] is False
    assert (await client.get(f"/api/v1/schools/{NEW['id']}")).json()["data"]["is_active"] is False
    listed = (await client.get("/api/v1/schools", params={"district": "Ariyalur"})).json()["data"]
    assert NEW["id"] not in [s["id"] for s in listed["schools"]]
    listed = (await client.get("/api/v1/schools", params={"district": "Ariyalur", "include_inactive": True})).json()
    assert NEW["id"] in [s["id"] for s in listed["data"]["schools"]]
    assert (await client.delete("/api/v1/schools/33000000000")).status_code == 404


@pytest.mark.parametrize("field, value", [
    ("id", "34010100101"), ("id", "3301010010"), ("district", "Atlantis"), ("block", "Thomas Malai"),
    ("latitude", 14.2), ("longitude", 75.0), ("enrolment_secondary", -1), ("capacity", -5), ("depot_id", ""),
    ("risk_level", "dire"),
])
async def test_create_validates_each_field(client, field, value):
    r = await client.post("/api/v1/schools", json=NEW | {field: value})
    assert r.status_code == 422
    assert [f["field"] for f in r.json()["error"]["details"]["fields"]] == [field]


async def test_search_ranks_and_limits(client):
    data = (await client.get("/api/v1/schools/search", params={"q": ROWS[2]["id"]})).json()["data"]
    assert data[0]["id"] == ROWS[2]["id"] and data[0]["rank"] == 0
    data = (await client.get("/api/v1/schools/search", params={"q": "3302", "limit": 3})).json()["data"]
    assert len(data) == 3 and all(s["id"].startswith("3302") and s["rank"] == 1 for s in data)
    data = (await client.get("/api/v1/schools/search", params={"q": "chennai"})).json()["data"]
    assert {s["block"] for s in data} == {"Chennai North", "Chennai Central", "Chennai South"}
    assert (await client.get("/api/v1/schools/search", params={"q": "x"})).status_code == 422


async def test_bulk_import_reports_each_bad_row_and_is_idempotent(client):
    good_new = NEW | {"district": "Ariyalur", "block": "Sendurai"}
    changed = ROWS[0] | {"capacity": 999}
    rows = [
        good_new,
        changed,
        ROWS[1],  # as it is
        NEW | {"id": "33019900002", "latitude": 20.0},
        NEW | {"id": "33019900003", "block": "Madurantakam"},
        NEW | {"id": "33019900004", "has_hostel": "maybe", "enrolment_primary": "-3"},
        good_new,  # the same id twice
        ROWS[2] | {"block": "Andimadam"},  # a move (it is in Thirumanur)
    ]
    body = as_csv(rows) + "33019900009,too,few\n"
    r = await client.post("/api/v1/schools/bulk-import", content=body, headers=CSV_TYPE)
    data = r.json()["data"]
    assert r.status_code == 200
    assert (data["created"], data["updated"], data["unchanged"], data["rejected"]) == (1, 1, 1, 6)
    by_line = {x["line"]: x for x in data["rejected_rows"]}
    assert sorted(by_line) == [5, 6, 7, 8, 9, 10]
    assert [e["field"] for e in by_line[5]["errors"]] == ["latitude"]
    assert [e["field"] for e in by_line[6]["errors"]] == ["block"]
    assert sorted(e["field"] for e in by_line[7]["errors"]) == ["enrolment_primary", "has_hostel"]
    assert by_line[8]["errors"][0]["field"] == "id" and "line 2" in by_line[8]["errors"][0]["message"]
    assert by_line[9]["errors"][0]["field"] == "block"
    assert "cells" in by_line[10]["errors"][0]["message"]
    assert (await client.get(f"/api/v1/schools/{SCHOOL}")).json()["data"]["capacity"] == 999

    again = (await client.post("/api/v1/schools/bulk-import", content=body, headers=CSV_TYPE)).json()["data"]
    assert (again["created"], again["updated"], again["unchanged"], again["rejected"]) == (0, 0, 3, 6)

    for bad, what in ((b"name,id\nx,1\n", "header"), (b"\xff\xfe", "UTF-8"), (b"", "empty")):
        r = await client.post("/api/v1/schools/bulk-import", content=bad, headers=CSV_TYPE)
        assert r.status_code == 422 and what in r.json()["error"]["message"]
    only_bad = as_csv([NEW | {"latitude": 1.0}])
    assert (await client.post("/api/v1/schools/bulk-import", content=only_bad, headers=CSV_TYPE)).status_code == 422


async def test_export_streams_csv_that_reimports_unchanged(client):
    await client.post("/api/v1/schools", json=NEW | {"address": 'Quoted "Main", Road'})
    await client.delete(f"/api/v1/schools/{SCHOOL}")
    r = await client.get("/api/v1/schools/export", params={"include_inactive": True})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    lines = r.text.splitlines()
    assert lines[0] == ",".join(COLUMNS) and len(lines) == len(ROWS) + 2
    again = (await client.post("/api/v1/schools/bulk-import", content=r.content, headers=CSV_TYPE)).json()["data"]
    assert (again["unchanged"], again["created"], again["updated"], again["rejected"]) == (len(ROWS) + 1, 0, 0, 0)
    chennai = await client.get("/api/v1/schools/export", params={"district": "Chennai"})
    assert len(chennai.text.splitlines()) == 1 + sum(r["district"] == "Chennai" for r in ROWS)
    empty = await client.get("/api/v1/schools/export", params={"risk_level": "critical"})
    assert empty.text.splitlines() == [",".join(COLUMNS)]


async def test_changes_are_reflected_in_the_twin_at_once(client):
    district = "Ariyalur"
    before = (await client.get(f"/api/v1/twin/districts/{district}")).json()["data"]
    row = ROWS[0]
    change = {k: v for k, v in row.items() if k not in ("id", "total_students", "is_active")}
    change |= {"enrolment_primary": row["enrolment_primary"] + 10, "latitude": 11.0}
    assert (await client.put(f"/api/v1/schools/{SCHOOL}", json=change)).status_code == 200
    twin = (await client.get(f"/api/v1/twin/schools/{SCHOOL}")).json()["data"]
    assert twin["enrolment"]["primary"] == row["enrolment_primary"] + 10
    after = (await client.get(f"/api/v1/twin/districts/{district}")).json()["data"]
    assert after["enrolment"] == before["enrolment"] + 10

    await client.delete(f"/api/v1/schools/{SCHOOL}")
    assert (await client.get(f"/api/v1/twin/schools/{SCHOOL}")).status_code == 404
    gone = (await client.get(f"/api/v1/twin/districts/{district}")).json()["data"]
    assert gone["schools"] == before["schools"] - 1
    assert gone["enrolment"] == before["enrolment"] - row["total_students"]
    state = (await client.get("/api/v1/twin/state")).json()["data"]
    assert state["schools"] == len(ROWS) - 1

    restored = (await client.put(f"/api/v1/schools/{SCHOOL}", json=change | {"is_active": True})).json()["data"]
    assert restored["is_active"] is True
    assert (await client.get(f"/api/v1/twin/schools/{SCHOOL}")).status_code == 200


def attendance(event_id, school, primary=30):
    return {"type": "attendance_reported", "event_id": event_id, "date": "2025-07-01", "school_id": school,
            "present": primary + 5, "meals_served": {"primary": primary}}


async def test_a_registered_school_is_in_the_twin_at_once(client):
    before = (await client.get("/api/v1/twin/districts/Ariyalur")).json()["data"]
    assert (await client.post("/api/v1/schools", json=NEW)).status_code == 201
    twin = (await client.get(f"/api/v1/twin/schools/{NEW['id']}")).json()["data"]
    assert twin["enrolment"] == {"primary": 84, "upper_primary": 30, "secondary": 0} and twin["block"] == "Sendurai"
    after = (await client.get("/api/v1/twin/districts/Ariyalur")).json()["data"]
    assert (after["schools"], after["enrolment"]) == (before["schools"] + 1, before["enrolment"] + 114)

    r = (await client.post("/api/v1/events", json={"events": [attendance("n1", NEW["id"]), attendance("o1", SCHOOL)]})).json()
    assert [x["status"] for x in r["data"]["results"]] == ["accepted", "accepted"]
    assert (await client.get(f"/api/v1/twin/schools/{NEW['id']}")).json()["data"]["recent_days"][0]["meals_served"]["primary"] == 30
    block = (await client.get("/api/v1/twin/blocks/Sendurai", params={"district": "Ariyalur"})).json()["data"]
    assert block["meals_today"] == 30 and block["schools"] == 3

    imported = as_csv([NEW | {"id": "33029900001", "district": "Chennai", "block": "Chennai North"}])
    assert (await client.post("/api/v1/schools/bulk-import", content=imported, headers=CSV_TYPE)).json()["data"]["created"] == 1
    assert (await client.get("/api/v1/twin/schools/33029900001")).status_code == 200
    assert (await client.get("/api/v1/twin/state")).json()["data"]["schools"] == len(ROWS) + 2


async def test_another_replica_learns_new_schools_from_the_table(app_client, seeded_url):
    app, client = app_client
    other = await open_local_services(Settings(database_url=seeded_url), placement=[[0, 1, 2]])
    try:
        await client.post("/api/v1/schools", json=NEW)
        new_index = app.state.services.directory.index(NEW["id"])
        assert new_index == len(ROWS)  # appended: no other school's index moved
        assert other.directory.index(NEW["id"]) == -1
        events = {"events": [attendance("x1", NEW["id"]), attendance("x2", SCHOOL)]}
        out = await other.ingest.ingest(orjson.dumps(events))
        assert [x["status"] for x in out["results"]] == ["accepted", "accepted"]
        assert other.directory.index(NEW["id"]) == new_index
        # refreshed at most once in a while: a code nobody registered stays rejected without a reload
        out = await other.ingest.ingest(orjson.dumps({"events": [attendance("x3", "33019900099")]}))
        assert out["results"][0]["error"]["code"] == "UNKNOWN_REFERENCE"
        # the other replica's own shards were not told of the school; they fold what they host
        assert other.shards[0].school(other.directory.index(SCHOOL))["recent_days"][0]["meals_served"]["primary"] == 30
    finally:
        await other.close()

    restarted = await open_local_services(Settings(database_url=seeded_url), placement=[[0, 1, 2]])
    try:
        assert restarted.directory.index(NEW["id"]) == new_index
        assert restarted.shards[0].school(new_index)["recent_days"][0]["meals_served"]["primary"] == 30
    finally:
        await restarted.close()


async def test_a_shard_reports_schools_it_does_not_host_and_changes_nothing_for_them(app_client):
    app, client = app_client
    shard = app.state.services.shards[0]  # hosts Ariyalur
    before = shard.district_rows()["rows"].copy()
    result = await shard.sync_schools([(33019900001, 10, 0, 0, True), (int(ROWS[0]["id"]), 1, 2, 3, True)])
    assert result == {"synced": 1, "unknown": ["33019900001"]}
    assert shard.school(app.state.services.directory.index(SCHOOL))["enrolment"] == {
        "primary": 1, "upper_primary": 2, "secondary": 3}
    assert shard.district_rows()["rows"][0, 1] == before[0, 1] - ROWS[0]["total_students"] + 6  # enrolment


async def test_a_restarted_twin_keeps_synced_changes(app_client, seeded_url):
    app, client = app_client
    row = ROWS[0]
    change = {k: v for k, v in row.items() if k not in ("id", "total_students", "is_active")}
    await client.put(f"/api/v1/schools/{SCHOOL}", json=change | {"enrolment_secondary": 77})
    await client.delete(f"/api/v1/schools/{ROWS[1]['id']}")
    restarted = await open_local_services(Settings(database_url=seeded_url), placement=[[0, 1, 2]])
    try:
        shard = restarted.shards[0]
        i = restarted.directory.index(SCHOOL)
        assert shard.school(i)["enrolment"]["secondary"] == 77
        assert shard.school(restarted.directory.index(ROWS[1]["id"])) is None
        assert i == app.state.services.directory.index(SCHOOL)  # the same global index in every process
    finally:
        await restarted.close()


async def test_openapi_documents_every_schools_endpoint(client):
    spec = (await client.get("/api/openapi.json")).json()
    ops = [(path, method, op) for path, item in spec["paths"].items() if path.startswith("/api/v1/schools")
           for method, op in item.items()]
    assert len(ops) == 8
    for path, method, op in ops:
        assert op.get("summary") and op.get("description"), (path, method)
    body = spec["paths"]["/api/v1/schools/bulk-import"]["post"]["requestBody"]["content"]
    assert "example" in body["text/csv"]
