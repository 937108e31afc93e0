"""The durable, append-only event log (implements `twin.ports.EventLog`).

Appends are serialised (PostgreSQL: an advisory transaction lock; SQLite: its write lock taken at
BEGIN IMMEDIATE), and each append numbers its rows after the current maximum. So seqs commit in
seq order, and a reader that has seen seq N has seen every committed event below N: shards rely
on this to detect and fill gaps.

On SQLite a group's whole transaction runs in one trip to a worker thread, on a connection of the
log's own: through the async driver it took some eight trips (check-out, BEGIN, look-up, max,
insert, commit, reset), each waiting for the event loop and the GIL, and under load the trips,
not the database, were most of an append's time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
from collections.abc import Sequence

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from db.engine import SQLITE_PRAGMAS, is_sqlite, writing
from db.tables import events
from twin.ports import AppendResult, LogRow

_APPEND_LOCK_KEY = 0x6D65616C  # PostgreSQL advisory lock key ("meal")
_GROUP_ROWS = 50_000  # most rows committed in one group
_SMALL_ROWS = 1_000  # an append this small is never grouped behind a large one
_ID_CHUNK = 5_000  # event ids per duplicate look-up (under SQLite's bound-parameter limit)
COLUMNS = ("seq", "event_id", "type", "district", "school_id", "event_date", "payload", "received_at")
_INSERT = f"INSERT INTO {{table}} ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"  # SQLite


class SqlEventLog:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._sqlite = is_sqlite(engine)
        self._direct: sqlite3.Connection | None = None  # SQLite: the writer's own connection
        self._waiting: list[tuple[Sequence[LogRow], asyncio.Future]] = []
        self._writer: asyncio.Task | None = None

    async def append(self, rows: Sequence[LogRow]) -> AppendResult:
        """Make `rows` durable and return once committed (on SQLite, fsynced). A row whose event_id
        is already in the log, or earlier in `rows`, is not written (seq 0).

        Group commit: appends that arrive while a transaction is in progress wait for it and then
        go together in the next one, so concurrent requests share a lock, a look-up and a commit
        instead of queueing on the database's write lock one by one."""
        if not rows:
            return AppendResult(0, 0, [])
        done = asyncio.get_running_loop().create_future()
        self._waiting.append((rows, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_groups())
        return await asyncio.shield(done)  # a caller that gives up does not undo a commit under way

    async def _write_groups(self) -> None:
        while self._waiting:
            self._small_first()
            group, size = [], 0
            while self._waiting and (not group or size + len(self._waiting[0][0]) <= _GROUP_ROWS):
                if group and len(group[0][0]) <= _SMALL_ROWS < len(self._waiting[0][0]):
                    break  # small appends commit in a group of their own, not with a feed's batch
                group.append(self._waiting.pop(0))
                size += len(group[-1][0])
            try:
                results = await self._append_group([rows for rows, _ in group])
            except Exception as exc:  # noqa: BLE001 - handed to the waiters
                if len(group) > 1:  # one bad append must not fail the others: retry each alone
                    self._waiting[:0] = [(rows, done) for rows, done in group]
                    await self._write_alone(len(group))
                    continue
                results = [exc]
            for (_, done), result in zip(group, results):
                _settle(done, result)

    def _small_first(self) -> None:
        """Appends of a few rows (a school's report, a correction) go before the large batches
        waiting with them: their writers are people waiting on an answer, and a group holding a
        feed's 10,000 events would keep them seconds. Order among the small, and among the large,
        is kept. (Seqs are given at commit, so nothing committed is reordered.)"""
        if len(self._waiting) > 1:
            self._waiting.sort(key=lambda waiting: len(waiting[0]) > _SMALL_ROWS)  # stable

    async def _write_alone(self, n: int) -> None:
        """Commit the first `n` waiting appends one transaction each."""
        for _ in range(n):
            rows, done = self._waiting.pop(0)
            try:
                result = (await self._append_group([rows]))[0]
            except Exception as exc:  # noqa: BLE001 - handed to the waiter
                result = exc
            _settle(done, result)

    async def _append_group(self, group: list[Sequence[LogRow]]) -> list[AppendResult]:
        """One transaction for several appends, numbered in arrival order."""
        if self._sqlite:
            return await asyncio.to_thread(self._append_group_sqlite, group)
        async with writing(self._engine) as conn:
            await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _APPEND_LOCK_KEY})
            known = await self._known_ids(conn, [r.event_id for rows in group for r in rows])
            first = int(await conn.scalar(select(func.coalesce(func.max(events.c.seq), 0))))
            results, fresh = _numbered(group, known, first)
            if fresh:
                now = dt.datetime.now(dt.UTC)
                await write_rows(conn, "events", [(first + 1 + i, *r, now) for i, r in enumerate(fresh)], sqlite=False)
        return results

    def _append_group_sqlite(self, group: list[Sequence[LogRow]]) -> list[AppendResult]:
        """`_append_group` on SQLite, in a worker thread (the writer task runs one at a time)."""
        if self._direct is None:
            self._direct = sqlite3.connect(self._engine.url.database, isolation_level=None, check_same_thread=False)
            for pragma in SQLITE_PRAGMAS:
                self._direct.execute(f"PRAGMA {pragma}")
        db = self._direct
        db.execute("BEGIN IMMEDIATE")
        try:
            ids = [r.event_id for rows in group for r in rows]
            known: set[str] = set()
            for k in range(0, len(ids), _ID_CHUNK):
                chunk = ids[k : k + _ID_CHUNK]
                known.update(r[0] for r in db.execute(
                    f"SELECT event_id FROM events WHERE event_id IN ({', '.join('?' * len(chunk))})", chunk))
            first = int(db.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0])
            results, fresh = _numbered(group, known, first)
            if fresh:
                # as SQLAlchemy's SQLite types read them back: ISO text, naive UTC
                now = dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(sep=" ")
                dates = {d: d.isoformat() for d in {r.event_date for r in fresh}}  # a batch spans few dates
                db.executemany(_INSERT.format(table="events"),
                               [(first + 1 + i, r.event_id, r.type, r.district, r.school_id, dates[r.event_date],
                                 r.payload, now) for i, r in enumerate(fresh)])
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return results

    async def _known_ids(self, conn: AsyncConnection, ids: list[str]) -> set[str]:
        """Which of `ids` the log already holds (PostgreSQL). On the driver's own connection:
        SQLAlchemy's expanding IN would compile thousands of bound parameters on every append."""
        raw = (await conn.get_raw_connection()).driver_connection
        return {r[0] for r in await raw.fetch("SELECT event_id FROM events WHERE event_id = ANY($1::text[])", ids)}

    async def read(
        self, after_seq: int, districts: Sequence[int], upto_seq: int | None = None, limit: int = 50_000
    ) -> list[tuple[int, str]]:
        """(seq, payload) of events of `districts` with after_seq < seq <= upto_seq, in seq order."""
        query = (
            select(events.c.seq, events.c.payload)
            .where(events.c.seq > after_seq, events.c.district.in_(list(districts)))
            .order_by(events.c.seq)
            .limit(limit)
        )
        if upto_seq is not None:
            query = query.where(events.c.seq <= upto_seq)
        async with self._engine.connect() as conn:
            return [(int(s), p) for s, p in (await conn.execute(query)).all()]

    async def max_seq(self) -> int:
        async with self._engine.connect() as conn:
            return int(await conn.scalar(select(func.coalesce(func.max(events.c.seq), 0))))

    async def last_seq_received_by(self, moment: dt.datetime) -> int:
        """The last seq of an event received at or before `moment` (aware); 0 if none.

        A binary search over seq rather than a scan or an index on `received_at`: appends are
        serialised and stamped inside the lock, so `received_at` never decreases as seq grows,
        and some twenty primary-key probes find the boundary in a log of any length."""
        moment = moment.astimezone(dt.UTC)
        probe = select(events.c.received_at).order_by(events.c.seq).limit(1)
        async with self._engine.connect() as conn:
            lo, hi = 0, int(await conn.scalar(select(func.coalesce(func.max(events.c.seq), 0))))
            while lo < hi:  # invariant: seq lo is received by `moment` (0: before the log), hi+1 is not
                mid = (lo + hi + 1) // 2
                stamp = await conn.scalar(probe.where(events.c.seq >= mid))
                if _aware(stamp) <= moment:
                    lo = mid
                else:
                    hi = mid - 1
        return lo

    async def school_log(self, school_id: str) -> list[tuple[int, str]]:
        """(seq, payload) of every event naming the school, in seq order (a school logs a few
        hundred a year)."""
        query = select(events.c.seq, events.c.payload).where(events.c.school_id == school_id).order_by(events.c.seq)
        async with self._engine.connect() as conn:
            return [(int(s), p) for s, p in (await conn.execute(query)).all()]

    async def dated_since(self, districts: Sequence[int], types: Sequence[str], first: dt.date,
                          school_id: str | None = None) -> list[tuple[int, str]]:
        """(seq, payload) of events of `districts` and `types` dated on or after `first` (of one
        school's when `school_id` is given), in seq order: what a range of dates needs folded."""
        query = (select(events.c.seq, events.c.payload)
                 .where(events.c.district.in_(list(districts)), events.c.type.in_(list(types)),
                        events.c.event_date >= first)
                 .order_by(events.c.seq))
        if school_id is not None:
            query = query.where(events.c.school_id == school_id)
        async with self._engine.connect() as conn:
            return [(int(s), p) for s, p in (await conn.execute(query)).all()]

    async def held(self, event_ids: Sequence[str]) -> set[str]:
        """Which of `event_ids` the log holds."""
        ids, out = list(event_ids), set()
        async with self._engine.connect() as conn:
            for start in range(0, len(ids), _ID_CHUNK):
                query = select(events.c.event_id).where(events.c.event_id.in_(ids[start:start + _ID_CHUNK]))
                out |= {r[0] for r in (await conn.execute(query)).all()}
        return out

    async def count(self) -> int:
        async with self._engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(events)))

    async def for_school(self, school_id: str, limit: int = 100, before_seq: int | None = None) -> list[dict]:
        """A school's events, newest first."""
        query = (
            select(events.c.seq, events.c.event_id, events.c.type, events.c.event_date, events.c.payload,
                   events.c.received_at)
            .where(events.c.school_id == school_id)
            .order_by(events.c.seq.desc())
            .limit(limit)
        )
        if before_seq is not None:
            query = query.where(events.c.seq < before_seq)
        async with self._engine.connect() as conn:
            return [dict(r._mapping) for r in (await conn.execute(query)).all()]


