"""Scheduled reports and their deliveries in the database. A delivery row is the claim on one
schedule's period: the first replica to insert it (the unique key on schedule and period) or to
take over its lapsed lease (one compare-and-set UPDATE) sends the report; every other finds it
taken. The row then records the outcome: sent, retrying (with the time of the next try as its
lease) or failed."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import writing
from db.tables import report_deliveries, report_schedules
from db.times import iso, utc_now

PENDING = ("claimed", "retrying")


def _schedule(row) -> dict:  # noqa: ANN001
    return {"id": row.id, "owner": row.owner, "name": row.name, "report": json.loads(row.report),
            "area": {"district": row.area_district, "block": row.area_block, "school_id": row.area_school},
            "frequency": row.frequency, "at_time": row.at_time, "weekday": row.weekday,
            "day_of_month": row.day_of_month, "recipients": json.loads(row.recipients), "paused": row.paused,
            "paused_reason": row.paused_reason,
            "created_at": iso(row.created_at), "updated_at": iso(row.updated_at)}


def _delivery(row) -> dict:  # noqa: ANN001
    return {"id": row.id, "schedule_id": row.schedule_id, "period": row.period_key, "status": row.status,
            "attempts": row.attempts, "last_error": row.last_error,
            "recipients": json.loads(row.recipients) if row.recipients else None, "size_bytes": row.size_bytes,
            "created_at": iso(row.created_at), "sent_at": iso(row.sent_at), "next_try_at":
                iso(row.lease_until) if row.status == "retrying" else None}


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)  # SQLite hands back naive UTC


class ReportScheduleRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    # -- schedules ------------------------------------------------------------------------------
    async def create(self, owner: str, values: dict) -> dict:
        now = utc_now()
        row = {"owner": owner, "name": values["name"], "report": json.dumps(values["report"], sort_keys=True),
               "area_district": values["area"]["district"], "area_block": values["area"]["block"],
               "area_school": values["area"]["school_id"], "frequency": values["frequency"],
               "at_time": values["at_time"], "weekday": values.get("weekday"),
               "day_of_month": values.get("day_of_month"), "recipients": json.dumps(values["recipients"]),
               "paused": False, "created_at": now, "updated_at": now}
        async with writing(self._engine) as conn:
            new_id = (await conn.execute(insert(report_schedules).returning(report_schedules.c.id), row)).scalar_one()
        return await self.get(int(new_id))  # type: ignore[return-value]

    async def get(self, schedule_id: int) -> dict | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(report_schedules).where(report_schedules.c.id == schedule_id))).first()
        return _schedule(row) if row else None

    async def page(self, owner: str, offset: int, limit: int) -> tuple[list[dict], int]:
        where = report_schedules.c.owner == owner
        async with self._engine.connect() as conn:
            total = (await conn.execute(select(func.count()).select_from(report_schedules).where(where))).scalar_one()
            rows = (await conn.execute(select(report_schedules).where(where).order_by(report_schedules.c.id)
                                       .offset(offset).limit(limit))).all()
        return [_schedule(r) for r in rows], int(total)

    async def active(self) -> list[dict]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(report_schedules).where(report_schedules.c.paused.is_(False))
                                       .order_by(report_schedules.c.id))).all()
        return [_schedule(r) for r in rows]

    async def set_paused(self, schedule_id: int, paused: bool) -> None:
        """Paused or resumed by its owner: any earlier reason for a pause goes."""
        async with writing(self._engine) as conn:
            await conn.execute(update(report_schedules).where(report_schedules.c.id == schedule_id)
                               .values(paused=paused, paused_reason=None, updated_at=utc_now()))

    async def pause_for(self, schedule_id: int, reason: str) -> None:
        """Paused by the twin, with the reason its owner reads in the listing."""
        async with writing(self._engine) as conn:
            await conn.execute(update(report_schedules).where(report_schedules.c.id == schedule_id)
                               .values(paused=True, paused_reason=reason[:500], updated_at=utc_now()))

    async def delete(self, schedule_id: int) -> None:
        """The schedule goes; its deliveries stay as the record of what was sent."""
        async with writing(self._engine) as conn:
            await conn.execute(delete(report_schedules).where(report_schedules.c.id == schedule_id))

    # -- deliveries: the claim, and what became of it -------------------------------------------
    async def claim(self, schedule_id: int, period_key: str, claimer: str, lease: dt.timedelta,
                    now: dt.datetime) -> dict | None:
        """The delivery of `schedule_id` for `period_key`, if `claimer` holds it now: it made the
        row first, or took over one whose lease (or retry wait) has lapsed. None if another holds it
        or it is settled (sent or failed)."""
        try:
            async with writing(self._engine) as conn:
                await conn.execute(insert(report_deliveries), {
                    "schedule_id": schedule_id, "period_key": period_key, "status": "claimed", "claimed_by": claimer,
                    "lease_until": now + lease, "attempts": 0, "created_at": now})
        except IntegrityError:  # the period is another's, or was: take it over only if its lease lapsed
            where = (report_deliveries.c.schedule_id == schedule_id, report_deliveries.c.period_key == period_key,
                     report_deliveries.c.status.in_(PENDING), report_deliveries.c.lease_until < now)
            async with writing(self._engine) as conn:
                taken = await conn.execute(update(report_deliveries).where(*where).values(
                    status="claimed", claimed_by=claimer, lease_until=now + lease))
            if taken.rowcount != 1:
                return None
        return await self._delivery_of(schedule_id, period_key)

    async def sent(self, delivery_id: int, claimer: str, recipients: list[str], size_bytes: int,
                   now: dt.datetime) -> None:
        async with writing(self._engine) as conn:
            await conn.execute(update(report_deliveries).where(
                report_deliveries.c.id == delivery_id, report_deliveries.c.claimed_by == claimer).values(
                status="sent", attempts=report_deliveries.c.attempts + 1, sent_at=now, last_error=None,
                recipients=json.dumps(recipients), size_bytes=size_bytes))

    async def attempt_failed(self, delivery_id: int, claimer: str, error: str, retry_at: dt.datetime | None) -> None:
        """A failed try: retried once `retry_at` has passed (any replica may take it then), or failed
        for good when `retry_at` is None."""
        values = {"status": "retrying", "lease_until": retry_at} if retry_at else {"status": "failed"}
        async with writing(self._engine) as conn:
            await conn.execute(update(report_deliveries).where(
                report_deliveries.c.id == delivery_id, report_deliveries.c.claimed_by == claimer).values(
                attempts=report_deliveries.c.attempts + 1, last_error=error[:2000], **values))

    async def deliveries(self, schedule_id: int, offset: int, limit: int) -> tuple[list[dict], int]:
        where = report_deliveries.c.schedule_id == schedule_id
        async with self._engine.connect() as conn:
            total = (await conn.execute(select(func.count()).select_from(report_deliveries).where(where))).scalar_one()
            rows = (await conn.execute(select(report_deliveries).where(where)
                                       .order_by(report_deliveries.c.period_key.desc()).offset(offset).limit(limit))).all()
        return [_delivery(r) for r in rows], int(total)

    async def _delivery_of(self, schedule_id: int, period_key: str) -> dict | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(report_deliveries).where(
                report_deliveries.c.schedule_id == schedule_id, report_deliveries.c.period_key == period_key))).first()
        return _delivery(row) if row else None
