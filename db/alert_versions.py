"""The alerts' version: one counter in the database, bumped in the same transaction as every write
to the alerts (raised, escalated or resolved by the rules, marked read by an officer). A cached
answer that depends on the alerts (an area's reports) names the version it was built from, so any
write by any replica or actor is a new key, with no message to miss. Its own table (migration
0016), one row."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, Table, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from db.tables import metadata

alert_versions = Table(
    "alert_versions",
    metadata,
    Column("id", Integer, primary_key=True, comment="always 1: one counter"),
    Column("version", BigInteger, nullable=False, comment="bumped by every write to the alerts"),
)

_ROW = alert_versions.c.id == 1


async def bump(conn: AsyncConnection) -> None:
    """Inside the caller's write transaction (on PostgreSQL the row lock orders concurrent writers)."""
    await conn.execute(update(alert_versions).where(_ROW).values(version=alert_versions.c.version + 1))


async def current(conn: AsyncConnection) -> int:
    return int((await conn.execute(select(alert_versions.c.version).where(_ROW))).scalar() or 0)
