"""School search read by rank through the name indexes gives the one ranking query's answers, on
SQLite (FTS5 trigram) and PostgreSQL (pg_trgm), whichever way each rank is read."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from db import school_name_index, school_search
from db.engine import create_engine, writing
from db.school_repository import SchoolRepository
from startup.runtime import generate_schools_into
from twin.area import STATE, Area

QUERIES = (
    "33", "3301", "330101", "33010100101", "panchayat", "PANCHAYAT UNION", "middle school", "high", "kulam",
    "alanga", "ariyalur", "ar", "ku", "  Kila  ", "school, vada", "zzqx", "100%", "k_l", "ecole", "ÉCOLE",
    "mIDDLE", "cheri", "senthurai", "a\"b", "   ",
)


async def _schools(url: str) -> tuple[SchoolRepository, object, list[dict]]:
    engine = create_engine(url)
    repo = SchoolRepository(engine)
    await generate_schools_into(repo, 800, 0)
    first = (await repo.all())[:12]
    # names changed after the bulk load (the index follows), odd names, and schools left out
    await repo.update(first[0]["id"], {"name": "mIDDLE École Kulam"})
    await repo.update(first[1]["id"], {"name": "100% Kulam_School"})
    await repo.update(first[2]["id"], {"name": "Panchayat Union Middle School, Kila Alangakulam"})
    await repo.update(first[3]["id"], {"is_active": False})
    async with writing(engine) as conn:
        await conn.execute(text("DELETE FROM schools WHERE id = :id"), {"id": first[4]["id"]})
    return repo, engine, first


@pytest.mark.parametrize("candidates", [school_search.CANDIDATES, 3])
async def test_the_same_answers_as_the_one_query(database_url, monkeypatch, candidates) -> None:
    # a small limit of candidates: the ranks that have more are walked in name order instead
    monkeypatch.setattr(school_search, "CANDIDATES", candidates)
    repo, engine, _ = await _schools(database_url)
    try:
        district = (await repo.all())[0]["district"]
        for area in (STATE, Area(district=district)):
            for q in QUERIES:
                for limit in (1, 7, 100):
                    found = await repo.search(q, limit, area)
                    async with engine.connect() as conn:
                        expected = await school_search.search_in_one_query(conn, q, limit, area)
                    assert [(r["id"], r["rank"]) for r in found] == [(r["id"], r["rank"]) for r in expected], (q, limit)
    finally:
        await engine.dispose()


async def test_renamed_and_removed_schools_are_found_by_their_new_names_only(database_url) -> None:
    repo, engine, first = await _schools(database_url)
    try:
        assert [r["name"] for r in await repo.search("middle", 1)] == ["mIDDLE École Kulam"]
        assert [r["name"] for r in await repo.search("kulam_s", 10)] == ["100% Kulam_School"]
        assert await repo.search(first[3]["id"], 10) == [] and await repo.search(first[4]["id"], 10) == []
        assert await repo.search("zzqx", 10) == []
    finally:
        await engine.dispose()


async def test_the_migration_makes_the_name_indexes(database_url) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                assert await conn.run_sync(school_name_index.has_fts)
            else:
                names = set((await conn.execute(text("SELECT indexname FROM pg_indexes"))).scalars())
                assert {school_name_index.TRGM_INDEX, school_name_index.LOWER_INDEX} <= names
    finally:
        await engine.dispose()
