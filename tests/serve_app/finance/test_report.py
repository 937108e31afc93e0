"""GET /financial/reports: the year's summary by district, block and school, as JSON and CSV; each
level adds up to the one above and to the area's own read; scoped to the caller's area."""

import csv
import io

import pytest

from configs import Settings
from serve_app.finance.report import COLUMNS
from serve_app.finance.schemas import Financial, FinancialReport
from tests.fixtures.app import client_of, running_app
from tests.serve_app.finance.test_endpoints import (
    ARIYALUR_BLOCKS,
    EVENTS,
    IDS,
    OTHER,
    S1,
    _feed,
    assert_answers,
)
from twin.area import Area

SUMMED = ("schools", "enrolment", "allocated_inr", "entitlement_inr", "released_inr", "utilised_inr", "balance_inr")


@pytest.fixture
async def app(sqlite_seeded):
    async with running_app(Settings(database_url=sqlite_seeded)) as app:
        yield app


def _adds_up(rows: list[dict], parent: str, child: str, key_of) -> None:
    for top in (r for r in rows if r["level"] == parent):
        below = [r for r in rows if r["level"] == child and key_of(r) == key_of(top)]
        assert below, top
        for k in SUMMED:
            assert top[k] == pytest.approx(sum(r[k] for r in below), abs=0.05), (top, k)


async def test_the_report_adds_up_at_every_level_and_matches_the_reads(app):
    async with client_of(app) as client:
        await _feed(client)
        await client.post("/api/v1/financial/allocate", json={"year": 2025, "area": {"district": "Ariyalur"},
                                                              "commit": True})
        report = assert_answers(FinancialReport, (await client.get("/api/v1/financial/reports",
                                                                   params={"year": 2025})).json())
        rows = report["rows"]
        assert [r["level"] for r in rows] == sorted((r["level"] for r in rows),
                                                    key=("district", "block", "school").index)
        assert len([r for r in rows if r["level"] == "school"]) == len(IDS)
        _adds_up(rows, "district", "block", lambda r: r["district"])
        _adds_up(rows, "block", "school", lambda r: (r["district"], r["block"]))
        for k in SUMMED:
            assert report["totals"][k] == pytest.approx(sum(r[k] for r in rows if r["level"] == "district"), abs=0.05)
        state = assert_answers(Financial, (await client.get("/api/v1/financial/state?year=2025")).json())
        assert report["totals"]["released_inr"] == state["released_inr"] == 153_000
        assert report["totals"]["allocated_inr"] == pytest.approx(state["allocated"]["total_inr"], abs=0.05)
        ariyalur = next(r for r in rows if r["level"] == "district" and r["district"] == "Ariyalur")
        assert ariyalur["office_received_inr"] == 500_000 and ariyalur["office_passed_down_inr"] == 200_000
        s1 = next(r for r in rows if r["school_id"] == S1)
        assert s1["released_inr"] == 100_000 and s1["office_received_inr"] is None
        assert s1["allocated_inr"] > 0 and s1["allocated_inr"] == pytest.approx(s1["entitlement_inr"], abs=0.02)

        r = await client.get("/api/v1/financial/reports", params={"year": 2025, "format": "csv",
                                                                  "area": "district:Ariyalur"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        table = list(csv.DictReader(io.StringIO(r.text)))
        assert tuple(table[0]) == COLUMNS
        as_json = (await client.get("/api/v1/financial/reports", params={"year": 2025,
                                                                         "area": "district:Ariyalur"})).json()
        assert len(table) == len(as_json["data"]["rows"])
        for line, row in zip(table, as_json["data"]["rows"]):
            assert line["level"] == row["level"] and float(line["balance_inr"]) == row["balance_inr"]
        assert {line["block"] for line in table if line["level"] == "block"} == set(ARIYALUR_BLOCKS)
        assert len(EVENTS) > 0


async def test_the_report_is_cut_to_the_callers_area_and_refuses_bad_input(app):
    async with client_of(app, "block_officer", Area("Ariyalur", "Sendurai")) as officer:
        own = (await officer.get("/api/v1/financial/reports", params={"year": 2025})).json()["data"]
        assert {r["block"] for r in own["rows"] if r["level"] != "district"} == {"Sendurai"}
        assert OTHER not in {r["school_id"] for r in own["rows"]}
        for area in ("district:Ariyalur", "state", "block:Ariyalur/Thirumanur", "block:Ariyalur/Nowhere"):
            r = await officer.get("/api/v1/financial/reports", params={"area": area})
            assert r.status_code in (403, 404) and r.json()["success"] is False, area
    async with client_of(app, "school_admin", Area("Ariyalur", "Sendurai", S1)) as admin:
        own = (await admin.get("/api/v1/financial/reports", params={"year": 2025})).json()["data"]
        assert [r["school_id"] for r in own["rows"] if r["level"] == "school"] == [S1]
    async with client_of(app) as client:
        for params, field in (({"area": "county:X"}, "area"), ({"format": "xml"}, "format"),
                              ({"year": 2019}, "year"), ({"year": "soon"}, "year")):
            r = await client.get("/api/v1/financial/reports", params=params)
            assert r.status_code == 422 and r.json()["error"]["details"]["fields"][0]["field"] == field, params
        r = await client.get("/api/v1/financial/reports", params={"area": "district:Nowhere"})
        assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"
