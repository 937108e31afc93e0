"""Selections and groupings of figures the reports already read (no new domain math): schools by
risk level per block or district, funds released against utilised per part of an area, and the
schools' stock days. Plain functions over the service's `SchoolFigures` and risk reads."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Protocol


class _School(Protocol):
    school_id: str
    district: str
    block: str
    figures: dict


def part_of(school: _School, level: str) -> str:
    """The name of the part of a `level` area the school lies in: its district in the state, its
    block in a district, itself in a block."""
    return {"state": school.district, "district": school.block}.get(level, school.school_id)


def levels_by_part(schools: Iterable[_School], risks: dict[str, dict] | None, level: str) -> dict[str, dict] | None:
    """Each part's schools counted by risk level; None when risk scoring is not running."""
    if risks is None:
        return None
    out: dict[str, Counter] = defaultdict(Counter)
    for s in schools:
        r = risks.get(s.school_id)
        if r is not None:
            out[part_of(s, level)][r["level"]] += 1
    return {name: dict(counts) for name, counts in out.items()}


def funds_by_part(schools: Iterable[_School], level: str) -> list[tuple[str, float, float]]:
    """(part, released to its schools, utilised by them: meal cost and other spending), by name."""
    released: dict[str, float] = defaultdict(float)
    utilised: dict[str, float] = defaultdict(float)
    for s in schools:
        funds, part = s.figures["funds"], part_of(s, level)
        released[part] += funds["released_to_schools_inr"]
        utilised[part] += funds["meal_cost_inr"] + funds["other_utilised_inr"]
    return [(name, round(released[name], 2), round(utilised[name], 2)) for name in sorted(released)]


def stock_days(schools: Sequence[_School]) -> list[float | None]:
    return [s.figures["stock_days"] for s in schools]
