"""The directory of every school kept as arrays in the database, beside the snapshots.

Every process of the twin (each shard, each API replica, the state actor, the driver) needs the
directory: the schools' UDISE codes in registration order (their global index), district, block,
enrolment, whether active, and the state actor their locations too. Read from `schools` a row at a
time that took 16-27 s a process for India's 1.08 M schools under load, and the state actor's read
of every location 58-117 s. So the columns are kept as arrays (`twin.snapshot`'s format, LZ4) in
`school_arrays`, in three parts (ids; district, block, enrolment and active; locations) so that
each process reads only what it uses, and a process reads the latest stored version and then only
the rows of `schools` changed since it was written.

Exactness. The arrays are written (`store`) holding the database's write lock (SQLite) or a lock on
`schools` that waits for its writers and keeps new ones out (PostgreSQL), with their `watermark`
the database's clock then. Every change made after is stamped at or after it: every write sets
`updated_at` to the moment it is made (`db.school_repository.write_stamp`: to the millisecond on
SQLite, whose default has whole seconds; `clock_timestamp()` on PostgreSQL, whose `now()` is when
the transaction began, maybe before the arrays were read though it commits after). A reader (`load`) takes the stored arrays and every row with `updated_at` at or after the
watermark, in one snapshot of the database: rows it knows are overwritten, others are schools
registered since and are appended in the directory's order, which must come after the stored last
school (`(created_at, id)`, see `SchoolRepository._register_rows`); and the count must match the
table's. Anything else (no arrays yet, a row out of order, a count that differs, say after a hand
edit) and the reader reads the whole table, as before.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, replace

import numpy as np
from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from db.engine import is_sqlite, writing
from db.tables import school_arrays, schools
from twin import geography, snapshot
from twin.directory import BlockTable, Directory

log = logging.getLogger(__name__)

PARTS = ("ids", "directory", "locations")
_DIRECTORY_ROWS = (schools.c.district, schools.c.block, schools.c.enrolment_primary,
                   schools.c.enrolment_upper_primary, schools.c.enrolment_secondary, schools.c.is_active)
_LOCATION_ROWS = (schools.c.latitude, schools.c.longitude)
_ORDER = (schools.c.created_at, schools.c.id)  # the directory's order: registration, then code


@dataclass
class SchoolColumns:
    """Every school in directory order. `latitude`/`longitude` are None unless asked for.
    `from_table` is how many rows were read from `schools` (all of them without stored arrays)."""

    ids: np.ndarray  # int64 [n]
    district: np.ndarray  # int16 [n]
    block: np.ndarray  # int32 [n], global block index
    enrolment: np.ndarray  # int32 [n, 3], by band
    active: np.ndarray  # bool [n]
    latitude: np.ndarray | None = None  # float64 [n], degrees
    longitude: np.ndarray | None = None
    from_table: int = 0
    stored_version: int | None = None  # the stored arrays taken, if any

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def directory(self, blocks: BlockTable | None = None) -> Directory:
        return Directory(self.ids, self.district, self.block, blocks or BlockTable.from_geography(),
                         school_active=self.active)

    def part(self, name: str) -> dict[str, np.ndarray]:
        if name == "ids":
            return {"ids": self.ids}
        if name == "directory":
            return {"district": self.district, "block": self.block, "enrolment": self.enrolment, "active": self.active}
        return {"latitude": self.latitude, "longitude": self.longitude}


async def load(engine: AsyncEngine, locations: bool = False) -> SchoolColumns:
    """Every school's columns as the table holds them now (with their locations if `locations`)."""
    async with engine.connect() as conn:
        if not is_sqlite(engine):  # one snapshot for the stored arrays, the rows since and the count
            conn = await conn.execution_options(isolation_level="REPEATABLE READ")
        async with conn.begin():
            return await _load(conn, locations)


