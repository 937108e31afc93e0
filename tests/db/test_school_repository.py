"""The school repository on SQLite and PostgreSQL: pages, search ranking, upserts, the directory."""

import asyncio
import sys

import numpy as np
import pytest

from db.engine import create_engine
from db.school_repository import SchoolFilter, SchoolRepository
from tests.fixtures.builders import small_directory
from tests.fixtures.schools import school_rows
from twin.errors import Conflict

DIRECTORY, ENROLMENT = small_directory()
ROWS = school_rows(DIRECTORY, ENROLMENT)


@pytest.fixture
async def repo(seeded_url):
    engine = create_engine(seeded_url)
    yield SchoolRepository(engine)
    await engine.dispose()


async def test_pages_filter_sort_and_count(repo):
    rows, total = await repo.page(SchoolFilter(district="Ariyalur"), ["-total_students"], 0, 5)
    ariyalur = [r for r in ROWS if r["district"] == "Ariyalur"]
    assert total == len(ariyalur) == 12
    assert [r["total_students"] for r in rows] == sorted((r["total_students"] for r in ariyalur), reverse=True)[:5]
    second, _ = await repo.page(SchoolFilter(district="Ariyalur"), ["-total_students"], 5, 5)
    assert not {r["id"] for r in rows} & {r["id"] for r in second}
    by_block, total = await repo.page(SchoolFilter(district="Ariyalur", block="Sendurai"), ["name"], 0, 50)
    assert total == 2 and all(r["block"] == "Sendurai" for r in by_block)
    _, none = await repo.page(SchoolFilter(risk_level="high"), ["id"], 0, 50)
    assert none == 0


async def test_inactive_schools_leave_lists_and_search_but_keep_their_directory_index(repo):
    before, _ = await repo.load_directory()
    gone = ROWS[3]["id"]
    assert (await repo.update(gone, {"is_active": False}))["is_active"] is False
    _, active = await repo.page(SchoolFilter(), ["id"], 0, 200)
    _, everything = await repo.page(SchoolFilter(include_inactive=True), ["id"], 0, 200)
    assert (active, everything) == (len(ROWS) - 1, len(ROWS))
    assert gone not in [r["id"] for r in await repo.search(gone, 10)]
    after, enrolment = await repo.load_directory()
    np.testing.assert_array_equal(after.school_ids, before.school_ids)
    assert after.index(gone) == before.index(gone) and not after.school_active[after.index(gone)]
    assert after.school_active.sum() == len(ROWS) - 1
    np.testing.assert_array_equal(enrolment, ENROLMENT)


async def test_search_ranks_exact_code_then_code_prefix_then_name_or_block_prefix_then_substring(repo):
    target = ROWS[2]["id"]  # 33010100100
    found = await repo.search(target, 10)
    assert found[0]["id"] == target and found[0]["rank"] == 0
    prefix = await repo.search("3301", 50)
    assert {r["rank"] for r in prefix} == {1} and len(prefix) == 12
    await repo.update(ROWS[0]["id"], {"name": "Sendurai Girls School"})  # a name prefix
    await repo.update(ROWS[1]["id"], {"name": "Old Sendurai Road School"})  # a name substring
    ranked = await repo.search("sendurai", 10)
    ranks = [r["rank"] for r in ranked]
    assert ranks == sorted(ranks) and ranks[-1] == 3
    assert ROWS[1]["id"] == ranked[-1]["id"]
    assert {r["id"] for r in ranked if r["rank"] == 2} >= {ROWS[0]["id"]} | {
        r["id"] for r in ROWS if r["block"] == "Sendurai"}
    assert await repo.search("100%", 10) == []  # wildcards in the query are literal


async def test_create_refuses_a_taken_id(repo):
    row = ROWS[0] | {"name": "Another"}
    with pytest.raises(Conflict):
        await repo.create(row)
    fresh = await repo.create(ROWS[0] | {"id": "33019900001"})
    assert fresh["name"] == ROWS[0]["name"] and fresh["created_at"] is not None


