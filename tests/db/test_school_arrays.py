"""The directory kept as arrays (`db.school_arrays`), on SQLite and PostgreSQL: what a process loads
from the stored arrays and the rows changed since is exactly what a read of the whole table gives,
whatever changed in between (new schools, enrolment, deactivation, locations), and anything the
arrays cannot account for sends the reader back to the table."""

import asyncio
import datetime as dt

import numpy as np
import pytest
from sqlalchemy import insert, select, update

from db import school_arrays
from db.engine import create_engine, is_sqlite, writing
from db.school_repository import SchoolRepository
from db.tables import school_arrays as school_arrays_table
from db.tables import schools
from tests.fixtures.builders import small_directory
from tests.fixtures.schools import school_rows

DIRECTORY, ENROLMENT = small_directory()
ROWS = [row | {"latitude": 11.0 + i / 100, "longitude": 78.0 + i / 200}
        for i, row in enumerate(school_rows(DIRECTORY, ENROLMENT))]


@pytest.fixture
async def engine(database_url):
    engine = create_engine(database_url)
    await SchoolRepository(engine).insert_many(ROWS)
    yield engine
    await engine.dispose()


async def _from_table(engine) -> school_arrays.SchoolColumns:
    async with engine.connect() as conn:
        return await school_arrays._read_table(conn, locations=True)


def _assert_same(loaded: school_arrays.SchoolColumns, table: school_arrays.SchoolColumns) -> None:
    for name in ("ids", "district", "block", "enrolment", "active", "latitude", "longitude"):
        got, want = getattr(loaded, name), getattr(table, name)
        assert got.dtype == want.dtype, name
        np.testing.assert_array_equal(got, want, err_msg=name)


async def test_stored_arrays_load_as_the_table_reads_without_reading_its_rows(engine):
    assert (await school_arrays.load(engine)).stored_version is None  # nothing stored yet: the table
    stored = await SchoolRepository(engine).store_arrays()
    loaded = await school_arrays.load(engine, locations=True)
    assert loaded.stored_version == stored.stored_version and loaded.from_table == 0
    _assert_same(loaded, await _from_table(engine))
    np.testing.assert_array_equal(loaded.ids, DIRECTORY.school_ids)
    directory, enrolment = await SchoolRepository(engine).load_directory()
    np.testing.assert_array_equal(directory.school_block, DIRECTORY.school_block)
    np.testing.assert_array_equal(enrolment, ENROLMENT)
    assert directory.index(ROWS[5]["id"]) == 5
    without = await school_arrays.load(engine)
    assert without.latitude is None and without.from_table == 0


async def test_schools_registered_and_changed_after_the_arrays_are_read_from_the_table(engine):
    repo = SchoolRepository(engine)
    await repo.store_arrays()
    earlier, _ = await repo.load_directory()
    await repo.create(ROWS[0] | {"id": "33019900001", "latitude": 12.5})  # sorts among the first codes
    await repo.upsert_many([ROWS[1] | {"id": "33000000002"}, ROWS[2] | {"enrolment_primary": 999}])
    await repo.update(ROWS[3]["id"], {"is_active": False, "longitude": 79.25})
    loaded = await school_arrays.load(engine, locations=True)
    assert loaded.stored_version is not None and loaded.from_table == 4
    _assert_same(loaded, await _from_table(engine))
    assert loaded.ids[-2:].tolist() == [33019900001, 33000000002]
    assert loaded.enrolment[2, 0] == 999 and not loaded.active[3] and loaded.longitude[3] == 79.25
    later, _ = await repo.load_directory()
    assert earlier.extend(later) and earlier.index("33000000002") == len(ROWS) + 1  # indices never shift
    stored_again = await school_arrays.refresh(engine)  # the twin's start stores them anew ...
    assert stored_again.stored_version > loaded.stored_version
    assert (await school_arrays.refresh(engine)).stored_version == stored_again.stored_version  # ... once
    _assert_same(await school_arrays.load(engine, locations=True), await _from_table(engine))
    async with engine.connect() as conn:
        versions = (await conn.execute(select(school_arrays_table.c.version).distinct())).scalars().all()
    assert versions == [stored_again.stored_version]  # older versions dropped


