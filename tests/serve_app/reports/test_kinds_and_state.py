"""The finance and forecasts CSVs, the state's PDF with its charts, and a Tamil school name in a
PDF, on SQLite and PostgreSQL."""

import csv
import io
import unicodedata

import pytest
from pypdf import PdfReader

from configs import Settings
from serve_app.reports.schemas import FINANCE_COLUMNS
from tests.fixtures.app import client_of
from tests.fixtures.report_world import ARIYALUR_IDS, BLOCK_OF, S1, TAMIL_NAME, report_app
from twin.area import Area

API = "/api/v1/reports/export"


@pytest.fixture
async def app(database_url):
    async with report_app(Settings(database_url=database_url)) as app:
        yield app


def _csv(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def _num(x: str) -> float:
    return float(x) if x else 0.0


def _text(pdf: bytes) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)


async def test_finance_csv_adds_up_to_the_finance_views(app):
    async with client_of(app, "district_officer", Area("Ariyalur")) as officer:
        r = await officer.get(f"{API}/csv", params={"kind": "finance"})
        assert r.status_code == 200 and r.text.splitlines()[0] == ",".join(FINANCE_COLUMNS)
        rows = _csv(r.text)
        assert sorted(row["school_id"] for row in rows) == sorted(ARIYALUR_IDS)
        money = (await officer.get("/api/v1/financial/districts/Ariyalur")).json()["data"]
        district = (await officer.get("/api/v1/twin/districts/Ariyalur")).json()["data"]
    # the year's entitlement by the norms (finance names it `entitlement` once allocations are recorded apart)
    entitled = money.get("entitlement", money["allocated"])["total_inr"]
    assert entitled > 0 and sum(_num(row["entitlement_inr"]) for row in rows) == pytest.approx(entitled, rel=1e-6)
    assert sum(_num(row["released_inr"]) for row in rows) == pytest.approx(district["funds"]["released_to_schools_inr"])
    assert sum(_num(row["balance_inr"]) for row in rows) == pytest.approx(district["funds"]["school_balance_inr"])
    for row in rows:
        assert _num(row["centre_share"]) + _num(row["state_share"]) == pytest.approx(1.0, abs=2e-4)
        assert _num(row["utilised_pct_of_released"]) == pytest.approx(
            100 * _num(row["utilised_inr"]) / _num(row["released_inr"]), abs=0.01)


async def test_a_school_admin_gets_the_finance_sheet_of_the_school_only(app):
    async with client_of(app, "school_admin", Area("Ariyalur", "Sendurai", S1)) as admin:
        r = await admin.get(f"{API}/csv", params={"kind": "finance"})
        sheet = dict(csv.reader(io.StringIO(r.text)))
        assert sheet["metric"] == "value" and sheet["school_id"] == S1 and sheet["name"] == TAMIL_NAME
        assert _num(sheet["released_inr"]) == 10_000 + ARIYALUR_IDS.index(S1)
        other = next(s for s in ARIYALUR_IDS if s != S1)
        r = await admin.get(f"{API}/csv", params={"kind": "finance", "school_id": other})
        assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"


async def test_forecasts_csv_answers_503_until_a_forecaster_is_served(app):
    async with client_of(app) as client:
        r = await client.get(f"{API}/csv", params={"kind": "forecasts", "district": "Ariyalur"})
        assert r.status_code == 503 and r.json()["success"] is False
        assert "retrain" in r.json()["error"]["message"]


async def test_state_pdf_has_every_section_and_only_a_state_wide_caller_gets_it(app):
    params = {"level": "state", "from": "2025-06-20", "to": "2025-07-07", "generated_at": "2025-07-08T06:30:00Z"}
    async with client_of(app) as admin:
        first, again = [await _job_file(app, admin, await admin.get(f"{API}/pdf", params=params)) for _ in range(2)]
        assert first == again  # the same bytes
        state = (await admin.get("/api/v1/twin/state")).json()["data"]
    text = _text(first)
    for heading in ("Tamil Nadu", "Risk by district", "Ranking of districts", "Map of schools by risk",
                    "Stock days", "Funds released against utilised", "Forecast of the coming week", "Open alerts"):
        assert heading in text, heading
    assert f"{state['enrolment']:,}" in text and f"{state['meals_today']:,}" in text
    assert "No forecast:" in text  # no forecaster is trained in this twin, and the report says so
    for district in ("Ariyalur", "Chengalpattu", "Chennai"):
        assert district in text
    async with client_of(app, "district_officer", Area("Ariyalur")) as officer:
        r = await officer.get(f"{API}/pdf", params=params)
        assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"


