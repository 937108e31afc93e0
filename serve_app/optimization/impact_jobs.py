"""A recommendation's (or a whole run's) impact as a background job: POST starts it and answers at once; the
simulation runs in a task of the replica holding the job, writing its stage and a heartbeat as it
goes; the result is stored with the job (and with the recommendation), so any replica answers the
poll. A job is held under a lease (`serve_app.shared.leased_jobs`): if its replica dies, another
takes it over once its heartbeat has been silent `ABANDONED_AFTER`, on its sweep or when the job is
read, and simulates it again from its stored request (the same seed, the asker's area, the live
twin as it is then); after `MAX_ATTEMPTS` simulations begun the job is failed instead."""

from __future__ import annotations

import datetime as dt
import time
import uuid

from db.impact_job_repository import ImpactJobRepository
from serve_app.auth.principal import Principal
from serve_app.optimization.service import OptimisationService
from serve_app.shared.leased_jobs import (
    ABANDONED_AFTER,
    HEARTBEAT_S,
    MAX_ATTEMPTS,
    LeasedJobs,
)
from twin.area import Area
from twin.errors import NotFound, TwinError


class ImpactJobs(LeasedJobs):
    what = "impact job"

    def __init__(self, repo: ImpactJobRepository, service: OptimisationService, builder: str | None = None,
                 abandoned_after: dt.timedelta = ABANDONED_AFTER, max_attempts: int = MAX_ATTEMPTS,
                 heartbeat_s: float = HEARTBEAT_S) -> None:
        super().__init__(repo, builder, abandoned_after, max_attempts, heartbeat_s)
        self._service = service
        self._progress: dict[str, tuple[dict, float]] = {}  # job id: its stage, and when it began here

    async def submit(self, rec_id: str, principal: Principal, horizon_days: int, replications: int,
                     stress: bool) -> dict:
        await self._service.get(rec_id, principal.area)  # 404 outside the caller's area
        request = _request(principal.area, horizon_days, replications, stress)
        job = await self._repo.create(uuid.uuid4().hex, rec_id, principal.actor(), request)
        await self._take(job["id"], request)
        return _shown(job)

    async def submit_run(self, run_id: str, principal: Principal, horizon_days: int, replications: int,
                         stress: bool) -> dict:
        """A job simulating the whole run's plan: its live recommendations inside the caller's area."""
        await self._service.run_recommendations(run_id, principal.area)  # 404: none of it in the caller's area
        request = _request(principal.area, horizon_days, replications, stress)
        job = await self._repo.create(uuid.uuid4().hex, None, principal.actor(), request, run_id=run_id)
        await self._take(job["id"], request)
        return _shown(job)

    async def mine(self, principal: Principal, limit: int) -> list[dict]:
        """The jobs the caller started inside the area they hold now, newest first (each was checked
        against their area when it was started)."""
        jobs = await self._repo.started_by(principal.actor(), limit)
        return [_shown(job) for job in jobs if principal.area.contains(_area(job["request"]))]

    async def get(self, job_id: str, area: Area) -> dict:
        """The job, for a caller whose area covers its recommendation, or some of its run (404
        otherwise, as for a missing one)."""
        job = await self._repo.get(job_id)
        try:
            if job is not None and job["run_id"] is not None:
                await self._service.run_recommendations(job["run_id"], area)
            elif job is not None:
                await self._service.get(job["recommendation_id"], area)
        except NotFound:
            job = None
        if job is None:
            raise NotFound(f"no impact job {job_id}", {"job_id": job_id})
        if await self._recover_if_abandoned(job):
            job = await self._repo.get(job_id)
        return _shown(job)  # type: ignore[arg-type]

    # -- running ----------------------------------------------------------------------------------
    async def _build(self, job_id: str, request: dict) -> None:
        job = await self._repo.get(job_id)
        progress = {"stage": "simulating", "replications": request["replications"], "elapsed_s": 0.0}
        started = time.monotonic()
        self._progress[job_id] = (progress, started)
        try:
            await self._repo.progressed(job_id, self.builder, progress)
            asked = (_area(request), request["horizon_days"], request["replications"], request["stress"],
                     request["seed"])
            if job["run_id"] is not None:  # the run's plan as the asker sees it: its recommendations in their area
                impact = await self._service.run_impact(job["run_id"], *asked)
            else:
                impact = await self._service.impact(job["recommendation_id"], *asked)
            await self._repo.finished(job_id, self.builder, impact,
                                      {**progress, "stage": "done", "elapsed_s": _since(started)})
        finally:
            self._progress.pop(job_id, None)

    def _failure(self, exc: Exception) -> str:
        if isinstance(exc, TwinError):  # the twin moved on (the school gone, no live state): said as the API would
            return str(exc)
        return super()._failure(exc)

    async def _beat_once(self, job_id: str) -> bool:
        if job_id not in self._progress:
            return await super()._beat_once(job_id)
        progress, started = self._progress[job_id]
        return await self._repo.progressed(job_id, self.builder, {**progress, "elapsed_s": _since(started)})


def _request(area: Area, horizon_days: int, replications: int, stress: bool) -> dict:
    """What a job stores of its request (JSON): enough for any replica to run it, as the asker."""
    return {"horizon_days": horizon_days, "replications": replications, "stress": stress, "seed": 1,
            "area": {"district": area.district, "block": area.block, "school_id": area.school_id}}


def _area(request: dict) -> Area:
    a = request["area"]
    return Area(a["district"], a["block"], a["school_id"])


def _since(started: float) -> float:
    return round(time.monotonic() - started, 2)


def _shown(job: dict) -> dict:
    return {k: v for k, v in job.items() if k not in ("owner", "heartbeat_at", "builder")} | {
        "requested_by": job["owner"]}
