"""A recommendation's impact as a job: started at once, polled to its result, stored in the
database for any replica to answer, scoped to the caller's area, and failed when the replica
running it stopped. On SQLite and PostgreSQL."""

import asyncio
import datetime as dt

from db.engine import create_engine
from db.impact_job_repository import ImpactJobRepository
from serve_app.optimization import impact_jobs
from tests.fixtures.app import client_of
from tests.serve_app.optimization.test_endpoints import (
    DISTRICT_OFFICER,
    OUTSIDER,
    feed,
    run_for_block,
    transfer_to_short,
)


async def poll(client, job_id: str) -> dict:
    for _ in range(600):
        job = (await client.get(f"/api/v1/optimization/impact/jobs/{job_id}")).json()["data"]
        if job["status"] in ("done", "failed"):
            return job
        await asyncio.sleep(0.1)
    raise AssertionError(f"impact job {job_id} still {job['status']}")


async def test_an_impact_job_runs_in_the_background_and_any_replica_reads_its_result(app, seeded_url):
    async with client_of(app) as admin:
        await feed(admin)
    rec = transfer_to_short((await run_for_block(app))["recs"])
    async with client_of(app, *DISTRICT_OFFICER) as officer:
        started = await officer.post(f"/api/v1/optimization/impact/{rec['id']}/jobs",
                                     params={"horizon_days": 10, "replications": 4})
        assert started.status_code == 202, started.text
        job = started.json()["data"]
        assert job["status"] in ("queued", "running") and job["recommendation_id"] == rec["id"]
        assert job["request"] == {"horizon_days": 10, "replications": 4, "stress": True, "seed": 1}
        done = await poll(officer, job["id"])
        assert done["status"] == "done" and done["error"] is None and done["progress"]["stage"] == "done"
        impact = done["result"]
        assert set(impact["plans"]) == {"none", "greedy", "recommendation", "plan"} and impact["replications"] == 4
        assert impact["plans"]["none"]["no_meal_child_days"]["mean"] > \
            impact["plans"]["recommendation"]["no_meal_child_days"]["mean"]
        stored = (await officer.get(f"/api/v1/optimization/recommendations/{rec['id']}")).json()["data"]
        assert stored["impact"] == impact
        # the same figures as the synchronous answer: same seed, same common random numbers
        direct = (await officer.get(f"/api/v1/optimization/impact/{rec['id']}",
                                    params={"horizon_days": 10, "replications": 4})).json()["data"]
        assert direct["plans"] == impact["plans"]
    # another replica has only the database: the job is there with its result
    engine = create_engine(seeded_url)
    try:
        elsewhere = await ImpactJobRepository(engine).get(job["id"])
    finally:
        await engine.dispose()
    assert elsewhere["status"] == "done" and elsewhere["result"] == impact
    async with client_of(app, *OUTSIDER) as outsider:
        hidden = await outsider.get(f"/api/v1/optimization/impact/jobs/{job['id']}")
        assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "NOT_FOUND"
        refused = await outsider.post(f"/api/v1/optimization/impact/{rec['id']}/jobs")
        assert refused.status_code == 404
    async with client_of(app, *DISTRICT_OFFICER) as officer:
        assert (await officer.get("/api/v1/optimization/impact/jobs/" + "0" * 32)).status_code == 404
        bad = await officer.get("/api/v1/optimization/impact/jobs/not-a-job")
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "VALIDATION_ERROR"
        few = await officer.post(f"/api/v1/optimization/impact/{rec['id']}/jobs", params={"replications": 1})
        assert few.status_code == 422


async def test_a_job_whose_replica_stopped_is_failed_when_read(app, monkeypatch):
    async with client_of(app) as admin:
        await feed(admin)
    rec = transfer_to_short((await run_for_block(app))["recs"])
    # a job another replica took and then stopped running: queued, and no task here runs it
    repo = ImpactJobRepository(app.state.services.engine)
    orphan = await repo.create("a" * 32, rec["id"], "user:9", {"horizon_days": 10, "replications": 4,
                                                                "stress": True, "seed": 1})
    async with client_of(app, *DISTRICT_OFFICER) as officer:
        fresh = (await officer.get(f"/api/v1/optimization/impact/jobs/{orphan['id']}")).json()["data"]
        assert fresh["status"] == "queued"  # silent for less than the limit: maybe just slow
        monkeypatch.setattr(impact_jobs, "ABANDONED_AFTER", dt.timedelta(0))
        stale = (await officer.get(f"/api/v1/optimization/impact/jobs/{orphan['id']}")).json()["data"]
        assert stale["status"] == "failed" and "start another" in stale["error"]
