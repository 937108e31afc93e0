"""Report jobs in the database: created queued, updated as they progress, finished with their file
(so that whichever API replica is asked serves the progress and the download). An active job is
held by one replica, its builder, for as long as the builder's heartbeat is fresh: taking a job is
one compare-and-set UPDATE, so two replicas never both hold it, and every later write of the
builder's is conditional on still holding it."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import writing
from db.tables import report_jobs
from db.times import iso, utc_now

ACTIVE = ("queued", "running")
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

    async def _set(self, job_id: str, holder: str, **values) -> bool:
        """Update the job if `holder` still builds it; whether it did."""
        async with writing(self._engine) as conn:
            done = await conn.execute(update(report_jobs).where(
                report_jobs.c.id == job_id, report_jobs.c.builder == holder, report_jobs.c.status.in_(ACTIVE))
                .values(**values))
        return done.rowcount == 1

    async def claim(self, job_id: str, builder: str, silent_since: dt.datetime, max_attempts: int) -> bool:
        """Take the job to build it: it is still active, held by no one or by a builder silent since
        before `silent_since`, and fewer than `max_attempts` builds of it have begun. Whether
        `builder` holds it now (one statement: of replicas claiming at once, one wins)."""
        now = utc_now()
        async with writing(self._engine) as conn:
            taken = await conn.execute(update(report_jobs).where(
                report_jobs.c.id == job_id, report_jobs.c.status.in_(ACTIVE),
                report_jobs.c.attempts < max_attempts,
                or_(report_jobs.c.builder.is_(None), _last_sign() < silent_since))
                .values(status="running", builder=builder, attempts=report_jobs.c.attempts + 1,
                        started_at=now, heartbeat_at=now,
                        progress=json.dumps({"stage": "started", "done": 0, "total": None})))
        return taken.rowcount == 1

    async def abandoned(self, silent_since: dt.datetime, limit: int = 20) -> list[dict]:
        """Active jobs whose builder has been silent since before `silent_since`, or that no
        builder holds (its replica let it go as it stopped), oldest first."""
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(*_LISTED).where(
                report_jobs.c.status.in_(ACTIVE), or_(report_jobs.c.builder.is_(None), _last_sign() < silent_since))
                .order_by(report_jobs.c.created_at).limit(limit))).all()
        return [_job(r) for r in rows]

    async def beat(self, job_id: str, builder: str) -> bool:
        """The builder's sign of life; False once it no longer holds the job."""
        return await self._set(job_id, builder, heartbeat_at=utc_now())

    async def progressed(self, job_id: str, builder: str, progress: dict) -> bool:
        return await self._set(job_id, builder, progress=json.dumps(progress), heartbeat_at=utc_now())

    async def finished(self, job_id: str, builder: str, content: bytes, media_type: str, filename: str,
                       progress: dict) -> bool:
        return await self._set(job_id, builder, status="done", content=content, size_bytes=len(content),
                               media_type=media_type, filename=filename, progress=json.dumps(progress),
                               finished_at=utc_now(), builder=None)

    async def failed(self, job_id: str, builder: str, error: str) -> bool:
        return await self._set(job_id, builder, status="failed", error=error, finished_at=utc_now(), builder=None)

    async def release(self, job_id: str, builder: str) -> bool:
        """The builder lets the job go unfinished (its replica is stopping): queued again for any
        replica to take at once."""
        return await self._set(job_id, builder, status="queued", builder=None,
                               progress=json.dumps({"stage": "queued again: the replica building it stopped",
                                                    "done": 0, "total": None}))

    async def fail_exhausted(self, job_id: str, silent_since: dt.datetime, max_attempts: int) -> bool:
        """Fail the job if it is abandoned (as `abandoned` says) after `max_attempts` builds began."""
        async with writing(self._engine) as conn:
            done = await conn.execute(update(report_jobs).where(
                report_jobs.c.id == job_id, report_jobs.c.status.in_(ACTIVE),
                report_jobs.c.attempts >= max_attempts,
                or_(report_jobs.c.builder.is_(None), _last_sign() < silent_since))
                .values(status="failed", builder=None, finished_at=utc_now(),
                        error=f"interrupted: the replicas building it stopped {max_attempts} times; ask again"))
        return done.rowcount == 1


def _last_sign():
    return func.coalesce(report_jobs.c.heartbeat_at, report_jobs.c.created_at)
