"""Long reports as background jobs: a request is stored as a job (the database is the one truth
every API replica shares), built by a task of the replica that holds it, with its progress written
as it goes, and its file stored with the job when done, for any replica to serve.

The layout of a PDF, the CPU-heavy part, runs through `offload` (a Ray task in a Serve replica, a
thread elsewhere); the gathering of its figures is reads of the shards and the database, awaited
here. A job is held by one replica at a time (`ReportJobRepository.claim`), which beats a heartbeat
while it builds. A replica that dies mid-build stops beating; once its heartbeat is older than
`ABANDONED_AFTER` another replica takes the job over, on its periodic sweep or when the job is
read, and builds it again from its stored request (the same period and generation time, read from
the twin as it is then). After `MAX_ATTEMPTS` builds begun the job is failed instead: a report that
kills its builder is not retried for ever. A replica stopping in good order lets its jobs go at
once for another to take."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from serve_app.reports.schemas import CsvKind
from serve_app.shared.page import offset, pagination
from twin.area import Area
from twin.errors import Conflict, NotFound

if TYPE_CHECKING:
    from db.report_job_repository import ReportJobRepository
    from serve_app.reports.service import Period, ReportService

log = logging.getLogger(__name__)

# runs fn(*args) away from the event loop and returns its result
Offload = Callable[..., Awaitable[Any]]
HEARTBEAT_S = 5.0
ABANDONED_AFTER = dt.timedelta(seconds=120)  # silent this long while active: its builder stopped
MAX_ATTEMPTS = 3  # builds of one job begun, by any replicas, before it is failed
SWEEP_S = 30.0  # how often a replica looks for abandoned jobs to take over


async def thread_offload(fn: Callable, *args: object) -> object:
    return await asyncio.to_thread(fn, *args)


def job_request(fmt: str, what: str, area: Area, period: Period, generated_at: dt.datetime) -> dict:
    """What a job stores of its request (JSON): enough for any replica to build it."""
    return {"format": fmt, "what": what, "area": {"district": area.district, "block": area.block,
                                                   "school_id": area.school_id},
            "from": period.first.isoformat(), "to": period.last.isoformat(), "period_asked": period.asked,
            "generated_at": generated_at.isoformat()}


class ReportJobs:
    def __init__(self, repo: ReportJobRepository, reports: ReportService, offload: Offload = thread_offload,
                 builder: str | None = None, abandoned_after: dt.timedelta = ABANDONED_AFTER,
                 max_attempts: int = MAX_ATTEMPTS, heartbeat_s: float = HEARTBEAT_S) -> None:
        self._repo = repo
        self._reports = reports
        self.offload = offload  # a Serve replica's services set it to a Ray task
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

    async def submit(self, owner: str, request: dict) -> dict:
        job_id = secrets.token_hex(8)
        job = await self._repo.create(job_id, owner, request)
        await self._take(job_id, request)
        return job

    async def get(self, job_id: str, owner: str) -> dict:
        job = await self._repo.get(job_id)
        if job is None or job["owner"] != owner:  # another's job is as unknown as a missing one
            raise NotFound(f"no report job {job_id}", {"job_id": job_id})
        if job["status"] in ("queued", "running") and await self._recover(job):
            job = await self._repo.get(job_id)  # type: ignore[assignment]
        return job  # type: ignore[return-value]

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
                log.exception("report jobs: a sweep failed")
            await asyncio.sleep(sweep_s)

    def _silent_since(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) - self._abandoned_after

    async def _recover(self, job: dict) -> bool:
        """An abandoned job built again here, or failed once its builds are used up; whether
        anything changed."""
        if job["id"] in self._running:
            return False
        if await self._repo.fail_exhausted(job["id"], self._silent_since(), self._max_attempts):
            log.warning("report job %s failed: its builders stopped %d times", job["id"], self._max_attempts)
            return True
        if await self._take(job["id"], job["request"]):
            log.warning("report job %s taken over from %s (build %d)", job["id"], job["builder"], job["attempts"] + 1)
            return True
        return False

    async def _take(self, job_id: str, request: dict) -> bool:
        if self._closed or not await self._repo.claim(job_id, self.builder, self._silent_since(), self._max_attempts):
            return False  # another replica holds it, or it is settled
        task = asyncio.get_running_loop().create_task(self._build(job_id, request))
        self._running[job_id] = task
        task.add_done_callback(lambda _: self._running.pop(job_id, None))
        return True

    async def page(self, owner: str, page: int, page_size: int) -> dict:
        jobs, total = await self._repo.page(owner, offset(page, page_size), page_size)
        return {"jobs": jobs, "pagination": pagination(page, page_size, total)}

    async def download(self, job_id: str, owner: str) -> tuple[bytes, str, str]:
        job = await self.get(job_id, owner)
        if job["status"] != "done":
            raise Conflict(f"report job {job_id} is {job['status']}, not done", {"job_id": job_id,
                                                                                 "status": job["status"]})
        content = await self._repo.content(job_id)
        return content or b"", job["media_type"], job["filename"]

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
    async def _build(self, job_id: str, request: dict) -> None:
        beating = asyncio.get_running_loop().create_task(self._beat(job_id, asyncio.current_task()))
        try:
            if request["format"] == "pdf":
                content, media_type = await self._pdf(job_id, request), "application/pdf"
            else:
                content, media_type = (await self._csv(job_id, request)).encode(), "text/csv; charset=utf-8"
            await self._repo.finished(job_id, self.builder, content, media_type, _filename(request),
                                      {"stage": "done", "done": 1, "total": 1})
        except asyncio.CancelledError:
            await asyncio.shield(self._repo.release(job_id, self.builder))
            raise
        except Exception as exc:  # noqa: BLE001 - recorded with the job, which is what the caller reads
            await self._repo.failed(job_id, self.builder, f"{type(exc).__name__}: {exc}")
        finally:
            beating.cancel()

    async def _beat(self, job_id: str, build: asyncio.Task | None) -> None:
        """The build's heartbeat; a build that lost its job (taken over while this replica was too
        busy to beat) stops, since its result could no longer be recorded."""
        while True:
            await asyncio.sleep(self._heartbeat_s)
            if not await self._repo.beat(job_id, self.builder):
                log.warning("report job %s is no longer this replica's: its build stops", job_id)
                if build is not None:
                    build.cancel()
                return

    async def _pdf(self, job_id: str, request: dict) -> bytes:
        from serve_app.reports import pdf

        area, period, moment = _decode(request)
        await self._repo.progressed(job_id, self.builder, {"stage": "gathering figures", "done": 0, "total": 2})
        content = await self._reports.pdf_content(area, period, moment)
        await self._repo.progressed(job_id, self.builder, {"stage": "laying out the PDF", "done": 1, "total": 2})
        return await self.offload(pdf.render, content)

    async def _csv(self, job_id: str, request: dict) -> str:
        area, period, _ = _decode(request)
        parts: list[str] = []
        beat = asyncio.get_running_loop().time()
        async for part in self._reports.csv(CsvKind(request["what"]), area, period):
            parts.append(part)
            if asyncio.get_running_loop().time() - beat >= HEARTBEAT_S:
                beat = asyncio.get_running_loop().time()
                await self._repo.progressed(job_id, self.builder,
                                            {"stage": "writing rows", "done": len(parts), "total": None})
        return "".join(parts)


def _decode(request: dict) -> tuple[Area, Period, dt.datetime]:
    from serve_app.reports.service import Period

    a = request["area"]
    period = Period(dt.date.fromisoformat(request["from"]), dt.date.fromisoformat(request["to"]),
                    request.get("period_asked", True))
    return Area(a["district"], a["block"], a["school_id"]), period, dt.datetime.fromisoformat(request["generated_at"])


def _filename(request: dict) -> str:
    a = request["area"]
    place = "-".join(p.replace(" ", "_") for p in (a["district"], a["block"], a["school_id"]) if p) or "state"
    stem = "report" if request["format"] == "pdf" else request["what"]
    return f"{stem}-{place}.{request['format']}"