def _aware(stamp: dt.datetime) -> dt.datetime:
    """A stored `received_at` as an aware UTC time (SQLite gives it back naive, in UTC)."""
    return stamp.replace(tzinfo=dt.UTC) if stamp.tzinfo is None else stamp


def _numbered(group: list[Sequence[LogRow]], known: set[str], first: int) -> tuple[list[AppendResult], list[LogRow]]:
    """Seqs after `first` for the rows of each append in `group` not in `known` nor earlier in the
    group (seq 0 for those), and the rows to write."""
    results, fresh, seq = [], [], first
    for rows in group:
        after, seqs = seq, []
        for r in rows:
            if r.event_id in known:
                seqs.append(0)
                continue
            known.add(r.event_id)
            seq += 1
            seqs.append(seq)
            fresh.append(r)
        results.append(AppendResult(after, seq, seqs))
    return results, fresh


def _settle(done: asyncio.Future, result: AppendResult | Exception) -> None:
    if done.done():
        return
    if isinstance(result, Exception):
        done.set_exception(result)
    else:
        done.set_result(result)


async def write_rows(conn: AsyncConnection, table: str, records: list[tuple], *, sqlite: bool) -> None:
    """Bulk-write event-log-shaped `records` (tuples in `COLUMNS` order) into `table`: executemany
    on SQLite, COPY on PostgreSQL (the fastest durable path each offers). The ingest benchmark
    measures its database floor with this same function."""
    raw = (await conn.get_raw_connection()).driver_connection
    if sqlite:
        await raw.executemany(_INSERT.format(table=table), records)
    else:
        await raw.copy_records_to_table(table, records=records, columns=COLUMNS)
