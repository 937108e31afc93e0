"""A recommendation's impact as a job: started at once, polled to its result, stored in the
database for any replica to answer, scoped to the caller's area; a job whose replica died is taken
over by another after its heartbeat lapses, a bounded number of times, and a replica stopping lets
its jobs go. On SQLite and PostgreSQL."""

import asyncio
import datetime as dt
import uuid

from sqlalchemy import update

from db.engine import create_engine
from db.impact_job_repository import ImpactJobRepository
from db.tables import impact_jobs
from serve_app.auth.principal import Permission, Principal, Role
from serve_app.optimization.impact_jobs import ImpactJobs
from serve_app.shared.leased_jobs import MAX_ATTEMPTS
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
        assert job["request"] == {"horizon_days": 10, "replications": 4, "stress": True, "seed": 1,
                                  "area": {"district": "Ariyalur", "block": None, "school_id": None}}
        done = await poll(officer, job["id"])
        assert done["status"] == "done" and done["error"] is None and done["progress"]["stage"] == "done"
        assert done["attempts"] == 1
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
        assert job["id"] not in [j["id"] for j in (await outsider.get("/api/v1/optimization/impact/jobs")).json()["data"]]
    async with client_of(app, *DISTRICT_OFFICER) as officer:
        assert (await officer.get("/api/v1/optimization/impact/jobs/" + "0" * 32)).status_code == 404
        mine = (await officer.get("/api/v1/optimization/impact/jobs")).json()["data"]  # the starter's list has it
        assert mine[0]["id"] == job["id"] and mine[0]["result"] == impact
        assert (await officer.get("/api/v1/optimization/impact/jobs", params={"limit": 0})).status_code == 422
        bad = await officer.get("/api/v1/optimization/impact/jobs/not-a-job")
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "VALIDATION_ERROR"
        few = await officer.post(f"/api/v1/optimization/impact/{rec['id']}/jobs", params={"replications": 1})
        assert few.status_code == 422


# who asks a replica made in a test for a job (the API's replica is asked through its routes)
OFFICER = Principal("user:7", Role.DISTRICT_OFFICER, DISTRICT_OFFICER[1], frozenset(Permission))
REQUEST = {"horizon_days": 10, "replications": 4, "stress": True, "seed": 1,
           "area": {"district": "Ariyalur", "block": None, "school_id": None}}


async def _job_left_by(engine, rec_id: str, builder: str, silent: dt.timedelta, attempts: int) -> str:
    """An impact job as a replica left it: held by `builder`, `attempts` simulations begun, its
    heartbeat `silent` old (a dead replica: long ago)."""
    job_id = uuid.uuid4().hex
    await ImpactJobRepository(engine).create(job_id, rec_id, "user:9", REQUEST)
    async with engine.begin() as conn:
        await conn.execute(update(impact_jobs).where(impact_jobs.c.id == job_id).values(
            status="running", builder=builder, attempts=attempts, heartbeat_at=dt.datetime.now(dt.UTC) - silent))
    return job_id


class _Stalled:
    """The optimisation service of a replica whose simulations never end."""

    def __init__(self, real) -> None:
        self._real = real

    def __getattr__(self, name: str):
        return getattr(self._real, name)

    async def impact(self, *args, **kwargs):
        await asyncio.Event().wait()


async def test_a_job_whose_replica_died_is_simulated_again_by_another(app):
    async with client_of(app) as admin:
        await feed(admin)
    rec = transfer_to_short((await run_for_block(app))["recs"])
    services = app.state.services
    dead = await _job_left_by(services.engine, rec["id"], "dead-replica", dt.timedelta(hours=1), 1)
    busy = await _job_left_by(services.engine, rec["id"], "busy-replica", dt.timedelta(seconds=5), 1)
    taken = await services.impact_jobs.sweep()
    assert busy not in taken  # a replica beating a moment ago keeps its job
    # taken over by this sweep, or by the replica's own sweep a moment before
    held = (await ImpactJobRepository(services.engine).get(dead))["builder"]
    assert held in (services.impact_jobs.builder, None)
    await services.impact_jobs.wait()
    async with client_of(app, *DISTRICT_OFFICER) as officer:
        job = await poll(officer, dead)
        assert job["status"] == "done" and job["attempts"] == 2 and job["error"] is None
        # simulated again from its stored request: the same seed, so the same figures
        direct = (await officer.get(f"/api/v1/optimization/impact/{rec['id']}",
                                    params={"horizon_days": 10, "replications": 4})).json()["data"]
        assert job["result"]["plans"] == direct["plans"]
        still = (await officer.get(f"/api/v1/optimization/impact/jobs/{busy}")).json()["data"]
        assert still["status"] == "running" and still["attempts"] == 1


async def test_an_abandoned_job_read_is_taken_over_and_one_out_of_attempts_fails(app):
    async with client_of(app) as admin:
        await feed(admin)
    rec = transfer_to_short((await run_for_block(app))["recs"])
    engine = app.state.services.engine
    dead = await _job_left_by(engine, rec["id"], "dead-replica", dt.timedelta(hours=1), MAX_ATTEMPTS - 1)
    spent = await _job_left_by(engine, rec["id"], "dead-replica", dt.timedelta(hours=1), MAX_ATTEMPTS)
    async with client_of(app, *DISTRICT_OFFICER) as officer:
        read = (await officer.get(f"/api/v1/optimization/impact/jobs/{dead}")).json()["data"]
        assert read["status"] in ("running", "done") and read["attempts"] == MAX_ATTEMPTS  # taken by this read
        assert (await poll(officer, dead))["status"] == "done"
        failed = (await officer.get(f"/api/v1/optimization/impact/jobs/{spent}")).json()["data"]
        assert failed["status"] == "failed" and f"{MAX_ATTEMPTS} times" in failed["error"]
        assert failed["attempts"] == MAX_ATTEMPTS