async def store(engine: AsyncEngine) -> SchoolColumns:
    """Write the arrays of every school as the table holds them now (locations included) as the
    latest version, and drop the older ones. Returns what was written."""
    async with writing(engine) as conn:
        if not is_sqlite(engine):
            # waits for every transaction that changed schools, and keeps new ones out until the
            # commit (SHARE ROW EXCLUSIVE conflicts with writers and with itself: one store at a time)
            await conn.execute(text("LOCK TABLE schools IN SHARE ROW EXCLUSIVE MODE"))
        watermark = await clock(conn)
        columns = await _load(conn, locations=True)
        last = (await conn.execute(select(*_ORDER).order_by(*(c.desc() for c in _ORDER)).limit(1))).first()
        version = int(await conn.scalar(select(func.coalesce(func.max(school_arrays.c.version), 0)))) + 1
        now = dt.datetime.now(dt.UTC)
        for part in PARTS:
            await conn.execute(insert(school_arrays).values(
                version=version, part=part, schools=len(columns), watermark=watermark,
                last_created_at=last[0] if last else None, last_id=last[1] if last else None, written_at=now,
                data=snapshot.dumps(columns.part(part))))
        await conn.execute(delete(school_arrays).where(school_arrays.c.version < version))
    log.info("stored the arrays of %d schools (version %d; %d rows read from the table)", len(columns), version,
             columns.from_table)
    return replace(columns, stored_version=version)


async def refresh(engine: AsyncEngine) -> SchoolColumns:
    """Every school's columns (without locations) as the table holds them now, after storing them
    anew (`store`) unless the stored arrays are up to date already: at the twin's start, so that
    its processes read the arrays and few rows or none."""
    async with engine.connect() as conn:
        stored = await conn.scalar(select(func.max(school_arrays.c.version)))
    if stored is not None:
        columns = await load(engine)
        if columns.stored_version is not None and columns.from_table == 0:
            return columns
    return await store(engine)


async def clock(conn: AsyncConnection) -> dt.datetime:
    """The database's clock now, as `db.school_repository.write_stamp` stamps a write."""
    if is_sqlite(conn.engine):
        return dt.datetime.fromisoformat(await conn.scalar(select(func.strftime("%Y-%m-%d %H:%M:%f", "now"))))
    return await conn.scalar(select(func.clock_timestamp()))


async def _load(conn: AsyncConnection, locations: bool) -> SchoolColumns:
    parts = PARTS if locations else PARTS[:2]
    latest = select(func.max(school_arrays.c.version)).scalar_subquery()
    rows = (await conn.execute(
        select(school_arrays.c.part, school_arrays.c.schools, school_arrays.c.watermark,
               school_arrays.c.last_created_at, school_arrays.c.last_id, school_arrays.c.version, school_arrays.c.data)
        .where(school_arrays.c.version == latest, school_arrays.c.part.in_(parts)))).all()
    if {r.part for r in rows} != set(parts):
        return await _read_table(conn, locations)
    first = rows[0]
    arrays: dict[str, np.ndarray] = {}
    for r in rows:
        arrays |= snapshot.loads(bytes(r.data))
    stored = SchoolColumns(arrays["ids"], arrays["district"], arrays["block"], arrays["enrolment"], arrays["active"],
                           arrays.get("latitude"), arrays.get("longitude"), stored_version=int(first.version))
    if len(stored) != first.schools:
        log.warning("stored school arrays of version %d hold %d schools, not %d: reading the table",
                    first.version, len(stored), first.schools)
        return await _read_table(conn, locations)
    changed = (await conn.execute(
        select(schools.c.id, *_DIRECTORY_ROWS, *(_LOCATION_ROWS if locations else ()), schools.c.created_at)
        .where(schools.c.updated_at >= first.watermark).order_by(*_ORDER))).all()
    merged = _merge(stored, changed, (first.last_created_at, first.last_id), locations)
    if merged is None:
        return await _read_table(conn, locations)
    count = int(await conn.scalar(select(func.count()).select_from(schools)))
    if count != len(merged):
        log.warning("the schools table holds %d schools, the stored arrays and the rows since %d: reading the table",
                    count, len(merged))
        return await _read_table(conn, locations)
    return merged


