"""Report jobs across two API replicas sharing one database: one builds, the other reports the
progress and serves the file; only the owner sees a job; a job whose builder died is built again by
another replica, a bounded number of times; a replica stopping lets its jobs go."""

import asyncio
import datetime as dt
import io
import secrets

import pytest
from pypdf import PdfReader
from sqlalchemy import update

from configs import Settings
from db.engine import create_engine
from db.report_job_repository import ReportJobRepository
from db.tables import report_jobs
import httpx

from tests.fixtures.app import client_of, running_app, token_for
from tests.fixtures.report_world import ARIYALUR_IDS, report_app
from serve_app.reports.jobs import MAX_ATTEMPTS, job_request
from serve_app.reports.service import Period
from twin.area import STATE, Area

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
        job_id = (await a.post(JOBS, json={"format": "csv", "kind": "risk"})).json()["data"]["id"]
        await one.state.services.report_jobs.wait()
        assert (await a.get(f"{JOBS}/{job_id}")).json()["data"]["attempts"] == 1


async def _job_held_by(database_url, builder: str, silent: dt.timedelta, attempts: int, request: dict) -> str:
    """A job as a replica left it: claimed by `builder`, `attempts` builds begun, its heartbeat
    `silent` old (a dead builder: long ago)."""
    engine = create_engine(database_url)
    job_id = secrets.token_hex(8)
    await ReportJobRepository(engine).create(job_id, "user:7", request)
    async with engine.begin() as conn:
        await conn.execute(update(report_jobs).where(report_jobs.c.id == job_id).values(
            status="running", builder=builder, attempts=attempts,
            heartbeat_at=dt.datetime.now(dt.UTC) - silent))
    await engine.dispose()
    return job_id


DISTRICT_PDF = job_request("pdf", "district", Area("Ariyalur"), Period(dt.date(2025, 7, 1), dt.date(2025, 7, 7)),
                           dt.datetime(2025, 7, 8, 6, 30, tzinfo=dt.UTC))


async def test_a_job_whose_builder_died_is_built_again_by_another_replica(replicas, database_url):
    one, two = replicas
    dead = await _job_held_by(database_url, "dead-replica", dt.timedelta(hours=1), 1, DISTRICT_PDF)
    alive = await _job_held_by(database_url, "busy-replica", dt.timedelta(seconds=5), 1, DISTRICT_PDF)
    taken = await two.state.services.report_jobs.sweep() + await one.state.services.report_jobs.sweep()
    assert alive not in taken  # a builder beating a moment ago keeps its job
    # one replica took the dead one over: by these sweeps, or by its own sweep a moment before
    engine = create_engine(database_url)
    held = (await ReportJobRepository(engine).get(dead))["builder"]
    await engine.dispose()
    assert held in (one.state.services.report_jobs.builder, two.state.services.report_jobs.builder, None)
    await asyncio.gather(one.state.services.report_jobs.wait(), two.state.services.report_jobs.wait())
    async with _as(one, "district_officer", Area("Ariyalur"), "user:7") as owner:
        job = await _until_done(owner, dead)
        assert job["status"] == "done" and job["attempts"] == 2 and job["error"] is None
        pdf = await owner.get(job["download"])
        direct = await owner.get("/api/v1/reports/export/pdf", params={
            "level": "district", "name": "Ariyalur", "from": "2025-07-01", "to": "2025-07-07",
            "generated_at": "2025-07-08T06:30:00Z"})
        assert pdf.content == direct.content  # built again from its stored request: the same report
        still = (await owner.get(f"{JOBS}/{alive}")).json()["data"]
        assert still["status"] == "running" and still["attempts"] == 1


