"""An area's performance report and PDF come from the read cache while the twin and the alerts
under them are unchanged; an alert written without any event (marked read, raised by the rules)
or a new event of the area makes the next one measured afresh."""

import io

import pytest
from pypdf import PdfReader

from configs import Settings
from db.alert_repository import AlertRepository
from db.engine import create_engine
from tests.fixtures.app import client_of
from tests.fixtures.report_world import ARIYALUR_IDS, BLOCK_OF, report_app
from twin.area import Area

API = "/api/v1/reports"
PERFORMANCE = {"from": "2025-07-01", "to": "2025-07-07"}
PDF = {"level": "district", "name": "Ariyalur", "from": "2025-06-20", "to": "2025-07-07"}


@pytest.fixture
async def app(database_url):
    async with report_app(Settings(database_url=database_url)) as app:
        yield app


@pytest.fixture
async def alerts(database_url):
    engine = create_engine(database_url)
    yield AlertRepository(engine)
    await engine.dispose()


def _counts(app) -> tuple[int, int]:
    cache = app.state.services.models.read_cache  # the replica's one read cache
    return cache.hits, cache.misses


def _pdf_text(body: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)


async def test_every_alert_write_moves_the_alerts_version(alerts):
    start = await alerts.version()
    school = ARIYALUR_IDS[0]
    [stored] = await alerts.apply([_alert(school)], [], [])
    assert await alerts.version() == start + 1
    await alerts.mark_read(stored["id"])
    assert await alerts.version() == start + 2
    await alerts.apply([], [], [(f"school:{school}", "inspection_overdue")])
    assert await alerts.version() == start + 3


async def test_performance_is_cached_until_an_officer_marks_an_alert_read(app):
    async with client_of(app, "district_officer", Area("Ariyalur")) as officer:
        first = await officer.get(f"{API}/performance", params=PERFORMANCE)
        assert first.status_code == 200, first.text[:300]
        hits, misses = _counts(app)
        again = await officer.get(f"{API}/performance", params=PERFORMANCE)
        assert again.json()["data"] == first.json()["data"]
        assert _counts(app) == (hits + 1, misses)  # from the cache

        alert = (await officer.get("/api/v1/alerts")).json()["data"]["alerts"][0]
        assert (await officer.post(f"/api/v1/alerts/mark-read/{alert['id']}")).status_code == 200
        after = await officer.get(f"{API}/performance", params=PERFORMANCE)
        assert _counts(app) == (hits + 1, misses + 1)  # measured afresh: the alerts changed
        assert after.json()["data"] == first.json()["data"]
    async with client_of(app) as admin:  # a new event of the district: measured afresh too
        r = await admin.post("/api/v1/events", json={"events": [{
            "type": "stock_delivered", "event_id": "cache-d", "date": "2025-07-07", "school_id": ARIYALUR_IDS[0],
            "rice_kg": 5.0, "pulses_kg": 0.0, "oil_kg": 0.0, "eggs": 0}]})
        assert r.status_code == 200 and r.json()["data"]["rejected"] == 0, r.text[:300]
        hits, misses = _counts(app)
        await admin.get(f"{API}/performance", params=PERFORMANCE | {"district": "Ariyalur"})
        assert _counts(app) == (hits, misses + 1)


async def test_a_pdf_is_cached_until_the_rules_raise_an_alert(app, alerts):
    async with client_of(app, "district_officer", Area("Ariyalur")) as officer:
        first = await officer.get(f"{API}/export/pdf", params=PDF)
        assert first.status_code == 200 and first.headers["content-type"] == "application/pdf"
        hits, misses = _counts(app)
        again = await officer.get(f"{API}/export/pdf", params=PDF)
        assert again.content == first.content and _counts(app) == (hits + 1, misses)
        open_before = (await officer.get("/api/v1/alerts")).json()["data"]["pagination"]["total"]
        assert f"{open_before} open" in _pdf_text(first.content)

        await alerts.apply([_alert(ARIYALUR_IDS[-1])], [], [])  # as the risk desk writes, no event
        fresh = await officer.get(f"{API}/export/pdf", params=PDF)
        assert _counts(app)[1] == misses + 1
        assert f"{open_before + 1} open" in _pdf_text(fresh.content)


def _alert(school: str) -> dict:
    return {"subject": f"school:{school}", "school_id": school, "district": "Ariyalur", "block": BLOCK_OF[school],
            "alert_type": "inspection_overdue", "category": "compliance", "severity": "low",
            "title": "Inspection overdue", "message": "No inspection in 90 days", "details": {"days": 91}}