async def test_a_later_directory_extends_an_earlier_one(repo):
    earlier, _ = await repo.load_directory()
    await repo.create(ROWS[0] | {"id": "33019900001"})  # sorts among the first district's codes
    await repo.upsert_many([ROWS[0] | {"id": "33000000001"}, ROWS[1] | {"id": "33000000002"}])
    later, enrolment = await repo.load_directory()
    assert later.school_ids[len(earlier):].tolist() == [33019900001, 33000000001, 33000000002]
    assert enrolment[-1].tolist() == [ROWS[1]["enrolment_primary"], ROWS[1]["enrolment_upper_primary"],
                                      ROWS[1]["enrolment_secondary"]]
    index_before = {int(x): earlier.index(x) for x in earlier.school_ids}
    assert earlier.extend(later) and len(earlier) == len(later)
    assert all(earlier.index(x) == i for x, i in index_before.items())
    assert earlier.index("33000000002") == len(later) - 1
    reordered, _ = await repo.load_directory()
    reordered.school_ids[[0, 1]] = reordered.school_ids[[1, 0]]
    assert not later.extend(reordered)  # not a prefix: refused, nothing changes


async def test_upsert_is_idempotent_and_refuses_a_move(repo):
    changed = ROWS[0] | {"capacity": ROWS[0]["capacity"] + 5}
    moved = ROWS[1] | {"block": "Thirumanur"}
    new = ROWS[2] | {"id": "33019900002"}
    outcome = await repo.upsert_many([changed, moved, new, ROWS[4]], fixed=("district", "block"))
    assert outcome == ["updated", "moved:block", "created", "unchanged"]
    assert (await repo.get(ROWS[1]["id"]))["block"] == ROWS[1]["block"]
    assert await repo.upsert_many([changed, new, ROWS[4]], fixed=("district", "block")) == ["unchanged"] * 3
    assert await repo.count() == len(ROWS) + 1


async def test_stream_yields_every_match_in_id_order(repo):
    chunks = [chunk async for chunk in repo.stream(SchoolFilter(), chunk=5)]
    ids = [r["id"] for chunk in chunks for r in chunk]
    assert ids == sorted(r["id"] for r in ROWS) and len(chunks) == 7


async def test_a_bulk_load_into_an_empty_table_ends_with_every_index_and_a_name_ordered_page_uses_one(database_url):
    from sqlalchemy import inspect, text

    from db.tables import schools

    engine = create_engine(database_url)
    try:
        repo = SchoolRepository(engine)
        assert await repo.insert_many(ROWS) == len(ROWS)
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda sync: {i["name"] for i in inspect(sync).get_indexes("schools")})
            assert {index.name for index in schools.indexes} <= names
            if database_url.startswith("sqlite"):
                plan = " ".join(str(row[-1]) for row in (await conn.execute(text(
                    "EXPLAIN QUERY PLAN SELECT * FROM schools WHERE is_active = 1 ORDER BY name, id LIMIT 200"))).all())
                assert "ix_schools_active_name_id" in plan and "TEMP B-TREE" not in plan, plan
        rows, total = await repo.page(SchoolFilter(), ["name"], 0, 5)
        assert total == len(ROWS) and [r["name"] for r in rows] == sorted(r["name"] for r in ROWS)[:5]
        assert await repo.insert_many([]) == 0  # a table with rows keeps its indexes
    finally:
        await engine.dispose()


async def test_a_registration_during_a_bulk_import_comes_after_it_in_every_directory_loaded(repo):
    """A bulk import's transaction has stamped its new schools and not yet committed when a school
    is registered: the registration waits for the import (on SQLite for the write lock, on
    PostgreSQL for the registrations' lock), so a directory loaded meanwhile is a prefix of every
    later one and the running twin can take the new schools."""
    from db.engine import writing

    importing = writing(repo._engine)
    conn = await importing.__aenter__()
    try:
        await repo._register_rows(conn, [ROWS[0] | {"id": "33000000001"}, ROWS[1] | {"id": "33000000002"}])
        registering = asyncio.create_task(repo.create(ROWS[2] | {"id": "33000000003"}))
        await asyncio.sleep(1.0)  # time enough for the registration to commit, were it not waiting
        meanwhile, _ = await repo.load_directory()
    except BaseException:
        await importing.__aexit__(*sys.exc_info())
        raise
    await importing.__aexit__(None, None, None)
    await registering
    later, _ = await repo.load_directory()
    assert later.school_ids[-3:].tolist() == [33000000001, 33000000002, 33000000003]
    assert meanwhile.extend(later)  # the directory loaded meanwhile is a prefix of the later one
