"""`mealtwin bench search`: school search by code and name, read by rank through the names' trigram
index (`db.school_search.search`) against the one query that ranks and sorts every match
(`search_in_one_query`, the search before the index), on the same database in the same run.

The database is the one named (it is migrated, and filled by the project's generator when it has no
schools), or a fresh SQLite file of `schools` generated schools. Queries of several shapes are each
timed `runs` times both ways, alternately; every answer of the indexed search must equal the
reference's (`same_answers`)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from sqlalchemy import text

# (shape, text): a code, a code prefix, names' common titles and village names, a block, mixed case,
# a miss, and two letters (below the trigram index's three)
QUERIES = (
    ("exact_code", "33010100101"),
    ("code_prefix_district", "3302"),
    ("code_prefix_state", "33"),
    ("title_prefix", "panchayat union"),
    ("title_word", "middle school"),
    ("village", "alangakulam"),
    ("village_rare", "kila thiruvadi"),
    ("name_piece", "kulam"),
    ("block", "ariyalur"),
    ("mixed_case", "GoVeRnMeNt HiGh"),
    ("miss", "zzqx"),
    ("two_letters", "ku"),
)
LIMIT = 20


async def run(database_url: str | None, schools: int, runs: int, say: Callable[[str], None]) -> dict:
    from benchmarks.workdir import bench_workdir
    from db import school_search
    from db.engine import create_engine
    from db.migrate import upgrade_async
    from db.school_name_index import FTS_TABLE, TRGM_INDEX
    from db.school_repository import SchoolRepository
    from startup.runtime import generate_schools_into
    from twin.area import STATE

    url = database_url or f"sqlite+aiosqlite:///{bench_workdir('mealtwin-bench-search-')}/search.db"
    say(f"migrating {url.split('@')[-1]}")
    await upgrade_async(url)
    engine = create_engine(url)
    repo = SchoolRepository(engine)
    try:
        count = await repo.count()
        if count == 0:
            say(f"generating {schools:,} schools")
            count = await generate_schools_into(repo, schools, 0)
        async with engine.connect() as conn:
            backend = conn.dialect.name
            if backend == "sqlite":
                version = await conn.scalar(text("SELECT sqlite_version()"))
                indexed = await conn.scalar(text("SELECT count(*) FROM sqlite_master WHERE name = :n"), {"n": FTS_TABLE})
                index = f"fts5 trigram (SQLite {version})" if indexed else f"none (SQLite {version})"
            else:
                indexed = await conn.scalar(text("SELECT count(*) FROM pg_indexes WHERE indexname = :n"),
                                            {"n": TRGM_INDEX})
                index = "pg_trgm gin" if indexed else "none (no pg_trgm)"
        shapes: dict[str, dict] = {}
        same = True
        for shape, q in QUERIES:
            say(f"{shape}: {q!r}")
            before, after = [], []
            for _ in range(runs):
                async with engine.connect() as conn:
                    began = time.perf_counter()
                    reference = await school_search.search_in_one_query(conn, q, LIMIT, STATE)
                    before.append(time.perf_counter() - began)
                found_at = time.perf_counter()
                found = await repo.search(q, LIMIT, STATE)
                after.append(time.perf_counter() - found_at)
                same &= [r["id"] for r in found] == [r["id"] for r in reference] \
                    and [r["rank"] for r in found] == [r["rank"] for r in reference]
            shapes[shape] = {"q": q, "hits": len(found), "before_ms": _ms(statistics.median(before)),
                             "after_ms": _ms(statistics.median(after))}
    finally:
        await engine.dispose()
    before_all = [s["before_ms"] for s in shapes.values()]
    after_all = [s["after_ms"] for s in shapes.values()]
    return {"backend": backend, "index": index, "schools": count, "runs": runs, "limit": LIMIT,
            "before_median_ms": _ms(statistics.median(before_all) / 1000),
            "after_median_ms": _ms(statistics.median(after_all) / 1000),
            "after_max_ms": max(after_all),
            "speedup_of_medians": round(statistics.median(before_all) / max(statistics.median(after_all), 1e-3), 1),
            "same_answers": same, "shapes": shapes}


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)
