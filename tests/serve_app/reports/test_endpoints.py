"""The reports on a small in-process twin: attendance, releases and stock go in through
/api/v1/events; the CSVs add up to the twin's own roll-ups, cells a spreadsheet would run are
neutralised, every role gets its own area only, and the PDF holds the figures and names and is the
same bytes for the same request."""

import csv
import datetime as dt
import io

import pytest
from pypdf import PdfReader

from configs import Settings
from db.engine import create_engine
from db.migrate import upgrade_async
from db.school_repository import SchoolRepository
from serve_app.reports.cells import safe_cell
from serve_app.reports.schemas import ATTENDANCE_COLUMNS, SCHOOL_COLUMNS
from tests.fixtures.app import client_of, running_app
from tests.fixtures.report_world import ARIYALUR_IDS, BLOCK_OF, DAYS, DIRECTORY, ENROLMENT, EVIL, IDS, S1, S2
from tests.fixtures.schools import school_rows
from twin.area import Area

API = "/api/v1/reports/export"


@pytest.fixture
async def app(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path}/twin.db"
    await upgrade_async(url)
    engine = create_engine(url)
    rows = school_rows(DIRECTORY, ENROLMENT)
    rows[IDS.index(S1)]["name"] = EVIL  # a register name a spreadsheet would run
    rows[IDS.index(S2)]["name"] = "-2+3"
    await SchoolRepository(engine).insert_many(rows)
    await engine.dispose()
    async with running_app(Settings(database_url=url)) as app:
        async with client_of(app) as client:
            r = await client.post("/api/v1/events", json={"events": _events()})
            assert r.status_code == 200 and r.json()["data"]["rejected"] == 0, r.text[:500]
            # a risk read brings the risk desk up to date: it scores the reports and raises its alerts
            assert (await client.get(f"/api/v1/predictions/risk/{S1}")).status_code == 200
        yield app


def _events() -> list[dict]:
    out = [{"type": "funds_released", "event_id": f"r-{s}", "date": "2025-07-01", "school_id": s,
            "amount_inr": 10_000 + k} for k, s in enumerate(ARIYALUR_IDS)]
    out += [{"type": "stock_delivered", "event_id": f"d-{s}", "date": "2025-07-01", "school_id": s,
             "rice_kg": 100.0 + k, "pulses_kg": 10.0, "oil_kg": 2.0, "eggs": 100} for k, s in enumerate(ARIYALUR_IDS)]
    for k, s in enumerate(ARIYALUR_IDS):
        for j, day in enumerate(DAYS):
            if s == S2 and day == DAYS[-1]:
                continue  # S2 has not reported on the twin's day: stale
            meals = (10 + k, 5 + j, 0)
            out.append({"type": "attendance_reported", "event_id": f"a-{s}-{day}", "date": day.isoformat(),
                        "school_id": s, "present": sum(meals) + 2,
                        "meals_served": dict(zip(("primary", "upper_primary", "secondary"), meals))})
    return out


