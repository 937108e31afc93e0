"""Impact jobs in the database: a recommendation's simulated impact computed in the background,
created queued, updated as the simulation runs (its heartbeat), finished with its result, so that
whichever API replica is asked answers the progress and serves the result."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import writing
from db.tables import impact_jobs
from db.times import iso, utc_now

ACTIVE = ("queued", "running")


def _job(row) -> dict:  # noqa: ANN001
    return {"id": row.id, "recommendation_id": row.recommendation_id, "owner": row.owner,
            "request": json.loads(row.request), "status": row.status, "progress": json.loads(row.progress),
            "result": json.loads(row.result) if row.result else None, "error": row.error,
            "created_at": iso(row.created_at), "started_at": iso(row.started_at),
            "heartbeat_at": iso(row.heartbeat_at), "finished_at": iso(row.finished_at)}


class ImpactJobRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def create(self, job_id: str, rec_id: str, owner: str, request: dict) -> dict:
        async with writing(self._engine) as conn:
            await conn.execute(insert(impact_jobs), {
                "id": job_id, "recommendation_id": rec_id, "owner": owner, "request": json.dumps(request),
                "status": "queued", "progress": json.dumps({"stage": "queued", "elapsed_s": 0.0}),
                "created_at": utc_now()})
        return await self.get(job_id)  # type: ignore[return-value]

    async def get(self, job_id: str) -> dict | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(impact_jobs).where(impact_jobs.c.id == job_id))).first()
        return _job(row) if row else None

    async def _set(self, job_id: str, **values) -> None:  # noqa: ANN003
        async with writing(self._engine) as conn:
            await conn.execute(update(impact_jobs).where(impact_jobs.c.id == job_id,
                                                         impact_jobs.c.status.in_(ACTIVE)).values(**values))

    async def started(self, job_id: str, progress: dict) -> None:
        now = utc_now()
        await self._set(job_id, status="running", started_at=now, heartbeat_at=now, progress=json.dumps(progress))

    async def progressed(self, job_id: str, progress: dict) -> None:
        await self._set(job_id, progress=json.dumps(progress), heartbeat_at=utc_now())

    async def finished(self, job_id: str, result: dict, progress: dict) -> None:
        await self._set(job_id, status="done", result=json.dumps(result), progress=json.dumps(progress),
                        finished_at=utc_now())

    async def failed(self, job_id: str, error: str) -> None:
        await self._set(job_id, status="failed", error=error, finished_at=utc_now())

    async def fail_abandoned(self, job_id: str, silent_for: dt.timedelta) -> None:
        """Mark the job failed if it is still active and gave no sign of life for `silent_for` (the
        replica running it stopped)."""
        last_sign = func.coalesce(impact_jobs.c.heartbeat_at, impact_jobs.c.created_at)
        await self._set_where(job_id, last_sign < utc_now() - silent_for, status="failed",
                              error="interrupted: the replica simulating it stopped; start another",
                              finished_at=utc_now())

    async def _set_where(self, job_id: str, condition, **values) -> None:  # noqa: ANN001, ANN003
        async with writing(self._engine) as conn:
            await conn.execute(update(impact_jobs).where(impact_jobs.c.id == job_id,
                                                         impact_jobs.c.status.in_(ACTIVE), condition).values(**values))
