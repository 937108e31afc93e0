"""A report answered in the request covers at most `limits.report_schools` schools: a wider one is
refused at once in the error envelope, naming the limit and the report job that builds it, before
anything is read from the shards; the job builds it."""

import pytest

from configs import Settings
from configs.settings import Limits
from tests.fixtures.app import client_of
from tests.fixtures.report_world import ARIYALUR_IDS, S1, report_app
from twin.area import Area

API = "/api/v1/reports"
LIMIT = 5  # Ariyalur has 12 schools in the small twin, its block Sendurai 2


@pytest.fixture
async def app(database_url):
    async with report_app(Settings(database_url=database_url, limits=Limits(report_schools=LIMIT))) as app:
        yield app


def _no_state_read(app) -> None:
    async def refused(districts=None):
        raise AssertionError("a refused report read the shards")
    for shard in app.state.services.router.shards:
        shard.state_copy = refused


@pytest.mark.parametrize("path, params, field", [
    ("/export/csv", {"kind": "schools", "district": "Ariyalur"}, "block"),
    ("/export/csv", {"kind": "risk", "district": "Ariyalur"}, "block"),
    ("/export/csv", {"kind": "schools"}, "district"),
    ("/export/pdf", {"level": "district", "name": "Ariyalur"}, "name"),
])
async def test_a_report_over_the_limit_is_refused_naming_it_and_the_job(app, path, params, field):
    assert len(ARIYALUR_IDS) > LIMIT
    _no_state_read(app)
    async with client_of(app) as admin:
        r = await admin.get(f"{API}{path}", params=params)
    assert r.status_code == 422, r.text[:300]
    body = r.json()
    assert body["success"] is False
    error = body["error"]
    assert "limits.report_schools" in error["message"] and "POST /api/v1/reports/jobs" in error["message"]
    assert error["details"]["limit"] == LIMIT and error["details"]["schools"] > LIMIT
    assert error["details"]["job"] == "/api/v1/reports/jobs"
    assert error["details"]["fields"][0]["field"] == field


async def test_areas_within_the_limit_are_answered_and_a_job_builds_a_wider_one(app):
    async with client_of(app, "district_officer", Area("Ariyalur")) as officer:
        block = await officer.get(f"{API}/export/csv", params={"kind": "schools", "block": "Sendurai"})
        assert block.status_code == 200 and len(block.text.splitlines()) == 3  # the header and its 2 schools
        pdf = await officer.get(f"{API}/export/pdf", params={"level": "block", "name": "Sendurai"})
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        sheet = await officer.get(f"{API}/export/csv", params={"kind": "schools", "school_id": S1})
        assert sheet.status_code == 200
        job = await officer.post(f"{API}/jobs", json={"format": "csv", "kind": "schools"})
        assert job.status_code == 202, job.text[:300]
        alerts = await officer.get(f"{API}/export/csv", params={"kind": "alerts"})  # rows: alerts, not schools
        assert alerts.status_code == 200 and alerts.text.startswith("id,")
