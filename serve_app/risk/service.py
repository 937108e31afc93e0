"""Risk reads: a school's score with its factors, and the cascade view of a block or a district.
The risk desk lives in the state actor (or in-process for tests); `RiskSource` is what this
domain needs of it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol

import numpy as np

from serve_app.shared.places import district_index
from twin import geography
from twin.area import STATE, Area
from twin.directory import Directory
from twin.errors import NotFound, Unavailable
from twin.risk_answers import RiskColumns, scores_and_levels


class RiskSource(Protocol):
    async def risk(self, school: int) -> dict | None: ...

    async def cascade_view(self, schools: np.ndarray) -> dict | None: ...

    async def risks(self, schools: np.ndarray) -> list[dict | None] | None: ...

    async def risk_columns(self, schools: np.ndarray) -> RiskColumns | None: ...

    async def schools_changed(self) -> None: ...


class RiskService:
    def __init__(self, directory: Directory, source: RiskSource | None,
                 learned: Callable[[int], Awaitable[dict | None]] | None = None) -> None:
        self._directory = directory
        self._source = source
        self._learned = learned  # the learned model's probability, beside the rules' score

    def _desk(self) -> RiskSource:
        if self._source is None:
            raise Unavailable("risk scoring is not running in this twin")
        return self._source

    async def risk(self, school_id: str, area: Area = STATE) -> dict:
        i = self._directory.index(school_id) if school_id.isdigit() else -1
        found = await self._desk().risk(i) if i >= 0 and area.covers_index(self._directory, i) else None
        if found is None:
            raise NotFound(f"no school {school_id}", {"school_id": school_id})
        found["cascade"]["path"] = self._within(found["cascade"]["path"], area)
        return {"district": geography.district_names()[int(self._directory.school_district[i])],
                "block": self._directory.blocks.names[int(self._directory.school_block[i])], **found,
                "learned": await self._learned_risk(i)}

    async def risks(self, school_ids: list[str], area: Area = STATE) -> dict[str, dict]:
        """The rules' risk of many schools in one read (without history or cascade paths): those
        inside `area` that the desk scores, by school id."""
        # one lookup for them all: a district's report asks for ~30,000 schools at India scale
        index = self._directory.indices([s if s.isdigit() else None for s in school_ids])
        known = index >= 0
        known[known] = area.school_mask(self._directory)[index[known]]
        slots = np.flatnonzero(known)
        if not len(slots):
            return {}
        found = await self._desk().risks(index[slots].astype(np.int64))
        if found is None:
            raise Unavailable("risk scoring is not running in this twin")
        return {school_ids[k]: r for k, r in zip(slots.tolist(), found) if r is not None}

    async def scores(self, index: np.ndarray) -> tuple[np.ndarray, list[float], list[int], np.ndarray]:
        """The rules' score, level code (into `twin.risk.LEVELS`) and cascade flag of many schools
        by directory index, as arrays: which of `index` the desk scores (positions into it), then
        their figures in that order. The caller has checked that `index` lies inside its area. A
        report of the whole state reads these without an answer dict a school."""
        found = await self._desk().risk_columns(np.asarray(index, np.int64))
        if found is None:
            raise Unavailable("risk scoring is not running in this twin")
        scores, levels = await asyncio.to_thread(scores_and_levels, found)
        return found.slot, scores, levels, found.flagged

    async def _learned_risk(self, i: int) -> dict | None:
        if self._learned is None:
            return None
        try:
            return await self._learned(i)
        except Unavailable:  # no model or no reports yet: the rules' score stands alone
            return None

    async def factors(self, school_id: str, area: Area = STATE) -> dict:
        risk = await self.risk(school_id, area)
        return {k: risk[k] for k in ("school_id", "score", "level", "local_score", "factors", "features")}

    async def cascade_of_block(self, b: int, area: Area = STATE) -> dict:
        schools = np.flatnonzero(self._directory.school_block == b)
        d = int(self._directory.blocks.district[b])
        return {"district": geography.district_names()[d], "block": self._directory.blocks.names[b],
                **self._view_within(await self._desk().cascade_view(schools), area)}

    async def cascade_of_district(self, name: str, area: Area = STATE) -> dict:
        d = district_index(name)
        schools = np.flatnonzero(self._directory.school_district == d)
        return {"district": geography.district_names()[d],
                **self._view_within(await self._desk().cascade_view(schools), area)}

    def _view_within(self, view: dict | None, area: Area) -> dict:
        if view is None:  # the state actor has no desk (yet)
            raise Unavailable("risk scoring is not running in this twin")
        for row in view.get("flagged", []):
            row["sources"] = self._within(row["sources"], area)
        return view

    def _within(self, path: list[dict], area: Area) -> list[dict]:
        """A cascade path may run through schools (or a block's depot) outside the caller's area:
        those steps keep their place in the path but say nothing about the place."""
        if area.is_state:
            return path
        out = []
        for step in path:
            if "school_id" in step:
                i = self._directory.index(step["school_id"])
                inside = i >= 0 and area.covers_index(self._directory, i)
            else:  # a depot serves its block: inside when the area is that block or holds it
                inside = step["depot_of_block"] == area.block if area.block else \
                    self._has_block(area, step["depot_of_block"])
            out.append(step if inside else {"outside_your_area": True})
        return out

    def _has_block(self, area: Area, block: str) -> bool:
        try:
            self._directory.blocks.index(area.district_index(), block)  # type: ignore[arg-type]
        except KeyError:
            return False
        return True

