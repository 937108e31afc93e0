"""Report jobs in the database: created queued, updated as they progress, finished with their file
(so that whichever API replica is asked serves the progress and the download). An active job is
held by one replica, its builder, under a lease (`db.job_leases`): taken by one compare-and-set,
kept by a heartbeat, taken over once the heartbeat lapses, a bounded number of times."""

from __future__ import annotations

import json
from typing import ClassVar

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import writing
from db.job_leases import LeasedJobRepository
from db.tables import report_jobs
from db.times import iso, utc_now

_LISTED = [c for c in report_jobs.c if c.name != "content"]


def _job(row) -> dict:
    return {"id": row.id, "owner": row.owner, "request": json.loads(row.request), "status": row.status,
            "progress": json.loads(row.progress), "error": row.error, "media_type": row.media_type,
            "filename": row.filename, "size_bytes": row.size_bytes, "created_at": iso(row.created_at),
            "started_at": iso(row.started_at), "heartbeat_at": iso(row.heartbeat_at),
            "finished_at": iso(row.finished_at), "builder": row.builder, "attempts": row.attempts}


class ReportJobRepository(LeasedJobRepository):
    started: ClassVar[dict] = {"stage": "started", "done": 0, "total": None}
    released: ClassVar[dict] = {"stage": "queued again: the replica building it stopped", "done": 0, "total": None}
    exhausted = "interrupted: the replicas building it stopped {attempts} times; ask again"

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine, report_jobs, _job, _LISTED)

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

    async def finished(self, job_id: str, builder: str, content: bytes, media_type: str, filename: str,
                       progress: dict) -> bool:
        return await self._leases.settle(job_id, builder, "done", content=content, size_bytes=len(content),
                                         media_type=media_type, filename=filename, progress=json.dumps(progress))
