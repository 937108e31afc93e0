"""Deltas after a district's snapshot (implements `twin.ports.SnapshotDeltaStore`).

A chain of deltas starts from one snapshot (`base_seq`, in `db.snapshot_store`); each holds the
rows of the district's schools changed since the one before. Every district's delta of one
moment is written in one transaction: a chain has no hole, so base + deltas in seq order equals
the state at the last delta's seq. Writing a delta drops the district's chains of older snapshots
(a recovery starts from the newest snapshot; reading the past starts from snapshots alone).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from sqlalchemy import delete, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import writing
from db.tables import snapshot_deltas


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class SqlSnapshotDeltas:
    def __init__(self, engine: AsyncEngine, clock: Callable[[], dt.datetime] = _utc_now) -> None:
        self._engine = engine
        self._clock = clock

    async def save_deltas(self, base_seq: int, seq: int, parts: Sequence[tuple[int, bytes]]) -> None:
        """Store each (district, data) as the delta at `seq` of the chain from the snapshot at
        `base_seq`, all or none."""
        if not parts:
            return
        now = self._clock()
        districts = [d for d, _ in parts]
        async with writing(self._engine) as conn:
            # chains of older snapshots, and any delta not before this one (left by a chain that was
            # given up: an earlier process's, or one after a failed store)
            await conn.execute(delete(snapshot_deltas).where(
                snapshot_deltas.c.district.in_(districts),
                or_(snapshot_deltas.c.base_seq < base_seq, snapshot_deltas.c.seq >= seq)))
            await conn.execute(insert(snapshot_deltas), [
                {"district": d, "seq": seq, "base_seq": base_seq, "created_at": now, "data": data} for d, data in parts
            ])

    async def deltas(self, district: int, base_seq: int) -> list[tuple[int, bytes]]:
        """(seq, data) of the chain from `district`'s snapshot at `base_seq`, in seq order."""
        query = (select(snapshot_deltas.c.seq, snapshot_deltas.c.data)
                 .where(snapshot_deltas.c.district == district, snapshot_deltas.c.base_seq == base_seq)
                 .order_by(snapshot_deltas.c.seq))
        async with self._engine.connect() as conn:
            return [(int(s), bytes(data)) for s, data in (await conn.execute(query)).all()]
