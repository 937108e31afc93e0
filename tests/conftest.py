"""Shared fixtures: a fresh database per test on SQLite and on PostgreSQL, seeded with schools."""

from __future__ import annotations

import os
import tempfile

import pytest

# Tests sign many users in and send many requests from one address: cheap hashing and wide limits
# here; the defaults (bcrypt at 12 rounds, 60 requests a minute) have tests of their own.
os.environ.setdefault("MEALTWIN_DATA_DIR", tempfile.mkdtemp(prefix="mealtwin-test-"))
os.environ.setdefault("MEALTWIN_AUTH__BCRYPT_ROUNDS", "4")
for _limit in ("REQUESTS_PER_MINUTE", "USER_REQUESTS_PER_MINUTE", "KEY_REQUESTS_PER_MINUTE", "LOGIN_PER_MINUTE",
               "INGEST_PER_MINUTE"):
    os.environ.setdefault(f"MEALTWIN_LIMITS__{_limit}", "1000000")

from db.engine import create_engine
from db.migrate import upgrade_async
from db.school_repository import SchoolRepository
from tests.fixtures import databases
from tests.fixtures.builders import small_directory
from tests.fixtures.schools import school_rows

_pg_state: dict = {}


async def _postgres_template() -> None:
    if "reason" not in _pg_state:
        _pg_state["reason"] = await databases.postgres_available()
        if _pg_state["reason"] is None:
            await databases.create_template()
    databases.require_postgres(_pg_state["reason"])


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request, tmp_path):
    """An empty, migrated database; each test gets its own."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/twin.db"
        await upgrade_async(url)
        yield url
        return
    await _postgres_template()
    name, url = await databases.clone_template()
    yield url
    await databases.drop(name)


@pytest.fixture
async def seeded_url(database_url):
    """A database holding the small test directory's schools."""
    directory, enrolment = small_directory()
    engine = create_engine(database_url)
    await SchoolRepository(engine).insert_many(school_rows(directory, enrolment))
    await engine.dispose()
    return database_url


@pytest.fixture
async def sqlite_seeded(tmp_path):
    """The small test directory's schools on SQLite only, for tests that do not depend on the engine."""
    url = f"sqlite+aiosqlite:///{tmp_path}/twin.db"
    await upgrade_async(url)
    engine = create_engine(url)
    await SchoolRepository(engine).insert_many(school_rows(*small_directory()))
    await engine.dispose()
    return url


def pytest_sessionfinish(session, exitstatus):
    if _pg_state.get("reason", "unset") is None:
        import asyncio

        asyncio.run(databases.drop(databases.TEMPLATE))


@pytest.fixture(scope="session")
def ray_session():
    """One local Ray for the whole session (starting it costs seconds)."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=512 * 1024 * 1024,
             namespace="mealtwin", log_to_driver=False)
    yield
    ray.shutdown()
