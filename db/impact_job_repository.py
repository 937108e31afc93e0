"""Impact jobs in the database: a recommendation's (or a whole run's) simulated impact computed in
the background, created queued, updated as the simulation runs (its heartbeat), finished with its
result, so that whichever API replica is asked answers the progress and serves the result. An
active job is held by one replica under a lease (`db.job_leases`): another takes it over once the
holder's heartbeat lapses, a bounded number of times."""

from __future__ import annotations

import json
from typing import ClassVar

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import writing
from db.job_leases import ACTIVE, LeasedJobRepository
from db.tables import impact_jobs
from db.times import iso, utc_now

__all__ = ["ACTIVE", "ImpactJobRepository"]


def _job(row) -> dict:
    return {"id": row.id, "recommendation_id": row.recommendation_id, "run_id": row.run_id, "owner": row.owner,
            "request": json.loads(row.request), "status": row.status, "progress": json.loads(row.progress),
            "result": json.loads(row.result) if row.result else None, "error": row.error,
            "created_at": iso(row.created_at), "started_at": iso(row.started_at),
            "heartbeat_at": iso(row.heartbeat_at), "finished_at": iso(row.finished_at), "builder": row.builder,
            "attempts": row.attempts}


class ImpactJobRepository(LeasedJobRepository):
    started: ClassVar[dict] = {"stage": "started", "elapsed_s": 0.0}
    released: ClassVar[dict] = {"stage": "queued again: the replica simulating it stopped", "elapsed_s": 0.0}
    exhausted = "interrupted: the replicas simulating it stopped {attempts} times; start another"

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine, impact_jobs, _job)

    async def create(self, job_id: str, rec_id: str | None, owner: str, request: dict,
                     run_id: str | None = None) -> dict:
        """A job of one recommendation (`rec_id`) or of a whole run's plan (`run_id`)."""
        if (rec_id is None) == (run_id is None):
            raise ValueError("an impact job is of a recommendation or of a run, not both or neither")
        async with writing(self._engine) as conn:
            await conn.execute(insert(impact_jobs), {
                "id": job_id, "recommendation_id": rec_id, "run_id": run_id, "owner": owner,
                "request": json.dumps(request), "status": "queued",
                "progress": json.dumps({"stage": "queued", "elapsed_s": 0.0}), "created_at": utc_now()})
        return await self.get(job_id)  # type: ignore[return-value]

    async def get(self, job_id: str) -> dict | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(impact_jobs).where(impact_jobs.c.id == job_id))).first()
        return _job(row) if row else None

    async def started_by(self, owner: str, limit: int) -> list[dict]:
        """The jobs `owner` started, newest first."""
        query = (select(impact_jobs).where(impact_jobs.c.owner == owner)
                 .order_by(impact_jobs.c.created_at.desc(), impact_jobs.c.id).limit(limit))
        async with self._engine.connect() as conn:
            return [_job(row) for row in await conn.execute(query)]

    async def finished(self, job_id: str, builder: str, result: dict, progress: dict) -> bool:
        return await self._leases.settle(job_id, builder, "done", result=json.dumps(result),
                                         progress=json.dumps(progress))