async def test_a_stalled_replica_stopping_lets_its_job_go_and_another_finishes_it(app):
    async with client_of(app) as admin:
        await feed(admin)
    rec = transfer_to_short((await run_for_block(app))["recs"])
    services = app.state.services
    repo = ImpactJobRepository(services.engine)
    stalled = ImpactJobs(repo, _Stalled(services.optimisation), builder="stalled-replica", heartbeat_s=0.2)
    other = ImpactJobs(repo, services.optimisation, builder="other-replica")
    job = await stalled.submit(rec["id"], OFFICER, 10, 4, True)
    async with asyncio.timeout(30):  # simulating, its heartbeat beating
        while (await repo.get(job["id"]))["progress"]["stage"] != "simulating":
            await asyncio.sleep(0.05)
        first = (await repo.get(job["id"]))["heartbeat_at"]
        while (await repo.get(job["id"]))["heartbeat_at"] == first:
            await asyncio.sleep(0.05)
    assert await other.sweep() == []  # alive: nobody takes it
    await stalled.close()  # the replica stops in good order: the job is let go
    left = await repo.get(job["id"])
    assert (left["status"], left["builder"]) in (("queued", None), ("running", services.impact_jobs.builder))
    if left["builder"] is None:  # else the app's own sweep took it a moment before
        assert await other.sweep() == [job["id"]]  # taken at once: no heartbeat to wait out
    await asyncio.gather(other.wait(), services.impact_jobs.wait())
    done = await repo.get(job["id"])
    assert done["status"] == "done" and done["attempts"] == 2 and done["result"]["recommendation_id"] == rec["id"]


async def test_a_simulation_whose_job_was_taken_over_stops_and_writes_nothing(app):
    async with client_of(app) as admin:
        await feed(admin)
    rec = transfer_to_short((await run_for_block(app))["recs"])
    services = app.state.services
    repo = ImpactJobRepository(services.engine)
    slow = ImpactJobs(repo, _Stalled(services.optimisation), builder="slow-replica", heartbeat_s=0.2)
    job = await slow.submit(rec["id"], OFFICER, 10, 4, True)
    # meanwhile another replica judged this one dead and took the job over
    async with services.engine.begin() as conn:
        await conn.execute(update(impact_jobs).where(impact_jobs.c.id == job["id"]).values(
            builder="other-replica", attempts=2, heartbeat_at=dt.datetime.now(dt.UTC)))
    async with asyncio.timeout(30):
        await slow.wait()  # its next heartbeat finds the job gone and stops the simulation
    held = await repo.get(job["id"])
    assert held["status"] == "running" and held["builder"] == "other-replica" and held["attempts"] == 2


async def test_a_whole_run_is_simulated_as_a_job_scoped_to_the_callers_area(app):
    async with client_of(app) as admin:
        await feed(admin)
    run_id = (await run_for_block(app))["run"]["run_id"]
    async with client_of(app, *DISTRICT_OFFICER) as officer:
        started = await officer.post(f"/api/v1/optimization/runs/{run_id}/impact/jobs",
                                     params={"horizon_days": 10, "replications": 4})
        assert started.status_code == 202, started.text
        job = started.json()["data"]
        assert job["run_id"] == run_id and job["recommendation_id"] is None
        assert job["status"] in ("queued", "running") and job["request"] == REQUEST
        done = await poll(officer, job["id"])
        assert done["status"] == "done" and done["progress"]["stage"] == "done" and done["attempts"] == 1
        result = done["result"]
        assert result["run_id"] == run_id and set(result["plans"]) == {"none", "greedy", "plan"}
        assert result["plan_recommendations"] >= 1 and result["replications"] == 4
        # the same figures as the synchronous answer: same seed, same common random numbers
        direct = (await officer.get(f"/api/v1/optimization/runs/{run_id}/impact",
                                    params={"horizon_days": 10, "replications": 4})).json()["data"]
        assert direct["plans"] == result["plans"] and direct["ratios"] == result["ratios"]
        unknown = await officer.post(f"/api/v1/optimization/runs/{'0' * 32}/impact/jobs")
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "NOT_FOUND"
        few = await officer.post(f"/api/v1/optimization/runs/{run_id}/impact/jobs", params={"replications": 1})
        assert few.status_code == 422 and few.json()["error"]["code"] == "VALIDATION_ERROR"
    async with client_of(app, *OUTSIDER) as outsider:  # none of the run is in the outsider's block
        assert (await outsider.post(f"/api/v1/optimization/runs/{run_id}/impact/jobs")).status_code == 404
        assert (await outsider.get(f"/api/v1/optimization/impact/jobs/{job['id']}")).status_code == 404


async def test_a_run_job_whose_replica_died_is_simulated_again_by_another(app):
    async with client_of(app) as admin:
        await feed(admin)
    run_id = (await run_for_block(app))["run"]["run_id"]
    services = app.state.services
    repo = ImpactJobRepository(services.engine)
    job_id = uuid.uuid4().hex
    await repo.create(job_id, None, "user:9", REQUEST, run_id=run_id)
    async with services.engine.begin() as conn:
        await conn.execute(update(impact_jobs).where(impact_jobs.c.id == job_id).values(
            status="running", builder="dead-replica", attempts=1,
            heartbeat_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)))
    async with client_of(app, *DISTRICT_OFFICER) as officer:
        job = await poll(officer, job_id)  # the first read takes it over
        assert job["status"] == "done" and job["attempts"] == 2 and job["result"]["run_id"] == run_id
