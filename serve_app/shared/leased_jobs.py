"""Background jobs kept in the database and built by whichever API replica holds them (report
jobs, impact jobs). A request is stored as a job; the replica that took the request claims it and
builds it in a task, beating a heartbeat while it does. A replica that dies mid-build stops beating;
once its heartbeat is older than `abandoned_after` another replica takes the job over, on its
periodic sweep or when the job is read, and builds it again from its stored request. After
`max_attempts` builds begun the job is failed instead: a job that kills its builder is not retried
for ever. A replica stopping in good order lets its jobs go at once for another to take.

The storage is a repository over `db.job_leases` (`claim`, `abandoned`, `beat`, `failed`,
`release`, `fail_exhausted`); what a job builds, and how it records its result, is a subclass's
`_build`."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import socket
from typing import Any

log = logging.getLogger(__name__)

HEARTBEAT_S = 5.0
ABANDONED_AFTER = dt.timedelta(seconds=120)  # silent this long while active: its builder stopped
MAX_ATTEMPTS = 3  # builds of one job begun, by any replicas, before it is failed
SWEEP_S = 30.0  # how often a replica looks for abandoned jobs to take over


class LeasedJobs:
    what = "job"  # what the logs call one

    def __init__(self, repo: Any, builder: str | None = None, abandoned_after: dt.timedelta = ABANDONED_AFTER,
                 max_attempts: int = MAX_ATTEMPTS, heartbeat_s: float = HEARTBEAT_S) -> None:
        self._repo = repo
        self.builder = builder or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"  # this replica, in the jobs
        self._abandoned_after = abandoned_after  # well above heartbeat_s: a busy replica is late, not dead
        self._max_attempts = max_attempts
        self._heartbeat_s = heartbeat_s
        self._running: dict[str, asyncio.Task] = {}
        self._sweeper: asyncio.Task | None = None
        self._closed = False  # stopping: it takes no more jobs

    def start(self, sweep_s: float = SWEEP_S) -> None:
        """Look for abandoned jobs every `sweep_s` (and once now: those a stopped replica left)."""
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever(sweep_s))

    async def sweep(self) -> list[str]:
        """Take over (or, after `max_attempts`, fail) the jobs whose builders went silent; the ids
        of the jobs this replica now builds."""
        taken = []
        for job in await self._repo.abandoned(self._silent_since()):
            if await self._recover(job) and job["id"] in self._running:
                taken.append(job["id"])
        return taken

    async def _sweep_forever(self, sweep_s: float) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:  # the sweep outlives a bad round (the database away a while)
                log.exception("%s: a sweep failed", self.what)
            await asyncio.sleep(sweep_s)

    def _silent_since(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) - self._abandoned_after

    async def _recover(self, job: dict) -> bool:
        """An abandoned job built again here, or failed once its builds are used up; whether
        anything changed."""
        if job["id"] in self._running:
            return False
        if await self._repo.fail_exhausted(job["id"], self._silent_since(), self._max_attempts):
            log.warning("%s %s failed: its builders stopped %d times", self.what, job["id"], self._max_attempts)
            return True
        if await self._take(job["id"], job["request"]):
            log.warning("%s %s taken over from %s (build %d)", self.what, job["id"], job["builder"],
                        job["attempts"] + 1)
            return True
        return False

    async def _recover_if_abandoned(self, job: dict) -> bool:
        """When a job is read: taken over here if it is active and nobody builds it any more."""
        return job["status"] in ("queued", "running") and await self._recover(job)

    async def _take(self, job_id: str, request: dict) -> bool:
        if self._closed or not await self._repo.claim(job_id, self.builder, self._silent_since(), self._max_attempts):
            return False  # another replica holds it, or it is settled
        task = asyncio.get_running_loop().create_task(self._run(job_id, request))
        self._running[job_id] = task
        task.add_done_callback(lambda _: self._running.pop(job_id, None))
        return True

    async def wait(self) -> None:
        """Until this replica's running jobs end (tests, shutdown)."""
        await asyncio.gather(*self._running.values(), return_exceptions=True)

    async def close(self) -> None:
        """Stop sweeping and building; the unfinished jobs are let go for another replica."""
        self._closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
        for task in list(self._running.values()):
            task.cancel()
        await self.wait()

    # -- building ---------------------------------------------------------------------------------
    async def _run(self, job_id: str, request: dict) -> None:
        beating = asyncio.get_running_loop().create_task(self._beat(job_id, asyncio.current_task()))
        try:
            await self._build(job_id, request)
        except asyncio.CancelledError:
            await asyncio.shield(self._repo.release(job_id, self.builder))
            raise
        except Exception as exc:
            log.warning("%s %s failed", self.what, job_id, exc_info=True)
            await self._repo.failed(job_id, self.builder, self._failure(exc))
        finally:
            beating.cancel()

    async def _build(self, job_id: str, request: dict) -> None:
        """Build the job and record its result (conditional on still holding it)."""
        raise NotImplementedError

    def _failure(self, exc: Exception) -> str:
        """What a failed job says of why."""
        return f"{type(exc).__name__}: {exc}"

    async def _beat(self, job_id: str, build: asyncio.Task | None) -> None:
        """The build's heartbeat; a build that lost its job (taken over while this replica was too
        busy to beat) stops, since its result could no longer be recorded."""
        while True:
            await asyncio.sleep(self._heartbeat_s)
            if not await self._beat_once(job_id):
                log.warning("%s %s is no longer this replica's: its build stops", self.what, job_id)
                if build is not None:
                    build.cancel()
                return

    async def _beat_once(self, job_id: str) -> bool:
        """One sign of life; False once this replica no longer holds the job."""
        return await self._repo.beat(job_id, self.builder)
