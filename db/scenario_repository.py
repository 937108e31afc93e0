"""What-if scenario runs in the database: created as jobs, updated as they progress, kept with
their results."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import false, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import writing
from db.tables import scenario_runs
from db.times import iso, utc_now as _now
from twin.area import STATE, Area

ACTIVE = ("queued", "running")


def _run(row, with_result: bool = True) -> dict:  # noqa: ANN001
    out = {"id": row.id, "name": row.name, "status": row.status, "districts": json.loads(row.districts),
           "spec": json.loads(row.spec), "progress": json.loads(row.progress), "error": row.error,
           "cancel_requested": row.cancel_requested, "created_at": iso(row.created_at),
           "started_at": iso(row.started_at), "heartbeat_at": iso(row.heartbeat_at),
           "finished_at": iso(row.finished_at), "owner": row.owner,
           "area": {"district": row.area_district, "block": row.area_block}}
    if with_result:
        out["result"] = json.loads(row.result) if row.result else None
    return out


class ScenarioRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def create(self, run_id: str, name: str, spec: dict, districts: list[str], owner: str | None = None,
                     area: Area = STATE) -> dict:
        async with writing(self._engine) as conn:
            await conn.execute(insert(scenario_runs), {
                "id": run_id, "name": name, "status": "queued", "districts": json.dumps(districts),
                "owner": owner, "area_district": area.district, "area_block": area.block,
                "spec": json.dumps(spec), "progress": json.dumps({"done": 0, "planned": 0, "rounds": 0}),
                "cancel_requested": False, "created_at": _now()})
        return await self.get(run_id)

    async def get(self, run_id: str, with_result: bool = True) -> dict | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(scenario_runs).where(scenario_runs.c.id == run_id))).first()
        return _run(row, with_result) if row else None

    async def page(self, status: str | None, offset: int, limit: int, area: Area = STATE) -> tuple[list[dict], int]:
        """Runs whose whole area lies inside `area`."""
        clauses = [scenario_runs.c.status == status] if status else []
        if area.district is not None:
            clauses.append(scenario_runs.c.area_district == area.district)
        if area.block is not None:
            clauses.append(scenario_runs.c.area_block == area.block)
        if area.school_id is not None:  # a run covers a block at least: more than one school's area
            clauses.append(false())
        query = select(scenario_runs).where(*clauses).order_by(scenario_runs.c.created_at.desc())
        async with self._engine.connect() as conn:
            total = (await conn.execute(select(func.count()).select_from(scenario_runs).where(*clauses))).scalar_one()
            rows = (await conn.execute(query.offset(offset).limit(limit))).all()
        return [_run(r, with_result=False) for r in rows], int(total)

    async def _set(self, run_id: str, **values) -> None:  # noqa: ANN003
        async with writing(self._engine) as conn:
            await conn.execute(update(scenario_runs).where(scenario_runs.c.id == run_id).values(**values))

    async def started(self, run_id: str) -> None:
        await self._set(run_id, status="running", started_at=_now(), heartbeat_at=_now())

    async def progressed(self, run_id: str, progress: dict) -> None:
        await self._set(run_id, progress=json.dumps(progress), heartbeat_at=_now())

    async def finished(self, run_id: str, status: str, result: str | None = None, error: str | None = None) -> None:
        await self._set(run_id, status=status, result=result, error=error, finished_at=_now())

    async def request_cancel(self, run_id: str) -> None:
        await self._set(run_id, cancel_requested=True)

    async def cancel_requested(self, run_id: str) -> bool:
        async with self._engine.connect() as conn:
            query = select(scenario_runs.c.cancel_requested).where(scenario_runs.c.id == run_id)
            return bool((await conn.execute(query)).scalar())

    async def beat(self, run_id: str) -> None:
        """The run's runner is alive."""
        await self._set(run_id, heartbeat_at=_now())

    @staticmethod
    def abandoned(run: dict, silent_for: dt.timedelta) -> bool:
        """`fail_abandoned`'s rule for a run already read: active, and silent for `silent_for`
        (asked first, so a run polled every second does not take the write lock each time)."""
        last_sign = dt.datetime.fromisoformat(run["heartbeat_at"] or run["created_at"])
        return run["status"] in ACTIVE and last_sign < _now() - silent_for

    async def fail_abandoned(self, silent_for: dt.timedelta, run_id: str | None = None) -> int:
        """Mark as failed the runs (or the one run) still active whose runner gave no sign of life
        for `silent_for` (its process stopped); returns how many."""
        since = _now() - silent_for
        last_sign = func.coalesce(scenario_runs.c.heartbeat_at, scenario_runs.c.created_at)
        which = [scenario_runs.c.id == run_id] if run_id is not None else []
        async with writing(self._engine) as conn:
            result = await conn.execute(update(scenario_runs).where(
                scenario_runs.c.status.in_(ACTIVE), last_sign < since, *which).values(
                status="failed", error="interrupted: the process running it stopped", finished_at=_now()))
        return int(result.rowcount or 0)
