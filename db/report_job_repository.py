"""Report jobs in the database: created queued, updated as they progress, finished with their file
(so that whichever API replica is asked serves the progress and the download)."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import func, insert, select, update
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
            "finished_at": iso(row.finished_at)}


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

    async def _set(self, job_id: str, **values) -> None:  # noqa: ANN003
        async with writing(self._engine) as conn:
            await conn.execute(update(report_jobs).where(report_jobs.c.id == job_id).values(**values))

    async def started(self, job_id: str) -> None:
        await self._set(job_id, status="running", started_at=utc_now(), heartbeat_at=utc_now())

    async def progressed(self, job_id: str, progress: dict) -> None:
        await self._set(job_id, progress=json.dumps(progress), heartbeat_at=utc_now())

    async def finished(self, job_id: str, content: bytes, media_type: str, filename: str, progress: dict) -> None:
        await self._set(job_id, status="done", content=content, size_bytes=len(content), media_type=media_type,
                        filename=filename, progress=json.dumps(progress), finished_at=utc_now())

    async def failed(self, job_id: str, error: str) -> None:
        await self._set(job_id, status="failed", error=error, finished_at=utc_now())

    async def fail_abandoned(self, silent_for: dt.timedelta, job_id: str) -> None:
        """Mark the job failed if it is still active and its builder gave no sign of life for
        `silent_for` (the replica building it stopped)."""
        last_sign = func.coalesce(report_jobs.c.heartbeat_at, report_jobs.c.created_at)
        async with writing(self._engine) as conn:
            await conn.execute(update(report_jobs).where(
                report_jobs.c.id == job_id, report_jobs.c.status.in_(ACTIVE), last_sign < utc_now() - silent_for)
                .values(status="failed", error="interrupted: the replica building it stopped; ask again",
                        finished_at=utc_now()))
