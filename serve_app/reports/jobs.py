"""Long reports as background jobs: a request is stored as a job (the database is the one truth
every API replica shares), built by a task of the replica that holds it, with its progress written
as it goes, and its file stored with the job when done, for any replica to serve.

The layout of a PDF, the CPU-heavy part, runs through `offload` (a Ray task in a Serve replica, a
thread elsewhere); the gathering of its figures is reads of the shards and the database, awaited
here. A job is held by one replica at a time, which beats a heartbeat while it builds, and is taken
over by another once that replica goes silent, a bounded number of times
(`serve_app.shared.leased_jobs`): built again from its stored request (the same period and
generation time, read from the twin as it is then)."""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from serve_app.reports.schemas import CsvKind
from serve_app.shared.leased_jobs import (
    ABANDONED_AFTER,
    HEARTBEAT_S,
    MAX_ATTEMPTS,
    LeasedJobs,
)
from serve_app.shared.page import offset, pagination
from twin.area import Area
from twin.errors import Conflict, NotFound

if TYPE_CHECKING:
    from db.report_job_repository import ReportJobRepository
    from serve_app.reports.service import Period, ReportService

# runs fn(*args) away from the event loop and returns its result
Offload = Callable[..., Awaitable[Any]]


async def thread_offload(fn: Callable, *args: object) -> object:
    return await asyncio.to_thread(fn, *args)


def job_request(fmt: str, what: str, area: Area, period: Period, generated_at: dt.datetime) -> dict:
    """What a job stores of its request (JSON): enough for any replica to build it."""
    return {"format": fmt, "what": what, "area": {"district": area.district, "block": area.block,
                                                   "school_id": area.school_id},
            "from": period.first.isoformat(), "to": period.last.isoformat(), "period_asked": period.asked,
            "generated_at": generated_at.isoformat()}


class ReportJobs(LeasedJobs):
    what = "report job"

    def __init__(self, repo: ReportJobRepository, reports: ReportService, offload: Offload = thread_offload,
                 builder: str | None = None, abandoned_after: dt.timedelta = ABANDONED_AFTER,
                 max_attempts: int = MAX_ATTEMPTS, heartbeat_s: float = HEARTBEAT_S) -> None:
        super().__init__(repo, builder, abandoned_after, max_attempts, heartbeat_s)
        self._reports = reports
        self.offload = offload  # a Serve replica's services set it to a Ray task

    async def submit(self, owner: str, request: dict) -> dict:
        job_id = secrets.token_hex(8)
        job = await self._repo.create(job_id, owner, request)
        await self._take(job_id, request)
        return job

    async def get(self, job_id: str, owner: str) -> dict:
        job = await self._repo.get(job_id)
        if job is None or job["owner"] != owner:  # another's job is as unknown as a missing one
            raise NotFound(f"no report job {job_id}", {"job_id": job_id})
        if await self._recover_if_abandoned(job):
            job = await self._repo.get(job_id)
        return job  # type: ignore[return-value]

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

    # -- building ---------------------------------------------------------------------------------
    async def _build(self, job_id: str, request: dict) -> None:
        if request["format"] == "pdf":
            content, media_type = await self._pdf(job_id, request), "application/pdf"
        else:
            content, media_type = (await self._csv(job_id, request)).encode(), "text/csv; charset=utf-8"
        await self._repo.finished(job_id, self.builder, content, media_type, _filename(request),
                                  {"stage": "done", "done": 1, "total": 1})

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