async def test_an_abandoned_job_read_by_its_owner_is_taken_over_and_one_out_of_attempts_fails(replicas, database_url):
    one, _ = replicas
    csv_job = job_request("csv", "risk", STATE, Period(dt.date(2025, 7, 1), dt.date(2025, 7, 7)),
                          dt.datetime(2025, 7, 8, 6, 30, tzinfo=dt.UTC))
    dead = await _job_held_by(database_url, "dead-replica", dt.timedelta(hours=1), 2, csv_job)
    spent = await _job_held_by(database_url, "dead-replica", dt.timedelta(hours=1), MAX_ATTEMPTS, csv_job)
    async with _as(one, "state_admin", STATE, "user:7") as owner:
        read = (await owner.get(f"{JOBS}/{dead}")).json()["data"]
        assert read["status"] in ("running", "done") and read["attempts"] == 3  # taken over by this read
        job = await _until_done(owner, dead)
        assert job["status"] == "done" and (await owner.get(job["download"])).text.startswith("school_id,")
        failed = (await owner.get(f"{JOBS}/{spent}")).json()["data"]
        assert failed["status"] == "failed" and f"{MAX_ATTEMPTS} times" in failed["error"]
        assert failed["attempts"] == MAX_ATTEMPTS


async def test_a_replica_stopping_lets_its_job_go_for_another(replicas, database_url):
    one, two = replicas
    jobs = one.state.services.report_jobs
    async with _as(one, "district_officer", Area("Ariyalur"), "user:7") as owner:
        job_id = await _a_job_stalled_in_layout(jobs, owner)  # the replica stops mid-build
        await jobs.close()  # the replica stops in good order
        left = (await owner.get(f"{JOBS}/{job_id}")).json()["data"]
    # let go: queued again, unless the other replica's own sweep has already taken it
    assert (left["status"], "stopped" in left["progress"]["stage"]) in (("queued", True), ("running", False))
    # taken at once, no heartbeat to wait out: by this sweep, or by the replica's own a moment before
    await two.state.services.report_jobs.sweep()
    await two.state.services.report_jobs.wait()
    async with _as(two, "district_officer", Area("Ariyalur"), "user:7") as owner:
        job = await _until_done(owner, job_id)
    assert job["status"] == "done" and job["attempts"] == 2


async def test_a_build_whose_job_was_taken_over_stops_and_writes_nothing(replicas, database_url):
    one, _ = replicas
    jobs = one.state.services.report_jobs
    jobs._heartbeat_s = 0.2  # beat often: the test need not wait out the default
    async with _as(one, "district_officer", Area("Ariyalur"), "user:7") as owner:
        job_id = await _a_job_stalled_in_layout(jobs, owner)  # a layout too slow for its heartbeat
        # meanwhile another replica judged this one dead and took the job over
        engine = create_engine(database_url)
        async with engine.begin() as conn:
            await conn.execute(update(report_jobs).where(report_jobs.c.id == job_id).values(
                builder="other-replica", attempts=2, heartbeat_at=dt.datetime.now(dt.UTC)))
        async with asyncio.timeout(30):
            await jobs.wait()  # its next heartbeat finds the job gone and stops the build
        job = await ReportJobRepository(engine).get(job_id)
        await engine.dispose()
    assert job["status"] == "running" and job["builder"] == "other-replica" and job["attempts"] == 2


async def _a_job_stalled_in_layout(jobs, owner) -> str:  # noqa: ANN001
    """The id of a district PDF job `owner` asked `jobs`' replica for, once it is laying out the PDF,
    where it stays: the layout never ends."""
    async def stalled(fn, *args):
        await asyncio.Event().wait()

    jobs.offload = stalled
    body = {"format": "pdf", "level": "district", "name": "Ariyalur", "from": "2025-07-01", "to": "2025-07-07",
            "generated_at": "2025-07-08T06:30:00Z"}
    job_id = (await owner.post(JOBS, json=body)).json()["data"]["id"]
    async with asyncio.timeout(30):
        while (await owner.get(f"{JOBS}/{job_id}")).json()["data"]["progress"]["stage"] != "laying out the PDF":
            await asyncio.sleep(0.05)
    return job_id
