"""Report jobs across two API replicas sharing one database: one builds, the other reports the
progress and serves the file; only the owner sees a job; a job whose builder stopped is failed."""

import asyncio
import datetime as dt
import io

import pytest
from pypdf import PdfReader
from sqlalchemy import update

from configs import Settings
from db.engine import create_engine
from db.tables import report_jobs
import httpx

from tests.fixtures.app import client_of, running_app, token_for
from tests.fixtures.report_world import ARIYALUR_IDS, report_app
from twin.area import Area

JOBS = "/api/v1/reports/jobs"


@pytest.fixture
async def replicas(database_url):
    settings = Settings(database_url=database_url)
    async with report_app(settings) as one:
        async with running_app(settings) as two:
            yield one, two


def _as(app, role: str, area: Area, subject: str) -> httpx.AsyncClient:
    """A client of `app` signed in as the user `subject`."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://twin",
                             headers={"Authorization": f"Bearer {token_for(app, role, area, subject)}"})


async def _until_done(client, job_id: str) -> dict:
    async with asyncio.timeout(60):
        while True:
            job = (await client.get(f"{JOBS}/{job_id}")).json()["data"]
            if job["status"] not in ("queued", "running"):
                return job
            await asyncio.sleep(0.1)


async def test_a_job_built_by_one_replica_is_served_by_the_other(replicas):
    one, two = replicas
    body = {"format": "pdf", "level": "district", "name": "Ariyalur", "from": "2025-07-01", "to": "2025-07-07",
            "generated_at": "2025-07-08T06:30:00Z"}
    officer = Area("Ariyalur")
    async with _as(one, "district_officer", officer, "user:7") as a, \
            _as(two, "district_officer", officer, "user:7") as b:
        r = await a.post(JOBS, json=body)
        assert r.status_code == 202 and r.json()["data"]["status"] in ("queued", "running")
        job_id = r.json()["data"]["id"]
        job = await _until_done(b, job_id)
        assert job["status"] == "done" and job["progress"]["stage"] == "done" and job["size_bytes"] > 1000
        pdf = await b.get(job["download"])
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        assert 'filename="report-Ariyalur.pdf"' in pdf.headers["content-disposition"]
        direct = await b.get("/api/v1/reports/export/pdf", params={"level": "district", "name": "Ariyalur",
                                                                   "from": "2025-07-01", "to": "2025-07-07",
                                                                   "generated_at": "2025-07-08T06:30:00Z"})
        assert direct.content == pdf.content  # the job's file is the report itself
        text = PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
        assert "Ariyalur district" in text
        listed = (await b.get(JOBS)).json()["data"]
        assert [j["id"] for j in listed["jobs"]] == [job_id] and listed["pagination"]["total"] == 1
    async with _as(two, "district_officer", officer, "user:8") as stranger:
        assert (await stranger.get(f"{JOBS}/{job_id}")).status_code == 404
        assert (await stranger.get(f"{JOBS}/{job_id}/download")).status_code == 404
        assert (await stranger.get(JOBS)).json()["data"]["jobs"] == []


async def test_a_csv_job_holds_the_same_rows_as_the_export(replicas):
    one, two = replicas
    async with client_of(one) as a, client_of(two) as b:
        r = await a.post(JOBS, json={"format": "csv", "kind": "attendance", "from": "2025-07-01", "to": "2025-07-07"})
        job = await _until_done(b, r.json()["data"]["id"])
        assert job["status"] == "done", job
        got = (await b.get(job["download"])).text
        direct = (await b.get("/api/v1/reports/export/csv", params={"kind": "attendance", "from": "2025-07-01",
                                                                   "to": "2025-07-07"})).text
        assert got == direct and len(got.splitlines()) > len(ARIYALUR_IDS)


async def test_bad_job_requests_and_a_job_not_done(replicas, database_url):
    one, _ = replicas
    async with client_of(one) as a:
        for body, field in (({"format": "csv"}, "kind"), ({"format": "pdf"}, "level"),
                            ({"format": "xlsx", "kind": "schools"}, "format"),
                            ({"format": "csv", "kind": "risk", "from": "2025-07-07", "to": "2025-07-01"}, "to")):
            r = await a.post(JOBS, json=body)
            assert r.status_code == 422 and r.json()["error"]["code"] == "VALIDATION_ERROR", body
            assert r.json()["error"]["details"]["fields"][0]["field"] == field, (body, r.json())
        r = await a.post(JOBS, json={"format": "pdf", "level": "district", "name": "Atlantis"})
        assert r.status_code == 404
        # a job whose builder went silent long ago (its replica stopped) is failed when read
        job_id = (await a.post(JOBS, json={"format": "csv", "kind": "risk"})).json()["data"]["id"]
        await one.state.services.report_jobs.wait()
        engine = create_engine(database_url)
        old = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        async with engine.begin() as conn:
            await conn.execute(update(report_jobs).where(report_jobs.c.id == job_id).values(
                status="running", heartbeat_at=old))
        await engine.dispose()
        r = await a.get(f"{JOBS}/{job_id}/download")
        assert r.status_code == 409 and r.json()["error"]["code"] == "CONFLICT"
        job = (await a.get(f"{JOBS}/{job_id}")).json()["data"]
        assert job["status"] == "failed" and "ask again" in job["error"]
