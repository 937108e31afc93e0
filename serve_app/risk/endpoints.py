"""Risk routes: a school's score with its factors, and the cascade view of a block or a district.

No `from __future__ import annotations`: this module defines routes (see `serve_app.app`)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from serve_app.auth.guard import authenticated
from serve_app.risk.schemas import BlockCascade, DistrictCascade, RiskFactors, SchoolRisk
from serve_app.risk.service import RiskService
from serve_app.shared.access import allowed, block_in_area, district_in_area
from serve_app.shared.app_services import services_of
from serve_app.shared.envelope import Envelope, JSONResponse, ok
from serve_app.shared.examples import errors
from serve_app.shared.paths import API

# any string: an id that is not a school's answers 404 like an unknown one
_Id = Annotated[str, Path(description="UDISE code", examples=["33010100101"])]


def _service(request: Request) -> RiskService:
    return services_of(request).risk


def risk_router() -> APIRouter:
    r = APIRouter(prefix=f"{API}/predictions", tags=["risk"], dependencies=[Depends(authenticated)])

    @r.get("/risk/{school_id}", summary="A school's risk score (0-100), level, factors and cascade",
           description="The rule-based score: each factor's points (severity x weight from settings) plus the "
                       "points neighbouring schools add through the cascade; the points add up to the score. "
                       "A cascade-flagged school names the path to the source of its neighbour pressure.",
           response_model=Envelope[SchoolRisk], responses=errors(404, 503))
    async def risk(request: Request, school_id: _Id) -> JSONResponse:
        return ok(await _service(request).risk(school_id, allowed(request).area))

    @r.get("/risk-factors/{school_id}", summary="The factors behind a school's risk score, and their figures",
           response_model=Envelope[RiskFactors], responses=errors(404, 503))
    async def risk_factors(request: Request, school_id: _Id) -> JSONResponse:
        return ok(await _service(request).factors(school_id, allowed(request).area))

    @r.get("/cascade/blocks/{name}", summary="Cascade view of a block: schools driven by their neighbours, and why",
           response_model=Envelope[BlockCascade], responses=errors(404, 422, 503))
    async def cascade_block(request: Request, name: Annotated[str, Path(examples=["Sendurai"])],
                            district: Annotated[str | None, Query(description="needed when the name is not unique")] = None
                            ) -> JSONResponse:
        principal, b = block_in_area(request, name, district)
        return ok(await _service(request).cascade_of_block(b, principal.area))

    @r.get("/cascade/districts/{name}", summary="Cascade view of a district",
           response_model=Envelope[DistrictCascade], responses=errors(404, 503))
    async def cascade_district(request: Request, name: Annotated[str, Path(examples=["Ariyalur"])]) -> JSONResponse:
        principal = allowed(request)
        district_in_area(principal.area, name)
        return ok(await _service(request).cascade_of_district(name, principal.area))

    return r
