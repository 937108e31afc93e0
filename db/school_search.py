"""Finding active schools by UDISE code or by a piece of their name or block, ranked, at India's
scale (1.08 M schools).

What is found, and in what order, is one query's: active schools in the caller's area whose code
starts with the text, or whose name or block contains it (case-insensitive), ordered by rank (the
exact code 0, a code prefix 1, a name or block prefix 2, a name or block substring 3), then name,
then code. As that one query it sorted every match by its rank: 2.5 s at India's scale.

Here each rank is read on its own, in name order, until the limit is met. For each rank there are
two ways to read it, and a count of the index's candidates (stopped at `CANDIDATES`) picks one:
- few candidates: take them from an index (the primary key for codes, the names' trigram index,
  the blocks whose names match) and sort just those;
- many: walk the schools in name order (`ix_schools_active_name_id`) and keep those that match,
  which finds the first few soon because they are many.
A rank's condition is the one query's, so the answers are the same; the indexes only narrow."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    false,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from db.areas import area_clauses
from db.school_name_index import FTS_TABLE, NameIndexes
from db.tables import schools
from twin import geography
from twin.area import Area

# Candidates an index may offer before its rank is read by walking the names instead. Walking to
# the first 20 of 1,000 matches among 1.08 M schools reads some 20,000 names (20-40 ms); counting
# to more costs PostgreSQL more, as it counts a common piece of names by reading the table until it
# has them (5,000 at 5% of the names: 100,000 rows, 0.3 s)
CANDIDATES = 1_000
_ROWID = literal_column("schools.rowid")


@dataclass(frozen=True)
class _Part:
    """Schools of one rank found one way: `where` is exact; `candidates` (a superset of it, from an
    index) or None; `name_from` a name no match sorts before, where the walk may start."""

    where: ColumnElement
    candidates: ColumnElement | None = None
    counted: Select | None = None  # the candidates as the index lists them, when cheaper to count than `candidates`
    name_from: str | None = None


async def search(conn: AsyncConnection, q: str, limit: int, area: Area, indexes: NameIndexes) -> list[dict]:
    """The schools matching `q`, best first, at most `limit`, each with its `rank`, with what the
    database offers (`db.school_name_index.describe`)."""
    needle = q.strip().lower()
    sqlite = conn.dialect.name == "sqlite"
    found: list[dict] = []
    for rank, parts in enumerate(_ranks(needle, sqlite, indexes)):
        if len(found) >= limit:
            break
        rows = await _read_rank(conn, parts, area, limit - len(found))
        found += [row | {"rank": rank} for row in rows]
    return found


def _ranks(needle: str, sqlite: bool, indexes: NameIndexes) -> list[list[_Part]]:
    if not needle:  # blanks: every code starts with nothing, so every active school is a code prefix
        return [[], [_Part(true())]]
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    prefix, anywhere = f"{escaped}%", f"%{escaped}%"
    name, block = func.lower(schools.c.name), func.lower(schools.c.block)
    code_prefix = schools.c.id.like(prefix, escape="\\")
    name_prefix, block_prefix = name.like(prefix, escape="\\"), block.like(prefix, escape="\\")
    # UDISE codes are digits: other text starts no code, and a walk looking for one would read every row
    codes = needle.isdigit()
    code_range = and_(schools.c.id >= needle, schools.c.id < _after(needle))
    not_code = not_(code_prefix) if codes else None
    not_ranked = and_(*([not_code] if codes else []), not_(name_prefix), not_(block_prefix))

    def names_starting() -> ColumnElement:
        """Names that start with the text, as a range of the index of lower(name)."""
        if sqlite:  # lower() folds ASCII only there, and the index is in byte order
            return and_(name >= needle, name < _after(needle))
        return name_prefix  # the index's text_pattern_ops make LIKE 'text%' a range

    def names_containing() -> tuple[ColumnElement | None, Select | None]:
        """The names' trigram index's candidates, when it can narrow (3 characters or more), and
        the index's own list of them (counted there: SQLite reads the whole list for an IN)."""
        if len(needle) < 3 or (sqlite and not indexes.fts):
            return None, None
        if sqlite:
            match = select(literal_column("rowid")).select_from(text(FTS_TABLE)).where(
                literal_column(FTS_TABLE).op("MATCH")('"' + needle.replace('"', '""') + '"'))
            return _ROWID.in_(match), match
        return name.like(anywhere, escape="\\"), None  # the GIN index on lower(name)

    def blocks_with(initial: bool) -> ColumnElement:
        """Schools of the blocks whose name has the text: a few hundred names, matched here (blocks
        are the geography's: the API refuses others)."""
        hits = [b for b in _block_names() if (b.lower().startswith(needle) if initial else needle in b.lower())]
        return schools.c.block.in_(hits) if hits else false()

    def without(*clauses: ColumnElement | None) -> ColumnElement:
        return and_(*[c for c in clauses if c is not None])

    # PostgreSQL's lower() folds every letter, and É sorts before é: a floor for ASCII text only
    floor = _ascii_upper(needle) if indexes.byte_order and (sqlite or needle.isascii()) else None
    return [
        [_Part(schools.c.id == needle, schools.c.id == needle)] if codes else [],
        [_Part(and_(code_prefix, schools.c.id != needle), code_range)] if codes else [],
        [_Part(without(name_prefix, not_code), names_starting(), name_from=floor),
         _Part(without(block_prefix, not_code), blocks_with(initial=True))],
        [_Part(and_(name.like(anywhere, escape="\\"), not_ranked), *names_containing()),
         _Part(and_(block.like(anywhere, escape="\\"), not_ranked), blocks_with(initial=False))],
    ]


