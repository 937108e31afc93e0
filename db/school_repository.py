"""The schools table: bulk load of generated schools, and the directory every shard and replica uses."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from db import school_arrays, school_name_index, school_search
from db.areas import area_clauses
from db.engine import is_sqlite, writing
from db.tables import schools
from twin.area import STATE, Area
from twin.directory import Directory
from twin.errors import Conflict

_CHUNK = 5_000
# Columns a client may sort the school list by; `id` breaks ties so pages never overlap.
SORTABLE = ("id", "name", "district", "block", "total_students", "capacity", "risk_level", "created_at", "updated_at")
# Columns a client writes (the rest are derived or kept by the database).
WRITABLE = (
    "name", "district", "block", "address", "latitude", "longitude", "total_students", "enrolment_primary",
    "enrolment_upper_primary", "enrolment_secondary", "capacity", "has_hostel", "breakfast_scheme", "depot_id",
    "risk_level", "is_active",
)
_IN_CLAUSE = 500  # ids per IN (...) list: well under every driver's bound-parameter limit
# the key of the PostgreSQL advisory lock that registrations of schools take in turn (`_register_rows`)
_REGISTRATION_LOCK = 0x6D65616C  # "meal"


@dataclass(frozen=True)
class SchoolFilter:
    """Canonical names (as stored) or None for "any"."""

    district: str | None = None
    block: str | None = None
    risk_level: str | None = None
    include_inactive: bool = False
    area: Area = STATE  # the caller's: rows outside it are never returned

    def clauses(self) -> list:
        out = area_clauses(schools, self.area, school_column="id")
        if self.district is not None:
            out.append(schools.c.district == self.district)
        if self.block is not None:
            out.append(schools.c.block == self.block)
        if self.risk_level is not None:
            out.append(schools.c.risk_level == self.risk_level)
        if not self.include_inactive:
            out.append(schools.c.is_active.is_(True))
        return out


def write_stamp(sqlite: bool):  # noqa: ANN201
    """The database's clock at the moment of a write, to the millisecond or finer (the columns'
    default has whole seconds on SQLite, and on PostgreSQL is when the transaction began): the
    directory orders schools by `created_at`, and a reader of the stored arrays takes the rows
    whose `updated_at` is at or after their watermark (`db.school_arrays`)."""
    return func.strftime("%Y-%m-%d %H:%M:%f000", "now") if sqlite else func.clock_timestamp()


async def _insert_chunks(conn: AsyncConnection, rows: Iterable[dict], progress) -> int:  # noqa: ANN001
    done, chunk = 0, []
    # updated_at as every write stamps it; created_at the statement's (whole seconds on SQLite), so code orders a chunk
    into = insert(schools).values(updated_at=write_stamp(is_sqlite(conn.engine)))
    for row in rows:
        chunk.append(row)
        if len(chunk) == _CHUNK:
            await conn.execute(into, chunk)
            done += len(chunk)
            chunk = []
            if progress:
                progress(done)
    if chunk:
        await conn.execute(into, chunk)
        done += len(chunk)
        if progress:
            progress(done)
    return done


class SchoolRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._name_indexes: school_name_index.NameIndexes | None = None  # what the search may use: asked once

    async def insert_many(self, rows: Iterable[dict], progress=None) -> int:  # noqa: ANN001
        """Insert school rows (dicts of `schools` columns) in chunks; `progress(n)` after each. Into
        an empty table, the secondary indexes (and the names' trigram index) are dropped first and
        built once the rows are in: inserted row by row into an index by name, 1.08 M schools took
        5 times as long (the pages of an index in random order outgrow the database's cache)."""
        async with writing(self._engine) as conn:
            empty = await conn.scalar(select(schools.c.id).limit(1)) is None
            deferred = sorted(schools.indexes, key=lambda index: index.name) if empty else []
            for index in deferred:
                await conn.run_sync(lambda sync, index=index: index.drop(sync))
            async with school_name_index.set_aside(conn) if empty else contextlib.nullcontext():
                done = await _insert_chunks(conn, rows, progress)
            for index in deferred:
                await conn.run_sync(lambda sync, index=index: index.create(sync))
        return done

    async def count(self) -> int:
        async with self._engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(schools)))

    async def all(self) -> list[dict]:
        """Every school row, ordered by UDISE code."""
        async with self._engine.connect() as conn:
            return [dict(r._mapping) for r in (await conn.execute(select(schools).order_by(schools.c.id))).all()]

    async def load_directory(self) -> tuple[Directory, np.ndarray]:
        """The directory of every school in registration order, then UDISE code (the global school
        index), with which are active, and their enrolment [N, 3] by band: from the stored arrays
        and the rows changed since (`db.school_arrays`), or the whole table when there are none.

        Batches carry global indices from API replicas to shards, so a process that loads the
        directory later must give every school the indices that earlier loads gave: inactive
        (soft-deleted) schools keep their place, and a school registered later comes after all
        earlier ones (ordering by code alone would shift every code above it). Every earlier
        load is then a prefix of a later one; `Directory.extend` relies on that."""
        columns = await school_arrays.load(self._engine)
        return columns.directory(), columns.enrolment

    async def load_schools(self) -> tuple[Directory, np.ndarray, np.ndarray]:
        """The directory and every school's latitude and longitude (float64 [N], degrees), in one read."""
        columns = await school_arrays.load(self._engine, locations=True)
        return columns.directory(), columns.latitude, columns.longitude

    async def store_arrays(self) -> school_arrays.SchoolColumns:
        """Store the directory's arrays as the table holds them now, for every process to read
        (`db.school_arrays`); returns them."""
        return await school_arrays.store(self._engine)

    async def set_risk_levels(self, levels: Sequence[tuple[str, str]], chunk: int = 2_000) -> None:
        """Set the `risk_level` of schools: (UDISE code, level) pairs, in transactions of `chunk`.

        The risk desk's first round after a start sends every school's level, most of them as the
        table has them already (1.08 M at India scale): a row whose level is unchanged is not
        written, and the rows go to the driver as tuples, not through SQLAlchemy's parameters of
        every row (1.08 M levels, most unchanged: 29-38 s and 8 s of CPU, now 9.5 s and 2.5 s)."""
        if is_sqlite(self._engine):
            sql = "UPDATE schools SET risk_level = ? WHERE id = ? AND risk_level <> ?"
            rows = [(level, school, level) for school, level in levels]
        else:
            sql = "UPDATE schools SET risk_level = $1 WHERE id = $2 AND risk_level <> $1"
            rows = [(level, school) for school, level in levels]
        for start in range(0, len(rows), chunk):
            async with writing(self._engine) as conn:
                await conn.exec_driver_sql(sql, rows[start:start + chunk])

    async def load_locations(self) -> tuple[np.ndarray, np.ndarray]:
        """Latitude and longitude (float64 [N], degrees) of every school, in directory order."""
        columns = await school_arrays.load(self._engine, locations=True)
        return columns.latitude, columns.longitude

    # -- the schools API ------------------------------------------------------------------------
    async def get(self, school_id: str) -> dict | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(schools).where(schools.c.id == school_id))).first()
        return dict(row._mapping) if row else None

    async def page(self, where: SchoolFilter, sort: Sequence[str], offset: int, limit: int) -> tuple[list[dict], int]:
        """One page of schools matching `where`, ordered by `sort` (column names from SORTABLE,
        "-" first for descending), and how many match in all."""
        order = []
        for key in sort:
            column = schools.c[key.lstrip("-")]
            order.append(column.desc() if key.startswith("-") else column.asc())
        if not any(key.lstrip("-") == "id" for key in sort):
            order.append(schools.c.id.asc())
        clauses = where.clauses()
        async with self._engine.connect() as conn:
            total = int(await conn.scalar(select(func.count()).select_from(schools).where(*clauses)))
            rows = (await conn.execute(select(schools).where(*clauses).order_by(*order).offset(offset).limit(limit))).all()
        return [dict(r._mapping) for r in rows], total

    async def names(self, where: SchoolFilter) -> dict[str, str]:
        """The name of every school matching `where`, by id: two columns, one query (reports
        label tens of thousands of rows with them)."""
        query = select(schools.c.id, schools.c.name).where(*where.clauses())
        async with self._engine.connect() as conn:
            return {row.id: row.name for row in (await conn.execute(query)).all()}

    async def stream(self, where: SchoolFilter, chunk: int = 2_000) -> AsyncIterator[list[dict]]:
        """Every school matching `where` in id order, a chunk at a time. Keyset paging, so no
        connection is held while the caller sends a chunk on."""
        after = ""
        while True:
            query = select(schools).where(*where.clauses(), schools.c.id > after).order_by(schools.c.id).limit(chunk)
            async with self._engine.connect() as conn:
                rows = [dict(r._mapping) for r in (await conn.execute(query)).all()]
            if not rows:
                return
            yield rows
            if len(rows) < chunk:
                return
            after = rows[-1]["id"]

    async def search(self, q: str, limit: int, area: Area = STATE) -> list[dict]:
        """Active schools whose UDISE code starts with `q`, or whose name or block contains it,
        best first: the exact code, then code prefixes, then name or block prefixes, then the rest
        (`db.school_search`: read by rank through the names' trigram index)."""
        async with self._engine.connect() as conn:
            if self._name_indexes is None:
                self._name_indexes = await conn.run_sync(school_name_index.describe)
            return await school_search.search(conn, q, limit, area, self._name_indexes)

    def _stamp(self):  # noqa: ANN202
        return write_stamp(is_sqlite(self._engine))

    def _register(self):  # noqa: ANN202
        """An insert stamping `created_at` and `updated_at` with `write_stamp`."""
        return insert(schools).values(created_at=self._stamp(), updated_at=self._stamp())

    async def _register_rows(self, conn: AsyncConnection, rows: Sequence[dict]) -> None:
        """Insert new schools in `conn`'s transaction, registrations one transaction at a time.

        The directory's order (`created_at`) must be the order in which registrations become
        visible, or a directory loaded between two of them is not a prefix of a later one and the
        running twin cannot take the new schools (`Directory.extend`). A bulk import stamped its
        rows when it inserted them but committed later, after a registration stamped later had
        committed: the import's schools then sorted before a school already loaded. So on
        PostgreSQL a transaction-scoped advisory lock is taken before the rows are stamped, and held
        to the commit; SQLite's write transactions already take the database's lock at BEGIN."""
        if not is_sqlite(self._engine):
            await conn.execute(select(func.pg_advisory_xact_lock(_REGISTRATION_LOCK)))
        for k in range(0, len(rows), _CHUNK):
            await conn.execute(self._register(), list(rows[k:k + _CHUNK]))

    async def create(self, row: dict) -> dict:
        """Insert one school (id plus WRITABLE columns); Conflict if its id is taken."""
        try:
            async with writing(self._engine) as conn:
                await self._register_rows(conn, [row])
        except IntegrityError:
            raise Conflict(f"school {row['id']} already exists", {"school_id": row["id"]}) from None
        return await self.get(row["id"])  # type: ignore[return-value]

    async def update(self, school_id: str, values: dict) -> dict | None:
        """Set `values` (WRITABLE columns) of one school; None if there is no such school."""
        async with writing(self._engine) as conn:
            done = await conn.execute(
                update(schools).where(schools.c.id == school_id).values(**values, updated_at=self._stamp()))
        return await self.get(school_id) if done.rowcount else None

    async def upsert_many(self, rows: Sequence[dict], fixed: Sequence[str] = ()) -> list[str]:
        """Insert or update schools by id in one transaction. Returns, per row, "created",
        "updated" or "unchanged" (every WRITABLE column already equal), so a re-upload is a no-op;
        or "moved:<column>", left as it is, where that column of `fixed` would change."""
        ids = [r["id"] for r in rows]
        outcome: list[str] = []
        async with writing(self._engine) as conn:
            existing: dict[str, dict] = {}
            for k in range(0, len(ids), _IN_CLAUSE):
                found = await conn.execute(select(schools).where(schools.c.id.in_(ids[k:k + _IN_CLAUSE])))
                existing |= {r.id: dict(r._mapping) for r in found}
            fresh = []
            for row in rows:
                old = existing.get(row["id"])
                if old is None:
                    fresh.append(row)
                    outcome.append("created")
                elif moved := [c for c in fixed if old[c] != row[c]]:
                    outcome.append(f"moved:{moved[0]}")
                elif all(old[c] == row[c] for c in WRITABLE):
                    outcome.append("unchanged")
                else:
                    values = {c: row[c] for c in WRITABLE}
                    await conn.execute(update(schools).where(schools.c.id == row["id"]).values(**values, updated_at=self._stamp()))
                    outcome.append("updated")
            try:
                if fresh:
                    await self._register_rows(conn, fresh)
            except IntegrityError:
                raise Conflict("another request created some of these schools meanwhile; upload again") from None
        return outcome
