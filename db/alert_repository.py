"""Alerts, their subscriptions and delivery attempts in the database.

The state actor writes alert changes here (`apply`); the API reads, marks read and subscribes.
Alerts cannot be edited through the API beyond marking them read: the rules own them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from db import alert_versions
from db.areas import area_clauses
from db.engine import writing
from db.tables import alert_deliveries, alert_subscriptions, alerts
from db.times import iso, utc_now as _now
from twin.area import STATE, Area


@dataclass(frozen=True)
class AlertScope:
    """Which alerts a reader may see and wants: None means any."""

    district: str | None = None
    block: str | None = None
    school_id: str | None = None
    severity: str | None = None
    category: str | None = None
    is_read: bool | None = None
    is_resolved: bool | None = None
    area: Area = STATE  # the reader's: alerts outside it are never returned

    def clauses(self) -> list:
        fields = {"district": alerts.c.district, "block": alerts.c.block, "school_id": alerts.c.school_id,
                  "severity": alerts.c.severity, "category": alerts.c.category, "is_read": alerts.c.is_read,
                  "is_resolved": alerts.c.is_resolved}
        wanted = [column == getattr(self, name) for name, column in fields.items() if getattr(self, name) is not None]
        return wanted + area_clauses(alerts, self.area)


def _plain(row) -> dict:  # noqa: ANN001
    """A row as a dict with plain str keys (SQLAlchemy's are a str subclass JSON encoders refuse)."""
    return {str(k): v for k, v in row._mapping.items()}


def _public(row) -> dict:  # noqa: ANN001
    out = _plain(row)
    out["details"] = json.loads(out["details"])
    for key in ("created_at", "updated_at", "resolved_at"):
        out[key] = iso(out[key])
    return out


class AlertRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    # -- written by the rules ---------------------------------------------------------------------
    async def open_alerts(self) -> list[tuple[str, str, str]]:
        """(subject, alert_type, severity) of every open alert: what the alert book starts from."""
        query = select(alerts.c.subject, alerts.c.alert_type, alerts.c.severity).where(_OPEN)
        async with self._engine.connect() as conn:
            return [tuple(r) for r in (await conn.execute(query)).all()]

    async def apply(self, opened: Sequence[dict], escalated: Sequence[dict], resolved: Sequence[tuple[str, str]]) -> list[dict]:
        """Write one round of changes. `opened` and `escalated` are alert rows (subject, alert_type,
        severity, title, message, details, ...); `resolved` (subject, alert_type) pairs. Returns the
        opened and escalated alerts as stored (with ids), for delivery.

        Written in transactions of `CHUNK` rows, so that a burst of thousands of changes does not
        hold the database (SQLite has one writer: the event log waits meanwhile). After a failure
        part of the round may be stored: the caller reloads its open alerts from here."""
        now = _now()
        stored: list[dict] = []
        for part in _chunks(opened):
            rows = [{**row, "details": json.dumps(row["details"]), "is_read": False, "is_resolved": False,
                     "created_at": now, "updated_at": now} for row in part]
            async with writing(self._engine) as conn:
                await conn.execute(insert(alerts), rows)
                await alert_versions.bump(conn)
                stored += await self._read_open(conn, part)
        for part in _chunks(escalated):
            rows = [{"s": r["subject"], "c": r["alert_type"], "severity": r["severity"], "title": r["title"],
                     "message": r["message"], "details": json.dumps(r["details"]), "is_read": False,
                     "updated_at": now} for r in part]
            async with writing(self._engine) as conn:
                await conn.execute(update(alerts).where(_open_by_key()), rows)
                await alert_versions.bump(conn)
                stored += await self._read_open(conn, part)
        for part in _chunks(resolved):
            rows = [{"s": subject, "c": cause, "is_resolved": True, "resolved_at": now, "updated_at": now}
                    for subject, cause in part]
            async with writing(self._engine) as conn:
                await conn.execute(update(alerts).where(_open_by_key()), rows)
                await alert_versions.bump(conn)
        return stored

    @staticmethod
    async def _read_open(conn, rows: Sequence[dict]) -> list[dict]:  # noqa: ANN001
        keys = {(r["subject"], r["alert_type"]) for r in rows}
        found = await conn.execute(select(alerts).where(_OPEN, alerts.c.subject.in_({s for s, _ in keys})))
        return [_public(r) for r in found.all() if (r.subject, r.alert_type) in keys]

    # -- read by the API --------------------------------------------------------------------------
    async def page(self, where: AlertScope, offset: int, limit: int) -> tuple[list[dict], int]:
        clauses = where.clauses()
        query = select(alerts).where(*clauses).order_by(alerts.c.updated_at.desc(), alerts.c.id.desc())
        async with self._engine.connect() as conn:
            total = (await conn.execute(select(func.count()).select_from(alerts).where(*clauses))).scalar_one()
            rows = (await conn.execute(query.offset(offset).limit(limit))).all()
        return [_public(r) for r in rows], int(total)

    async def get(self, alert_id: int) -> dict | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(alerts).where(alerts.c.id == alert_id))).first()
        return _public(row) if row else None

    async def mark_read(self, alert_id: int) -> dict | None:
        async with writing(self._engine) as conn:
            await conn.execute(update(alerts).where(alerts.c.id == alert_id).values(is_read=True))
            await alert_versions.bump(conn)
        return await self.get(alert_id)

    async def version(self) -> int:
        """The alerts' version: it changes with every write to them (`db.alert_versions`)."""
        async with self._engine.connect() as conn:
            return await alert_versions.current(conn)

    async def unread_count(self, where: AlertScope) -> dict:
        """Unread open alerts by severity."""
        clauses = [*where.clauses(), alerts.c.is_read.is_(False), _OPEN]
        query = select(alerts.c.severity, func.count()).where(*clauses).group_by(alerts.c.severity)
        async with self._engine.connect() as conn:
            counts = {severity: int(n) for severity, n in (await conn.execute(query)).all()}
        return {"total": sum(counts.values()), "by_severity": counts}

    # -- subscriptions and deliveries -------------------------------------------------------------
    async def subscribe(self, owner: str, channel: str, target: str, secret: str | None, filters: dict) -> dict:
        row = {"owner": owner, "channel": channel, "target": target, "secret": secret,
               "filters": json.dumps(filters), "active": True, "created_at": _now()}
        async with writing(self._engine) as conn:
            result = await conn.execute(insert(alert_subscriptions).returning(alert_subscriptions.c.id), row)
            row["id"] = int(result.scalar_one())
        return _subscription(row)

    async def subscriptions(self) -> list[dict]:
        """Every active subscription, with its secret (for delivery, never for a reader)."""
        query = select(alert_subscriptions).where(alert_subscriptions.c.active.is_(True))
        async with self._engine.connect() as conn:
            return [_subscription(_plain(r)) | {"secret": r.secret} for r in (await conn.execute(query)).all()]

    async def record_delivery(self, alert_id: int, subscription_id: int, channel: str, attempt: int,
                              status: str, error: str | None = None) -> None:
        async with writing(self._engine) as conn:
            await conn.execute(insert(alert_deliveries), {
                "alert_id": alert_id, "subscription_id": subscription_id, "channel": channel, "attempt": attempt,
                "status": status, "error": error, "created_at": _now()})

    async def deliveries(self, alert_id: int) -> list[dict]:
        query = select(alert_deliveries).where(alert_deliveries.c.alert_id == alert_id).order_by(alert_deliveries.c.id)
        async with self._engine.connect() as conn:
            return [_plain(r) for r in (await conn.execute(query)).all()]


CHUNK = 2_000
# `== False`, not `IS false`: the partial unique index's predicate, so the database can use it
_OPEN = alerts.c.is_resolved == False  # noqa: E712


def _open_by_key():  # noqa: ANN202
    """The open alert of subject :s and cause :c (bound per row of an executemany)."""
    return and_(alerts.c.subject == bindparam("s"), alerts.c.alert_type == bindparam("c"), _OPEN)


def _chunks(rows: Sequence) -> list[Sequence]:
    return [rows[i:i + CHUNK] for i in range(0, len(rows), CHUNK)]


def _subscription(row: dict) -> dict:
    """A subscription as its owner sees it: the webhook secret is never shown again."""
    filters = row["filters"]
    return {"id": row["id"], "owner": row["owner"], "channel": row["channel"], "target": row["target"],
            "filters": json.loads(filters) if isinstance(filters, str) else filters, "active": row["active"],
            "created_at": iso(row["created_at"])}
