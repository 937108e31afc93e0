"""Only a database that cannot be reached is told apart as such; a wrong query or a file error is not."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from db.engine import create_engine
from db.outage import database_unreachable
from tests.fixtures.ports import free_port


async def test_a_refused_connection_is_unreachable_and_a_bad_query_is_not(tmp_path):
    nowhere = create_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/postgres")
    with pytest.raises(Exception) as refused:
        async with nowhere.connect():
            pass
    await nowhere.dispose()
    assert database_unreachable(refused.value)

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/x.db")
    with pytest.raises(DBAPIError) as bad:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT * FROM no_such_table"))
    await engine.dispose()
    assert not database_unreachable(bad.value)


def test_an_os_error_outside_the_driver_is_not_the_database(tmp_path):
    with pytest.raises(OSError) as missing:
        (tmp_path / "absent").read_text()
    assert not database_unreachable(missing.value)