async def _job_file(app, client, answer) -> bytes:
    """The file of the report job `answer` started (202), once this replica has built it."""
    assert answer.status_code == 202, answer.text[:300]
    job = answer.json()["data"]
    assert answer.headers["location"] == f"/api/v1/reports/jobs/{job['id']}"
    await app.state.services.report_jobs.wait()
    done = (await client.get(answer.headers["location"])).json()["data"]
    assert done["status"] == "done", done
    r = await client.get(done["download"])
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    return r.content


async def test_district_pdf_funds_and_stock_sections_hold_the_twin_figures(app):
    async with client_of(app, "district_officer", Area("Ariyalur")) as officer:
        r = await officer.get(f"{API}/pdf", params={"level": "district", "generated_at": "2025-07-08T06:30:00Z"})
        district = (await officer.get("/api/v1/twin/districts/Ariyalur")).json()["data"]
        blocks = {b: (await officer.get(f"/api/v1/twin/blocks/{b}", params={"district": "Ariyalur"})).json()["data"]
                  for b in {BLOCK_OF[s] for s in ARIYALUR_IDS}}
    text = _text(r.content)
    assert "Funds released against utilised" in text and "Stock days" in text
    for name, block in blocks.items():  # each block's released funds, as its twin holds them
        assert f"{block['funds']['released_to_schools_inr']:,.2f}" in text, name
    assert f"{district['schools']:,}" in text


async def test_a_tamil_school_name_is_set_in_the_tamil_font(app):
    async with client_of(app, "school_admin", Area("Ariyalur", "Sendurai", S1)) as admin:
        r = await admin.get(f"{API}/pdf", params={"level": "school", "generated_at": "2025-07-08T06:30:00Z"})
    assert r.status_code == 200
    reader = PdfReader(io.BytesIO(r.content))
    fonts = {str(f["/BaseFont"]) for page in reader.pages for f in page["/Resources"]["/Font"].values()
             if "/BaseFont" in f.get_object()}
    assert any(name.endswith("NotoSansTamil-Regular") or "NotoSansTamil" in name for name in fonts), fonts
    text = _text(r.content)
    # shaped Tamil extracts as its text, ligatures (டு, ட்) included, and a vowel sign drawn before
    # its consonant (செ, றை, லை) in the text's own order
    assert TAMIL_NAME in unicodedata.normalize("NFC", text) and S1 in text
    pages = PdfReader(io.BytesIO(r.content)).pages
    assert all("ஊராட்சி ஒன்றிய" in page.extract_text() for page in pages)  # the footer of every page


def _images(pdf: bytes) -> int:
    return sum(1 for page in PdfReader(io.BytesIO(pdf)).pages
               for x in (page["/Resources"].get("/XObject") or {}).values() if x.get_object()["/Subtype"] == "/Image")


async def test_every_level_draws_its_charts_under_their_names(app):
    period = {"from": "2025-07-01", "to": "2025-07-07", "generated_at": "2025-07-08T06:30:00Z"}
    attendance, stock, funds = "Attendance and meals against enrolment", "Stock days", "Funds released against utilised"
    levels = {  # the sections each level's report has, and the charts drawn among them
        "district": ({"level": "district", "name": "Ariyalur"},
                     [attendance, stock, "Risk by block", "Ranking of blocks", "Map of schools by risk", funds,
                      "Forecast of the coming week", "Open alerts"], 5),
        "block": ({"level": "block", "name": "Sendurai", "district": "Ariyalur"},
                  [attendance, stock, "Map of schools by risk", funds, "Forecast of the coming week", "Open alerts"], 4),
        "school": ({"level": "school", "name": S1}, [attendance, funds, "Forecast of the coming week", "Open alerts"], 2),
    }
    async with client_of(app) as admin:
        for level, (params, sections, charts) in levels.items():
            r = await admin.get(f"{API}/pdf", params={**params, **period})
            assert r.status_code == 200, (level, r.text[:300])
            text = _text(r.content)
            for section in sections:
                assert section in text, (level, section)
            # attendance, stock days, risk by block, the map, funds: matplotlib charts as images (no
            # forecaster is served here: the forecast says why there is none instead of a chart)
            assert _images(r.content) == charts, level
            assert "No forecast:" in text
