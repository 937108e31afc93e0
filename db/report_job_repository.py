"""Report jobs in the database: created queued, updated as they progress, finished with their file
(so that whichever API replica is asked serves the progress and the download). An active job is
held by one replica, its builder, under a lease (`db.job_leases`): taken by one compare-and-set,
kept by a heartbeat, taken over once the heartbeat lapses, a bounded number of times."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import writing
from db.job_leases import JobLeases
from db.tables import report_jobs
from db.times import iso, utc_now

_LISTED = [c for c in report_jobs.c if c.name != "content"]


def _job(row) -> dict:  # noqa: ANN001
    return {"id": row.id, "owner": row.owner, "request": json.loads(row.request), "status": row.status,
            "progress": json.loads(row.progress), "error": row.error, "media_type": row.media_type,
            "filename": row.filename, "size_bytes": row.size_bytes, "created_at": iso(row.created_at),
            "started_at": iso(row.started_at), "heartbeat_at": iso(row.heartbeat_at),
            "finished_at": iso(row.finished_at), "builder": row.builder, "attempts": row.attempts}


class ReportJobRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._leases = JobLeases(engine, report_jobs, _LISTED)

    async def create(self, job_id: str, owner: str, request: dict) -> dict:
        async with writing(self._engine) as conn:
            await conn.execute(insert(report_jobs), {
                "id": job_id, "owner": owner, "request": json.dumps(request, sort_keys=True), "status": "queued",
                "progress": json.dumps({"stage": "queued", "done": 0, "total": None}), "created_at": utc_now()})
        return await self.get(job_id)  # type: ignore[return-value]

    async def get(self, job_id: str) -> dict | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(*_LISTED).where(report_jobs.c.id == job_id))).first()
        return _job(row) if row else None

    async def content(self, job_id: str) -> bytes | None:
        async with self._engine.connect() as conn:
            return (await conn.execute(select(report_jobs.c.content).where(report_jobs.c.id == job_id))).scalar()

    async def page(self, owner: str, offset: int, limit: int) -> tuple[list[dict], int]:
        where = report_jobs.c.owner == owner
        async with self._engine.connect() as conn:
            total = (await conn.execute(select(func.count()).select_from(report_jobs).where(where))).scalar_one()
            rows = (await conn.execute(select(*_LISTED).where(where).order_by(report_jobs.c.created_at.desc(),
                                                                                report_jobs.c.id)
                                       .offset(offset).limit(limit))).all()
        return [_job(r) for r in rows], int(total)

    async def claim(self, job_id: str, builder: str, silent_since: dt.datetime, max_attempts: int) -> bool:
        """Take the job to build it (see `JobLeases.claim`): whether `builder` holds it now."""
        return await self._leases.claim(job_id, builder, silent_since, max_attempts,
                                        {"stage": "started", "done": 0, "total": None})

    async def abandoned(self, silent_since: dt.datetime, limit: int = 20) -> list[dict]:
        """Active jobs whose builder has been silent since before `silent_since`, or that no
        builder holds (its replica let it go as it stopped), oldest first."""
        return [_job(r) for r in await self._leases.abandoned(silent_since, limit)]

    async def beat(self, job_id: str, builder: str) -> bool:
        """The builder's sign of life; False once it no longer holds the job."""
        return await self._leases.beat(job_id, builder)

    async def progressed(self, job_id: str, builder: str, progress: dict) -> bool:
        return await self._leases.beat(job_id, builder, progress)

    async def finished(self, job_id: str, builder: str, content: bytes, media_type: str, filename: str,
                       progress: dict) -> bool:
        return await self._leases.settle(job_id, builder, "done", content=content, size_bytes=len(content),
                                         media_type=media_type, filename=filename, progress=json.dumps(progress))

    async def failed(self, job_id: str, builder: str, error: str) -> bool:
        return await self._leases.settle(job_id, builder, "failed", error=error)

    async def release(self, job_id: str, builder: str) -> bool:
        """The builder lets the job go unfinished (its replica is stopping): queued again for any
        replica to take at once."""
        return await self._leases.release(job_id, builder, {"stage": "queued again: the replica building it stopped",
                                                            "done": 0, "total": None})

    async def fail_exhausted(self, job_id: str, silent_since: dt.datetime, max_attempts: int) -> bool:
        """Fail the job if it is abandoned (as `abandoned` says) after `max_attempts` builds began."""
        return await self._leases.fail_exhausted(
            job_id, silent_since, max_attempts,
            f"interrupted: the replicas building it stopped {max_attempts} times; ask again")