def _merge(stored: SchoolColumns, changed: list, last_key: tuple, locations: bool) -> SchoolColumns | None:
    """`stored` with the `changed` rows (id, district, block, enrolment x3, active, [lat, lon],
    created_at; in directory order) written over or appended; None if a new school would not come
    after every stored one."""
    if not changed:
        return replace(stored, from_table=0)
    n = len(changed)
    columns = list(zip(*changed))
    ids = np.fromiter(map(int, columns[0]), np.int64, n)
    district, block = _places(columns[1], columns[2])
    enrolment = np.array(columns[3:6], np.int32).T.reshape(n, 3)
    active = np.array(columns[6], bool).reshape(n)
    at = _positions(stored.ids, ids)
    known, new = at >= 0, np.flatnonzero(at < 0)
    if len(new):
        last_created, last_id = last_key
        first_new = (columns[-1][new[0]], str(columns[0][new[0]]))
        # the rows come in directory order, so the first new one is the earliest
        if last_id is not None and not _after(first_new, (last_created, last_id)):
            log.warning("school %s was registered before the last school of the stored arrays (%s): reading the table",
                        first_new[1], last_id)
            return None
    out = SchoolColumns(*(np.concatenate([a, b[new]]) for a, b in (
        (stored.ids, ids), (stored.district, district), (stored.block, block), (stored.enrolment, enrolment),
        (stored.active, active))), stored_version=stored.stored_version, from_table=n)
    rows = at[known]
    out.district[rows], out.block[rows] = district[known], block[known]
    out.enrolment[rows], out.active[rows] = enrolment[known], active[known]
    if locations:
        lat = np.array(columns[7], np.float64).reshape(n)
        lon = np.array(columns[8], np.float64).reshape(n)
        out.latitude = np.concatenate([stored.latitude, lat[new]])
        out.longitude = np.concatenate([stored.longitude, lon[new]])
        out.latitude[rows], out.longitude[rows] = lat[known], lon[known]
    return out


def _positions(known: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """The index of each of `ids` in `known`; -1 where it is not there."""
    if not len(known):
        return np.full(len(ids), -1, np.int64)
    order = np.argsort(known, kind="stable")
    pos = np.minimum(np.searchsorted(known, ids, sorter=order), len(known) - 1)
    return np.where(known[order[pos]] == ids, order[pos], -1)


def _after(key: tuple, other: tuple) -> bool:
    """Whether directory key (created_at, id) `key` sorts after `other` (times of one database)."""
    (at, school), (other_at, other_school) = key, other
    if at.tzinfo is None and other_at.tzinfo is not None:
        other_at = other_at.astimezone(dt.UTC).replace(tzinfo=None)
    elif at.tzinfo is not None and other_at.tzinfo is None:
        at = at.astimezone(dt.UTC).replace(tzinfo=None)
    return (at, school) > (other_at, other_school)


async def _read_table(conn: AsyncConnection, locations: bool) -> SchoolColumns:
    """Every row of `schools`, a column at a time: each district and block name looked up once (a
    loop over the rows took ~10 s for 1.08 M schools)."""
    rows = (await conn.execute(
        select(schools.c.id, *_DIRECTORY_ROWS, *(_LOCATION_ROWS if locations else ())).order_by(*_ORDER))).all()
    n = len(rows)
    columns = list(zip(*rows)) if n else [()] * (9 if locations else 7)
    district, block = _places(columns[1], columns[2])
    out = SchoolColumns(np.fromiter(map(int, columns[0]), np.int64, n), district, block,
                        np.array(columns[3:6], np.int32).T.reshape(n, 3).copy(), np.array(columns[6], bool).reshape(n),
                        from_table=n)
    if locations:
        out.latitude = np.array(columns[7], np.float64).reshape(n)
        out.longitude = np.array(columns[8], np.float64).reshape(n)
    return out


def _places(districts: tuple, blocks_: tuple) -> tuple[np.ndarray, np.ndarray]:
    """District and global block indices of names, each distinct name looked up once."""
    blocks = BlockTable.from_geography()
    n = len(districts)
    district_of = {name: geography.district_index(name) for name in set(districts)}
    block_of = {(d, b): blocks.index(district_of[d], b) for d, b in set(zip(districts, blocks_))}
    return (np.fromiter((district_of[d] for d in districts), np.int16, n),
            np.fromiter((block_of[pair] for pair in zip(districts, blocks_)), np.int32, n))
