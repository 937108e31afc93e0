"""Snapshots of district twin state (implements `twin.ports.SnapshotStore`)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import is_sqlite, writing
from db.tables import snapshots

KEEP = 2  # the latest two per district, so a torn write never leaves a district without one


class SqlSnapshotStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        stmt = (sqlite if is_sqlite(engine) else postgresql).insert(snapshots)
        self._upsert = stmt.on_conflict_do_update(
            index_elements=["district", "seq"], set_={"data": stmt.excluded.data, "created_at": stmt.excluded.created_at}
        )

    async def save(self, district: int, seq: int, data: bytes) -> None:
        row = {"district": district, "seq": seq, "created_at": dt.datetime.now(dt.UTC), "data": data}
        kept = (select(snapshots.c.seq).where(snapshots.c.district == district)
                .order_by(snapshots.c.seq.desc()).limit(KEEP))
        async with writing(self._engine) as conn:
            await conn.execute(self._upsert, row)
            keep = [s for (s,) in (await conn.execute(kept)).all()]
            await conn.execute(delete(snapshots).where(snapshots.c.district == district, snapshots.c.seq.not_in(keep)))

    async def latest(self, district: int) -> tuple[int, bytes] | None:
        query = (select(snapshots.c.seq, snapshots.c.data).where(snapshots.c.district == district)
                 .order_by(snapshots.c.seq.desc()).limit(1))
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return (int(row[0]), bytes(row[1])) if row else None
