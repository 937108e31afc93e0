"""Snapshots of district twin state (implements `twin.ports.SnapshotStore`).

Each district keeps a bounded history: its latest few snapshots (so a torn write never leaves it
without one, and recovery starts close to the log's end) plus the newest of each recent UTC day
(so the state as it was at an earlier moment is rebuilt from a nearby snapshot rather than from the
start of the log)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import is_sqlite, writing
from db.tables import snapshots

KEEP = 3  # latest snapshots kept per district
KEEP_DAILY_DAYS = 31  # days back for which the newest snapshot of the day is kept too


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _utc_day(moment: dt.datetime) -> dt.date:
    """The UTC date of a stored time (SQLite gives it back naive, already in UTC)."""
    return (moment.astimezone(dt.UTC) if moment.tzinfo else moment).date()


class SqlSnapshotStore:
    def __init__(self, engine: AsyncEngine, clock: Callable[[], dt.datetime] = _utc_now) -> None:
        self._engine = engine
        self._clock = clock
        stmt = (sqlite if is_sqlite(engine) else postgresql).insert(snapshots)
        self._upsert = stmt.on_conflict_do_update(
            index_elements=["district", "seq"], set_={"data": stmt.excluded.data, "created_at": stmt.excluded.created_at}
        )

    async def save_all(self, seq: int, parts: Sequence[tuple[int, bytes]]) -> None:
        """Store each (district, data) as its snapshot at `seq`, in one transaction: a shard's
        districts wait once for the write lock, not once each behind ingest's writes."""
        if not parts:
            return
        now = self._clock()
        districts = [d for d, _ in parts]
        held_query = (select(snapshots.c.district, snapshots.c.seq, snapshots.c.created_at)
                      .where(snapshots.c.district.in_(districts)).order_by(snapshots.c.seq.desc()))
        async with writing(self._engine) as conn:
            await conn.execute(self._upsert, [{"district": d, "seq": seq, "created_at": now, "data": data}
                                              for d, data in parts])
            held: dict[int, list[tuple[int, dt.datetime]]] = {d: [] for d in districts}
            for district, s, at in (await conn.execute(held_query)).all():  # one read for every district
                held[int(district)].append((int(s), at))
            for district, kept in held.items():
                dropped = sorted({s for s, _ in kept} - set(kept_seqs(kept, _utc_day(now))))
                if dropped:
                    await conn.execute(delete(snapshots).where(snapshots.c.district == district,
                                                               snapshots.c.seq.in_(dropped)))

    async def latest(self, district: int) -> tuple[int, bytes] | None:
        return await self.at_or_before(district, None)

    async def at_or_before(self, district: int, seq: int | None) -> tuple[int, bytes] | None:
        """The newest snapshot of `district` taken at log position `seq` or earlier (any, if None)."""
        query = (select(snapshots.c.seq, snapshots.c.data).where(snapshots.c.district == district)
                 .order_by(snapshots.c.seq.desc()).limit(1))
        if seq is not None:
            query = query.where(snapshots.c.seq <= seq)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return (int(row[0]), bytes(row[1])) if row else None


def kept_seqs(held: list[tuple[int, dt.datetime]], today: dt.date) -> list[int]:
    """Which of a district's snapshots (seq, created_at), newest seq first, to keep: the latest
    `KEEP`, and the newest of each of the last `KEEP_DAILY_DAYS` days up to `today`."""
    keep = [s for s, _ in held[:KEEP]]
    oldest = today - dt.timedelta(days=KEEP_DAILY_DAYS - 1)
    days_seen: set[dt.date] = set()
    for s, at in held:
        day = _utc_day(at)
        if oldest <= day and day not in days_seen:
            days_seen.add(day)
            keep.append(s)
    return keep