async def _read_rank(conn: AsyncConnection, parts: list[_Part], area: Area, limit: int) -> list[dict]:
    """The first `limit` schools of one rank in name order: each part read its cheaper way, then
    merged by the database so the order is its own."""
    if not parts:
        return []
    reads = []
    for part in parts:
        if part.candidates is not None and await _few(conn, part):
            # only the candidates' index may lead: with an index on the other terms (is_active, the
            # area's district) or on the order (by name), a planner without statistics (SQLite's)
            # walks every active school testing each against the candidates (1.2 s, not 10 ms)
            read = select(schools).where(*_unindexed(area), part.where, part.candidates) \
                .order_by(schools.c.name.op("||")(""), schools.c.id)
        else:
            floor = [schools.c.name >= part.name_from] if part.name_from else []
            read = select(schools).where(schools.c.is_active.is_(True), *area_clauses(schools, area, "id"),
                                         part.where, *floor).order_by(schools.c.name, schools.c.id)
        reads.append(read.limit(limit))
    if len(reads) == 1:
        query = reads[0]
    else:
        both = union_all(*[select(r.subquery()) for r in reads]).subquery()
        query = select(both).distinct().order_by(both.c.name, both.c.id).limit(limit)
    return [dict(r._mapping) for r in (await conn.execute(query)).all()]


def _unindexed(area: Area) -> list[ColumnElement]:
    """Active schools in `area`, as terms no index can serve (see `_read_rank`)."""
    terms = [func.coalesce(schools.c.is_active, false()).is_(True)]
    for clause in area_clauses(schools, area, school_column="id"):
        terms.append(func.coalesce(clause.left, "") == clause.right)
    return terms


async def _few(conn: AsyncConnection, part: _Part) -> bool:
    """Whether fewer than CANDIDATES schools are among the part's candidates (counting stops there)."""
    listed = part.counted if part.counted is not None else \
        select(literal_column("1")).select_from(schools).where(part.candidates)
    first = listed.limit(CANDIDATES).subquery()
    return int(await conn.scalar(select(func.count()).select_from(first))) < CANDIDATES


def _after(text_: str) -> str:
    """The least string after every string that starts with `text_` (not empty)."""
    return text_[:-1] + chr(ord(text_[-1]) + 1)


def _ascii_upper(text_: str) -> str:
    """The least string (in byte order) whose lower() starts with `text_` (lower case): its ASCII
    letters upper case (upper case sorts first; SQLite folds no other letters, and ASCII `text_`
    only on PostgreSQL)."""
    return "".join(c.upper() if c.isascii() else c for c in text_)


def _block_names() -> list[str]:
    global _BLOCKS
    if _BLOCKS is None:
        _BLOCKS = sorted({b.name for d in geography.districts() for b in d.blocks})
    return _BLOCKS


_BLOCKS: list[str] | None = None


async def search_in_one_query(conn: AsyncConnection, q: str, limit: int, area: Area) -> list[dict]:
    """The same answer as `search` from the one query that ranks and sorts every match (2.5 s at
    India's scale): the reference the tests and `mealtwin bench search` compare `search` with."""
    needle = q.strip().lower()
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    prefix, anywhere = f"{escaped}%", f"%{escaped}%"
    name, block = func.lower(schools.c.name), func.lower(schools.c.block)
    rank = case(
        (schools.c.id == needle, literal(0)),
        (schools.c.id.like(prefix, escape="\\"), literal(1)),
        (or_(name.like(prefix, escape="\\"), block.like(prefix, escape="\\")), literal(2)),
        else_=literal(3),
    ).label("rank")
    query = (
        select(schools, rank)
        .where(schools.c.is_active.is_(True), *area_clauses(schools, area, school_column="id"),
               or_(schools.c.id.like(prefix, escape="\\"), name.like(anywhere, escape="\\"),
                   block.like(anywhere, escape="\\")))
        .order_by(rank, schools.c.name, schools.c.id)
        .limit(limit)
    )
    return [dict(r._mapping) for r in (await conn.execute(query)).all()]