def _csv(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def _num(x: str) -> float:
    return float(x) if x else 0.0


def test_cells_a_spreadsheet_would_run_are_quoted():
    for text in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert safe_cell(text) == "'" + text
    assert safe_cell("Ariyalur") == "Ariyalur" and safe_cell(-3.5) == "-3.5" and safe_cell(None) == ""
    assert safe_cell(True) == "true" and safe_cell(7) == "7"


async def test_schools_csv_adds_up_to_the_twin_roll_ups(app):
    async with client_of(app) as client:
        r = await client.get(f"{API}/csv", params={"kind": "schools", "district": "Ariyalur"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        assert r.text.splitlines()[0] == ",".join(SCHOOL_COLUMNS)
        rows = _csv(r.text)
        district = (await client.get("/api/v1/twin/districts/Ariyalur")).json()["data"]
        assert len(rows) == district["schools"] == len(ARIYALUR_IDS)
        assert [row["school_id"] for row in rows] == sorted(ARIYALUR_IDS)
        for column, total in (("enrolment", district["enrolment"]), ("present_today", district["present_today"]),
                              ("meals_today", district["meals_today"])):
            assert sum(int(row[column]) for row in rows) == total, column
        assert sum(row["stale"] == "true" for row in rows) == district["stale"] == 1
        funds = district["funds"]
        assert sum(_num(row["funds_released_inr"]) for row in rows) == pytest.approx(funds["released_to_schools_inr"])
        assert sum(_num(row["funds_balance_inr"]) for row in rows) == pytest.approx(funds["school_balance_inr"])
        assert all(row["risk_level"] in ("low", "medium", "high", "critical") for row in rows)
        assert all(_num(row["allocated_inr"]) > 0 and row["allocated_financial_year"] == "2025" for row in rows)
        block = (await client.get("/api/v1/twin/blocks/Sendurai", params={"district": "Ariyalur"})).json()["data"]
        sendurai = _csv((await client.get(f"{API}/csv", params={"kind": "schools", "district": "Ariyalur",
                                                                "block": "Sendurai"})).text)
        assert sum(int(row["enrolment"]) for row in sendurai) == block["enrolment"] and len(sendurai) == 2
        # the register's names are neutralised, read back as the text they were
        by_id = {row["school_id"]: row for row in rows}
        assert by_id[S1]["name"] == "'" + EVIL and by_id[S2]["name"] == "'-2+3"
        assert "\n=HYPERLINK" not in r.text and ",=HYPERLINK" not in r.text


async def test_attendance_csv_is_each_school_day_from_the_log(app):
    async with client_of(app) as client:
        r = await client.get(f"{API}/csv", params={"kind": "attendance", "district": "Ariyalur", "block": "Sendurai",
                                                   "from": "2025-07-01", "to": "2025-07-07"})
        assert r.status_code == 200 and r.text.splitlines()[0] == ",".join(ATTENDANCE_COLUMNS)
        rows = _csv(r.text)
        assert len(rows) == 2 * 7  # two schools, seven days
        reported = [row for row in rows if row["reported"] == "true"]
        assert len(reported) == 2 * len(DAYS) - 1
        k = ARIYALUR_IDS.index(S1)
        assert sum(int(row["meals_total"]) for row in reported if row["school_id"] == S1) == sum(
            10 + k + 5 + j for j in range(len(DAYS)))


async def test_every_role_gets_its_own_area_only(app):
    sendurai = Area("Ariyalur", "Sendurai")
    async with client_of(app, "district_officer", Area("Ariyalur")) as officer:
        rows = _csv((await officer.get(f"{API}/csv", params={"kind": "schools"})).text)
        assert {row["school_id"] for row in rows} == set(ARIYALUR_IDS)
        r = await officer.get(f"{API}/csv", params={"kind": "schools", "district": "Chennai"})
        assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"
    async with client_of(app, "block_officer", sendurai) as officer:
        rows = _csv((await officer.get(f"{API}/csv", params={"kind": "risk"})).text)
        assert {row["school_id"] for row in rows} == {S1, S2}
        for params in ({"block": "Thirumanur", "district": "Ariyalur"}, {"district": "Ariyalur"},
                       {"school_id": next(s for s in ARIYALUR_IDS if BLOCK_OF[s] != "Sendurai")}):
            r = await officer.get(f"{API}/csv", params={"kind": "schools", **params})
            assert r.status_code == 404, params
        r = await officer.get(f"{API}/pdf", params={"level": "block", "name": "Thirumanur", "district": "Ariyalur"})
        assert r.status_code == 404
    async with client_of(app, "school_admin", Area("Ariyalur", "Sendurai", S1)) as admin:
        r = await admin.get(f"{API}/csv", params={"kind": "schools"})
        sheet = dict(csv.reader(io.StringIO(r.text)))
        assert sheet["metric"] == "value" and sheet["school_id"] == S1 and sheet["name"] == "'" + EVIL
        assert int(sheet["enrolment"]) == int(ENROLMENT[IDS.index(S1)].sum())
        assert sheet["as_of"] == "2025-07-07" and sheet["risk_level"] and sheet["financial_year"] == "2025-26"
        assert (await admin.get(f"{API}/csv", params={"kind": "schools", "school_id": S2})).status_code == 404


async def test_bad_requests_name_the_field(app):
    async with client_of(app) as client:
        r = await client.get(f"{API}/csv", params={"kind": "everything"})
        assert r.status_code == 422 and r.json()["error"]["details"]["fields"][0]["field"] == "kind"
        r = await client.get(f"{API}/csv", params={"kind": "attendance", "from": "2025-07-07", "to": "2025-07-01"})
        assert r.status_code == 422 and r.json()["error"]["details"]["fields"][0]["field"] == "to"
        r = await client.get(f"{API}/pdf", params={"level": "district", "name": "Ariyalur", "from": "2025-07-07",
                                                   "to": "2025-07-01"})
        assert r.status_code == 422 and r.json()["error"]["details"]["fields"][0]["field"] == "to"


async def test_district_pdf_holds_the_figures_and_is_the_same_bytes_twice(app):
    params = {"level": "district", "name": "Ariyalur", "from": "2025-06-20", "to": "2025-07-07",
              "generated_at": "2025-07-08T06:30:00Z"}
    async with client_of(app, "district_officer", Area("Ariyalur")) as officer:
        r = await officer.get(f"{API}/pdf", params=params)
        assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
        again = await officer.get(f"{API}/pdf", params=params)
        assert again.content == r.content
        district = (await officer.get("/api/v1/twin/districts/Ariyalur")).json()["data"]
        open_alerts = (await officer.get("/api/v1/alerts")).json()["data"]["pagination"]["total"]
    pdf = PdfReader(io.BytesIO(r.content))
    pages = [page.extract_text() for page in pdf.pages]
    text = "\n".join(pages)
    assert "Ariyalur district" in text and "2025-06-20 to 2025-07-07" in text
    assert all("generated 2025-07-08 06:30 UTC" in p and f"Page {k}" in p for k, p in enumerate(pages, start=1))
    assert f"{district['enrolment']:,}" in text and f"{district['meals_today']:,}" in text
    for block in {BLOCK_OF[s] for s in ARIYALUR_IDS}:
        assert block in text
    assert open_alerts > 0 and f"{open_alerts} open" in text
    assert "Ranking of blocks" in text and "Risk by block" in text and "Open alerts" in text
    assert "earlier days of the period are not charted" not in text  # the period lies in the kept 35 days
    assert pdf.metadata.creation_date.date() == dt.date(2025, 7, 7)


async def test_school_pdf_and_a_period_before_the_kept_days(app):
    async with client_of(app, "school_admin", Area("Ariyalur", "Sendurai", S1)) as admin:
        r = await admin.get(f"{API}/pdf", params={"level": "school", "from": "2025-07-01", "to": "2025-07-07"})
        assert r.status_code == 200
        text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(r.content)).pages)
        assert S1 in text and "Sendurai block" in text
    async with client_of(app) as client:
        r = await client.get(f"{API}/pdf", params={"level": "block", "name": "Sendurai", "district": "Ariyalur",
                                                   "from": "2025-01-01", "to": "2025-03-31"})
        text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(r.content)).pages)
        assert "only the current state is available" in text.replace("\n", " ")


async def test_alerts_csv_is_the_area_alerts(app):
    async with client_of(app, "block_officer", Area("Ariyalur", "Sendurai")) as officer:
        listed = (await officer.get("/api/v1/alerts", params={"status": "all", "page_size": 200})).json()["data"]
        r = await officer.get(f"{API}/csv", params={"kind": "alerts"})  # the 30 days ending on the twin's day
        rows = _csv(r.text)
        assert sorted(int(row["id"]) for row in rows) == sorted(a["id"] for a in listed["alerts"])
        assert all(row["block"] == "Sendurai" for row in rows)