async def test_a_change_begun_before_the_arrays_were_stored_and_committed_after_is_read(engine):
    """A transaction open while the arrays are stored: on SQLite the store waits for it; on
    PostgreSQL it may be stored meanwhile, so the change must be stamped when it is written,
    not when its transaction began (`SchoolRepository._stamp`)."""
    repo = SchoolRepository(engine)
    changing = writing(engine)
    conn = await changing.__aenter__()
    try:
        await conn.execute(select(1))
        storing = asyncio.create_task(repo.store_arrays())
        if not is_sqlite(engine):
            await storing  # stored while the transaction is open
        await asyncio.sleep(0.2)
        await conn.execute(update(schools).where(schools.c.id == ROWS[4]["id"])
                           .values(enrolment_secondary=777, updated_at=repo._stamp()))
    except BaseException:
        await changing.__aexit__(None, None, None)
        raise
    await changing.__aexit__(None, None, None)
    await storing
    loaded = await school_arrays.load(engine)
    assert loaded.enrolment[4, 2] == 777
    _assert_same(await school_arrays.load(engine, locations=True), await _from_table(engine))


async def test_rows_the_arrays_cannot_account_for_send_the_reader_to_the_table(engine):
    """A row added by hand with an old stamp (the count differs), or a school that sorts before the
    last stored one: the whole table is read, and gives what it holds."""
    repo = SchoolRepository(engine)
    await repo.store_arrays()
    old = dt.datetime(2020, 1, 1)
    async with writing(engine) as conn:
        await conn.execute(insert(schools).values(**(ROWS[0] | {"id": "33000000009"}), created_at=old, updated_at=old))
    loaded = await school_arrays.load(engine, locations=True)
    assert loaded.stored_version is None and loaded.from_table == len(ROWS) + 1
    assert loaded.ids[0] == 33000000009  # registered "first", by its stamp
    _assert_same(loaded, await _from_table(engine))

    await repo.store_arrays()
    async with writing(engine) as conn:  # registered before the stored last school, but stamped as changed now
        await conn.execute(insert(schools).values(**(ROWS[0] | {"id": "33000000008"}), created_at=old,
                                                  updated_at=repo._stamp()))
    loaded = await school_arrays.load(engine, locations=True)
    assert loaded.stored_version is None
    _assert_same(loaded, await _from_table(engine))


async def test_an_empty_register_stores_and_loads(database_url):
    engine = create_engine(database_url)
    try:
        stored = await school_arrays.store(engine)
        assert len(stored) == 0
        loaded = await school_arrays.load(engine, locations=True)
        assert len(loaded) == 0 and loaded.stored_version == stored.stored_version
        await SchoolRepository(engine).insert_many(ROWS[:3])
        loaded = await school_arrays.load(engine, locations=True)
        assert loaded.from_table == 3
        _assert_same(loaded, await _from_table(engine))
    finally:
        await engine.dispose()


async def test_risk_levels_are_set_and_leave_the_arrays_as_they_were(engine):
    """The risk desk's levels are not part of the arrays: setting them (every school's, most
    unchanged, as the desk's first round does) changes no `updated_at`."""
    repo = SchoolRepository(engine)
    await repo.store_arrays()
    await repo.set_risk_levels([(row["id"], "high" if i % 3 == 0 else "low") for i, row in enumerate(ROWS)], chunk=7)
    got = {r["id"]: r["risk_level"] for r in await repo.all()}
    assert got == {row["id"]: "high" if i % 3 == 0 else "low" for i, row in enumerate(ROWS)}
    assert (await school_arrays.load(engine)).from_table == 0
