"""Async engines for SQLite (embedded default) and PostgreSQL, configured for the event log."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

# Every SQLite connection, the engine's and the event log writer's own: WAL, and an fsync on every
# commit (an event is acked only once durable).
SQLITE_PRAGMAS = ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=30000", "foreign_keys=ON")


def create_engine(url: str, *, pool_size: int = 5, max_overflow: int | None = None,
                  pool_timeout_s: float = 30.0) -> AsyncEngine:
    """An engine for `url`. SQLite runs in WAL mode with full fsync on commit: an event is acked
    only once durable. A connection not free within `pool_timeout_s` raises
    `sqlalchemy.exc.TimeoutError` (the API answers it 503)."""
    parsed = make_url(url)
    overflow = pool_size if max_overflow is None else max_overflow
    if parsed.get_backend_name() == "sqlite":
        in_file = bool(parsed.database) and parsed.database != ":memory:"
        if in_file:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # an in-memory database lives in one connection: no pool to size
        pool = {"pool_size": pool_size, "max_overflow": overflow, "pool_timeout": pool_timeout_s} if in_file else {}
        engine = create_async_engine(url, connect_args={"timeout": 30}, **pool)
        _configure_sqlite(engine)
        return engine
    return create_async_engine(url, pool_size=pool_size, max_overflow=overflow, pool_timeout=pool_timeout_s,
                               pool_pre_ping=True)


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


@asynccontextmanager
async def writing(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A write transaction. On SQLite it takes the write lock at BEGIN (IMMEDIATE): a deferred
    one that reads and then writes fails at once with "database is locked" if another connection
    committed in between, where an immediate one waits its turn (busy timeout)."""
    async with engine.connect() as conn:
        if is_sqlite(engine):
            conn = await conn.execution_options(immediate=True)
        async with conn.begin():
            yield conn


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection, _record):  # noqa: ANN001
        # Let SQLAlchemy, not the driver, decide when transactions begin (pysqlite's legacy
        # behaviour defers BEGIN and breaks SAVEPOINT and locking semantics).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn):  # noqa: ANN001
        # Appends to the log take the write lock up front (execution option `immediate`), so that
        # reading the last seq and writing the next ones happen under one lock.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("immediate") else "BEGIN")
