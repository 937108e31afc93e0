"""A recommendation's impact as a background job: POST starts it and answers at once; the
simulation runs in a task of the replica that took the request, writing its stage and a
heartbeat as it goes; the result is stored with the job (and with the recommendation), so any
replica answers the poll. A job whose replica stopped shows no sign of life and is marked failed
when next read: the caller starts another."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
import uuid

from db.impact_job_repository import ACTIVE, ImpactJobRepository
from serve_app.auth.principal import Principal
from serve_app.optimization.service import OptimisationService
from twin.area import Area
from twin.errors import NotFound, TwinError

log = logging.getLogger(__name__)
HEARTBEAT_S = 5.0
ABANDONED_AFTER = dt.timedelta(seconds=120)  # silent this long while active: its replica stopped


class ImpactJobs:
    def __init__(self, repo: ImpactJobRepository, service: OptimisationService,
                 heartbeat_s: float = HEARTBEAT_S) -> None:
        self._repo = repo
        self._service = service
        self._heartbeat_s = heartbeat_s
        self._running: dict[str, asyncio.Task] = {}

    async def submit(self, rec_id: str, principal: Principal, horizon_days: int, replications: int,
                     stress: bool) -> dict:
        await self._service.get(rec_id, principal.area)  # 404 outside the caller's area
        request = {"horizon_days": horizon_days, "replications": replications, "stress": stress, "seed": 1}
        job = await self._repo.create(uuid.uuid4().hex, rec_id, principal.actor(), request)
        task = asyncio.get_running_loop().create_task(self._run(job["id"], rec_id, principal.area, request))
        self._running[job["id"]] = task
        task.add_done_callback(lambda _: self._running.pop(job["id"], None))
        return _shown(job)

    async def get(self, job_id: str, area: Area) -> dict:
        """The job, for a caller whose area covers its recommendation (404 otherwise, as for a missing one)."""
        job = await self._repo.get(job_id)
        try:
            if job is not None:
                await self._service.get(job["recommendation_id"], area)
        except NotFound:
            job = None
        if job is None:
            raise NotFound(f"no impact job {job_id}", {"job_id": job_id})
        if job["status"] in ACTIVE and job_id not in self._running:
            await self._repo.fail_abandoned(job_id, ABANDONED_AFTER)
            job = await self._repo.get(job_id)
        return _shown(job)  # type: ignore[arg-type]

    async def _run(self, job_id: str, rec_id: str, area: Area, request: dict) -> None:
        started = time.monotonic()
        progress = {"stage": "simulating", "replications": request["replications"], "elapsed_s": 0.0}
        await self._repo.started(job_id, progress)
        beat = asyncio.get_running_loop().create_task(self._beat(job_id, progress, started))
        try:
            impact = await self._service.impact(rec_id, area, request["horizon_days"], request["replications"],
                                                request["stress"], request["seed"])
        except TwinError as exc:  # the twin moved on (the school gone, no live state): said as the API would
            await self._repo.failed(job_id, str(exc))
        except Exception as exc:  # noqa: BLE001 - a failed job says why; the replica carries on
            log.exception("impact job %s failed", job_id)
            await self._repo.failed(job_id, f"{type(exc).__name__}: {exc}")
        else:
            await self._repo.finished(job_id, impact, {**progress, "stage": "done",
                                                       "elapsed_s": round(time.monotonic() - started, 2)})
        finally:
            beat.cancel()
            await asyncio.gather(beat, return_exceptions=True)

    async def _beat(self, job_id: str, progress: dict, started: float) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_s)
            await self._repo.progressed(job_id, {**progress, "elapsed_s": round(time.monotonic() - started, 2)})

    async def close(self) -> None:
        """Stop the jobs this replica runs; they are marked failed (their callers start others)."""
        for job_id, task in list(self._running.items()):
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await self._repo.failed(job_id, "interrupted: the replica simulating it stopped; start another")


def _shown(job: dict) -> dict:
    return {k: v for k, v in job.items() if k not in ("owner", "heartbeat_at")} | {"requested_by": job["owner"]}
