"""Risk reads: a school's score with its factors, and the cascade view of a block or a district.

The risk desk lives in the state actor (or in-process for tests); `RiskSource` is what this
module needs of it.

No `from __future__ import annotations`: this module defines routes (see `serve_app.api`)."""

from collections.abc import Awaitable, Callable
from typing import Annotated, Protocol

import numpy as np
from fastapi import APIRouter, Depends, Path, Query, Request

from serve_app.access import allowed, block_in_area, district_in_area
from serve_app.app_services import services_of
from serve_app.auth.guard import authenticated
from serve_app.envelope import JSONResponse, ok
from serve_app.examples import envelope
from serve_app.twin_reader import district_index
from twin import geography
from twin.area import STATE, Area
from twin.directory import Directory
from twin.errors import NotFound, Unavailable

API = "/api/v1"


class RiskSource(Protocol):
    async def risk(self, school: int) -> dict | None: ...

    async def cascade_view(self, schools: np.ndarray) -> dict | None: ...

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

    def _view_within(self, view: dict, area: Area) -> dict:
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


_RISK_EXAMPLE = {
    "district": "Ariyalur", "block": "Sendurai", "school_id": "33010100101", "score": 46.5, "level": "medium",
    "local_score": 12.0,
    "factors": [{"factor": "stock", "points": 12.0, "weight": 30.0}, {"factor": "meals", "points": 0.0, "weight": 15.0},
                {"factor": "staleness", "points": 0.0, "weight": 10.0},
                {"factor": "no_meal_streak", "points": 0.0, "weight": 15.0},
                {"factor": "funds", "points": 0.0, "weight": 10.0}, {"factor": "inspection", "points": 0.0, "weight": 5.0},
                {"factor": "shortage", "points": 0.0, "weight": 15.0},
                {"factor": "neighbours", "points": 34.5, "weight": 1.0}],
    "features": {"stock_days": 10.2, "meal_share": 0.86, "days_since_report": 0, "no_meal_streak": 0,
                 "no_meal_days_30": 0, "funds_days": 41.3, "days_since_inspection": None, "inspection_issues": None,
                 "days_since_shortage": None, "closed_today": 0},
    "cascade": {"flagged": True, "pressure": 46.5, "path": [
        {"school_id": "33010100102", "local_risk": 85.0, "pressure": 71.2}]},
    "open_alerts": [],
}
_CASCADE_EXAMPLE = {
    "district": "Ariyalur", "block": "Sendurai", "schools": 112, "by_level": {"low": 98, "medium": 9, "high": 4, "critical": 1},
    "cascade_flagged": 3, "shown": 1,
    "flagged": [{"school_id": "33010100101", "score": 46.5, "level": "medium", "local_score": 12.0,
                 "neighbour_points": 34.5, "sources": [{"school_id": "33010100102", "local_risk": 85.0, "pressure": 71.2}]}],
}
_Id = Annotated[str, Path(description="UDISE code", examples=["33010100101"])]


def _service(request: Request) -> RiskService:
    return services_of(request).risk


def risk_router() -> APIRouter:
    r = APIRouter(prefix=f"{API}/predictions", tags=["risk"], dependencies=[Depends(authenticated)])

    @r.get("/risk/{school_id}", summary="A school's risk score (0-100), level, factors and cascade",
           description="The rule-based score: each factor's points (severity x weight from settings) plus the "
                       "points neighbouring schools add through the cascade; the points add up to the score. "
                       "A cascade-flagged school names the path to the source of its neighbour pressure.",
           responses=envelope(_RISK_EXAMPLE, 404, 503))
    async def risk(request: Request, school_id: _Id) -> JSONResponse:
        return ok(await _service(request).risk(school_id, allowed(request).area))

    @r.get("/risk-factors/{school_id}", summary="The factors behind a school's risk score, and their figures",
           responses=envelope({k: _RISK_EXAMPLE[k] for k in ("school_id", "score", "level", "local_score", "factors",
                                                             "features")}, 404, 503))
    async def risk_factors(request: Request, school_id: _Id) -> JSONResponse:
        return ok(await _service(request).factors(school_id, allowed(request).area))

    @r.get("/cascade/blocks/{name}", summary="Cascade view of a block: schools driven by their neighbours, and why",
           responses=envelope(_CASCADE_EXAMPLE, 404, 422, 503))
    async def cascade_block(request: Request, name: Annotated[str, Path(examples=["Sendurai"])],
                            district: Annotated[str | None, Query(description="needed when the name is not unique")] = None
                            ) -> JSONResponse:
        principal, b = block_in_area(request, name, district)
        return ok(await _service(request).cascade_of_block(b, principal.area))

    @r.get("/cascade/districts/{name}", summary="Cascade view of a district",
           responses=envelope({k: v for k, v in _CASCADE_EXAMPLE.items() if k != "block"}, 404, 503))
    async def cascade_district(request: Request, name: Annotated[str, Path(examples=["Ariyalur"])]) -> JSONResponse:
        principal = allowed(request)
        district_in_area(principal.area, name)
        return ok(await _service(request).cascade_of_district(name, principal.area))

    return r
