"""The schools table: bulk load of generated schools, and the directory every shard and replica uses."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from db.tables import schools
from twin import geography
from twin.directory import BlockTable, Directory

_CHUNK = 5_000


class SchoolRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def insert_many(self, rows: Iterable[dict], progress=None) -> int:  # noqa: ANN001
        """Insert school rows (dicts of `schools` columns) in chunks; `progress(n)` after each."""
        done, chunk = 0, []
        async with self._engine.begin() as conn:
            for row in rows:
                chunk.append(row)
                if len(chunk) == _CHUNK:
                    await conn.execute(insert(schools), chunk)
                    done += len(chunk)
                    chunk = []
                    if progress:
                        progress(done)
            if chunk:
                await conn.execute(insert(schools), chunk)
                done += len(chunk)
                if progress:
                    progress(done)
        return done

    async def count(self) -> int:
        async with self._engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(schools)))

    async def all(self) -> list[dict]:
        """Every school row, ordered by UDISE code."""
        async with self._engine.connect() as conn:
            return [dict(r._mapping) for r in (await conn.execute(select(schools).order_by(schools.c.id))).all()]

    async def load_directory(self) -> tuple[Directory, np.ndarray]:
        """The directory of active schools ordered by UDISE code (the global school index), and
        their enrolment [N, 3] by band."""
        query = select(
            schools.c.id, schools.c.district, schools.c.block,
            schools.c.enrolment_primary, schools.c.enrolment_upper_primary, schools.c.enrolment_secondary,
        ).where(schools.c.is_active.is_(True)).order_by(schools.c.id)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        blocks = BlockTable.from_geography()
        n = len(rows)
        ids = np.empty(n, np.int64)
        district = np.empty(n, np.int16)
        block = np.empty(n, np.int32)
        enrolment = np.empty((n, 3), np.int32)
        district_of: dict[str, int] = {}
        for i, (sid, dname, bname, p, u, s) in enumerate(rows):
            d = district_of.get(dname)
            if d is None:
                d = district_of[dname] = geography.district_index(dname)
            ids[i], district[i], block[i] = int(sid), d, blocks.index(d, bname)
            enrolment[i] = (p, u, s)
        return Directory(ids, district, block, blocks), enrolment
