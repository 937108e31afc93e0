"""The lease of a background job kept in the database (report jobs, impact jobs): an active job is
held by one replica, its builder, for as long as the builder's heartbeat is fresh. Taking a job is
one compare-and-set UPDATE, so two replicas never both hold it; every later write of the builder's
is conditional on still holding it, so a builder that lost its job (judged dead while it was only
slow) writes nothing. The number of builds begun is bounded, so a job that kills its builder is
not retried for ever.

A jobs table leased here has the columns `id`, `status`, `progress` (JSON), `error`, `created_at`,
`started_at`, `heartbeat_at`, `finished_at`, `builder` and `attempts`."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import ClassVar

from sqlalchemy import Column, Row, Table, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import writing
from db.times import utc_now

ACTIVE = ("queued", "running")


class JobLeases:
    def __init__(self, engine: AsyncEngine, table: Table, listed: Sequence[Column] | None = None) -> None:
        self._engine = engine
        self._table = table
        self._listed = list(listed) if listed is not None else list(table.c)  # what `abandoned` reads of a job

    def _last_sign(self):
        return func.coalesce(self._table.c.heartbeat_at, self._table.c.created_at)

    def _abandoned(self, silent_since: dt.datetime):
        """Active, and held by no one (its replica let it go as it stopped) or by a builder silent
        since before `silent_since`."""
        t = self._table
        return t.c.status.in_(ACTIVE), or_(t.c.builder.is_(None), self._last_sign() < silent_since)

    async def set(self, job_id: str, holder: str, **values) -> bool:
        """Update the job if `holder` still builds it; whether it did."""
        t = self._table
        async with writing(self._engine) as conn:
            done = await conn.execute(update(t).where(t.c.id == job_id, t.c.builder == holder,
                                                      t.c.status.in_(ACTIVE)).values(**values))
        return done.rowcount == 1

    async def claim(self, job_id: str, builder: str, silent_since: dt.datetime, max_attempts: int,
                    progress: dict) -> bool:
        """Take the job to build it: it is abandoned (or new), and fewer than `max_attempts` builds
        of it have begun. Whether `builder` holds it now (one statement: of replicas claiming at
        once, one wins)."""
        t, now = self._table, utc_now()
        async with writing(self._engine) as conn:
            taken = await conn.execute(update(t).where(t.c.id == job_id, t.c.attempts < max_attempts,
                                                       *self._abandoned(silent_since))
                                       .values(status="running", builder=builder, attempts=t.c.attempts + 1,
                                               started_at=now, heartbeat_at=now, progress=json.dumps(progress)))
        return taken.rowcount == 1

    async def abandoned(self, silent_since: dt.datetime, limit: int = 20) -> list[Row]:
        """The abandoned jobs' rows, oldest first."""
        async with self._engine.connect() as conn:
            return list((await conn.execute(select(*self._listed).where(*self._abandoned(silent_since))
                                            .order_by(self._table.c.created_at).limit(limit))).all())

    async def beat(self, job_id: str, builder: str, progress: dict | None = None) -> bool:
        """The builder's sign of life (with its progress, if it says one); False once it no longer
        holds the job."""
        values = {"heartbeat_at": utc_now()} | ({"progress": json.dumps(progress)} if progress is not None else {})
        return await self.set(job_id, builder, **values)

    async def settle(self, job_id: str, builder: str, status: str, **values) -> bool:
        """The builder ends the job (`done` or `failed`) and lets it go."""
        return await self.set(job_id, builder, status=status, finished_at=utc_now(), builder=None, **values)

    async def release(self, job_id: str, builder: str, progress: dict) -> bool:
        """The builder lets the job go unfinished (its replica is stopping): queued again for any
        replica to take at once."""
        return await self.set(job_id, builder, status="queued", builder=None, progress=json.dumps(progress))

    async def fail_exhausted(self, job_id: str, silent_since: dt.datetime, max_attempts: int, error: str) -> bool:
        """Fail the job if it is abandoned after `max_attempts` builds began."""
        t = self._table
        async with writing(self._engine) as conn:
            done = await conn.execute(update(t).where(t.c.id == job_id, t.c.attempts >= max_attempts,
                                                      *self._abandoned(silent_since))
                                      .values(status="failed", builder=None, finished_at=utc_now(), error=error))
        return done.rowcount == 1


class LeasedJobRepository:
    """The lease half of a jobs repository (what `serve_app.shared.leased_jobs` asks of one), over
    `JobLeases`: a subclass names its progress when a build begins (`started`) and when a stopping
    replica lets a job go (`released`), the error of a job whose builds ran out (`exhausted`, with
    `{attempts}`), and adds its own creation, reads and `finished`."""

    started: ClassVar[dict]
    released: ClassVar[dict]
    exhausted: ClassVar[str]

    def __init__(self, engine: AsyncEngine, table: Table, to_job: Callable[[Row], dict],
                 listed: Sequence[Column] | None = None) -> None:
        self._engine = engine
        self._leases = JobLeases(engine, table, listed)
        self._to_job = to_job

    async def claim(self, job_id: str, builder: str, silent_since: dt.datetime, max_attempts: int) -> bool:
        """Take the job to build it (see `JobLeases.claim`): whether `builder` holds it now."""
        return await self._leases.claim(job_id, builder, silent_since, max_attempts, self.started)

    async def abandoned(self, silent_since: dt.datetime, limit: int = 20) -> list[dict]:
        """Active jobs whose builder has been silent since before `silent_since`, or that no
        builder holds (its replica let it go as it stopped), oldest first."""
        return [self._to_job(r) for r in await self._leases.abandoned(silent_since, limit)]

    async def beat(self, job_id: str, builder: str) -> bool:
        """The builder's sign of life; False once it no longer holds the job."""
        return await self._leases.beat(job_id, builder)

    async def progressed(self, job_id: str, builder: str, progress: dict) -> bool:
        """Its progress, which is also its heartbeat; False once `builder` no longer holds it."""
        return await self._leases.beat(job_id, builder, progress)

    async def failed(self, job_id: str, builder: str, error: str) -> bool:
        return await self._leases.settle(job_id, builder, "failed", error=error)

    async def release(self, job_id: str, builder: str) -> bool:
        """The builder lets the job go unfinished (its replica is stopping): queued again for any
        replica to take at once."""
        return await self._leases.release(job_id, builder, self.released)

    async def fail_exhausted(self, job_id: str, silent_since: dt.datetime, max_attempts: int) -> bool:
        """Fail the job if it is abandoned after `max_attempts` builds began."""
        return await self._leases.fail_exhausted(job_id, silent_since, max_attempts,
                                                 self.exhausted.format(attempts=max_attempts))
