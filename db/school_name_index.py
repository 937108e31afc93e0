"""The indexes that find schools by their name: one of lower(name), for names that start with a
text; and one of the names' trigrams, for names that contain it: on SQLite an FTS5 table of the
names with the trigram tokenizer, kept in step with `schools` by triggers; on PostgreSQL a pg_trgm
GIN index on lower(name). The trigrams answer "which names contain this" from the index, where a
LIKE '%...%' reads every row (2.5 s for India's 1.08 M schools).

Neither is essential: without one (SQLite older than 3.34 or built without FTS5, PostgreSQL without
the pg_trgm extension or the right to create it) the search gives the same answers by reading the
rows, and creating the index says why it was left out.

The FTS5 table holds no copy of the names (`content='schools'`): it indexes the rows by rowid. A
migration that copies `schools` into a new table on SQLite (Alembic's batch mode) drops the
triggers and may renumber the rows: it must call `create` again afterwards."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

log = logging.getLogger(__name__)

FTS_TABLE = "schools_name_fts"
TRGM_INDEX = "ix_schools_name_trgm"
LOWER_INDEX = "ix_schools_lower_name"
_TRIGGERS = {
    "schools_name_fts_insert": f"""CREATE TRIGGER schools_name_fts_insert AFTER INSERT ON schools BEGIN
        INSERT INTO {FTS_TABLE}(rowid, name) VALUES (new.rowid, new.name); END""",
    "schools_name_fts_delete": f"""CREATE TRIGGER schools_name_fts_delete AFTER DELETE ON schools BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, name) VALUES ('delete', old.rowid, old.name); END""",
    "schools_name_fts_update": f"""CREATE TRIGGER schools_name_fts_update AFTER UPDATE OF name ON schools BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, name) VALUES ('delete', old.rowid, old.name);
        INSERT INTO {FTS_TABLE}(rowid, name) VALUES (new.rowid, new.name); END""",
}


def create(conn: Connection) -> str | None:
    """Create the name index on `conn`'s database and fill it from the rows already there. Returns
    None when made, else why not (the search then reads the rows)."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS {LOWER_INDEX} ON schools (lower(name))")
        return _create_fts(conn)
    # text_pattern_ops: LIKE 'text%' as a range of the index whatever the database's collation
    conn.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS {LOWER_INDEX} ON schools (lower(name) text_pattern_ops)")
    why_not = _create_trgm(conn)
    # the planner knows how many names start with a text only from statistics of lower(name), which
    # ANALYZE gathers once the index exists: without them it sorted 800,000 matches (0.7 s)
    conn.exec_driver_sql("ANALYZE schools")
    return why_not


def drop(conn: Connection) -> None:
    conn.exec_driver_sql(f"DROP INDEX IF EXISTS {LOWER_INDEX}")
    if conn.dialect.name == "sqlite":
        for trigger in _TRIGGERS:
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger}")
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {FTS_TABLE}")
    else:
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {TRGM_INDEX}")


def _create_fts(conn: Connection) -> str | None:
    try:
        conn.exec_driver_sql(f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5("
                             "name, content='schools', content_rowid='rowid', tokenize='trigram')")
    except OperationalError as exc:  # no FTS5, or no trigram tokenizer (SQLite before 3.34)
        why = f"SQLite {conn.exec_driver_sql('SELECT sqlite_version()').scalar()} cannot make it: {exc.orig}"
        log.warning("school name search without an index (reads every row): %s", why)
        return why
    for name, ddl in _TRIGGERS.items():
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
        conn.exec_driver_sql(ddl)
    conn.exec_driver_sql(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")
    return None


def _create_trgm(conn: Connection) -> str | None:
    # in a savepoint: a refused CREATE EXTENSION would otherwise abort the whole migration
    try:
        with conn.begin_nested():
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DBAPIError as exc:
        why = f"the pg_trgm extension is not available: {exc.orig}"
        log.warning("school name search without an index (reads every row): %s", why)
        return why
    conn.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS {TRGM_INDEX} ON schools USING gin (lower(name) gin_trgm_ops)")
    return None


@dataclass(frozen=True)
class NameIndexes:
    """What a database offers the search: the names' FTS5 table (SQLite), and whether names sort
    in byte order (SQLite always; PostgreSQL when its collation is C), so that a name a prefix's
    matches cannot sort before is known."""

    fts: bool
    byte_order: bool


def describe(conn: Connection) -> NameIndexes:
    if conn.dialect.name == "sqlite":
        return NameIndexes(fts=has_fts(conn), byte_order=True)
    collation = conn.exec_driver_sql(
        "SELECT datcollate FROM pg_database WHERE datname = current_database()").scalar()
    return NameIndexes(fts=False, byte_order=collation in _BYTE_ORDER)


_BYTE_ORDER = ("C", "POSIX", "C.UTF-8", "C.utf8")


def has_fts(conn: Connection) -> bool:
    """Whether this SQLite database has the names' FTS5 table (False on PostgreSQL)."""
    if conn.dialect.name != "sqlite":
        return False
    return conn.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                                (FTS_TABLE,)).first() is not None


@asynccontextmanager
async def set_aside(conn: AsyncConnection) -> AsyncIterator[None]:
    """Around a bulk load into an empty table: the index is left out while the rows go in and
    built once at the end, as the table's other indexes are (`SchoolRepository.insert_many`): kept
    up row by row, the trigrams of 1.08 M names come in random order."""
    present = await conn.run_sync(_present)
    if present:
        await conn.run_sync(drop)
    yield
    if present:
        await conn.run_sync(create)


def _present(conn: Connection) -> bool:
    if conn.dialect.name == "sqlite":
        return conn.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?",
                                    (LOWER_INDEX,)).first() is not None
    return conn.execute(text("SELECT 1 FROM pg_indexes WHERE indexname = :name"),
                        {"name": LOWER_INDEX}).first() is not None
