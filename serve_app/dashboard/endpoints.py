"""Routes of the dashboard's own reads (`/api/v1/dashboard/...`): the map of the caller's area
in binary, its risk levels again, the places, and a district's blocks. Each is cut to the
caller's area as every other read is.

No `from __future__ import annotations` here: Serve pickles the routes into its replicas by value."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from serve_app.auth.guard import authenticated
from serve_app.dashboard.service import DashboardService
from serve_app.shared.access import allowed, district_in_area
from serve_app.shared.app_services import services_of
from serve_app.shared.envelope import Envelope, JSONResponse, ok
from serve_app.shared.examples import errors
from serve_app.shared.paths import API
from serve_app.dashboard.schemas import DistrictBlocks, Places

_BINARY = {200: {"description": "the binary form described in `serve_app.dashboard.binary`",
                 "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}


def _dashboard(request: Request) -> DashboardService:
    return services_of(request).dashboard


def dashboard_router() -> APIRouter:
    r = APIRouter(prefix=f"{API}/dashboard", tags=["dashboard"], dependencies=[Depends(authenticated)])

    @r.get("/map", summary="Every active school of your area: code, place, block, district, risk level (binary)",
           response_class=Response, responses={**_BINARY, **errors(503)})
    async def school_map(request: Request) -> Response:
        area = allowed(request).area
        body, version = await _dashboard(request).map(area)
        return Response(body, media_type="application/octet-stream", headers={"X-Levels-Version": version})

    @r.get("/levels", summary="The risk level of every school of the map, in its order, or what changed (binary)",
           description="The answer's `X-Levels-Version` header names the levels it brings the page to. Sent "
                       "back as `since`, the next answer holds only the schools whose level changed since "
                       "(`MTC1`); a version this replica does not keep (one it never read, or one too old) gets "
                       "every level again (`MTL1`).",
           response_class=Response, responses={**_BINARY, **errors(422, 503)})
    async def school_levels(request: Request, since: Annotated[str | None, Query(
            max_length=16, pattern=r"^[0-9a-f]{16}$",
            description="the `X-Levels-Version` of the levels the page holds")] = None) -> Response:
        area = allowed(request).area
        body, version = await _dashboard(request).levels(area, since)
        return Response(body, media_type="application/octet-stream", headers={"X-Levels-Version": version})

    @r.get("/places", summary="The districts and blocks the map's indices name, and which are in your area",
           response_model=Envelope[Places], responses=errors(503))
    async def places(request: Request) -> JSONResponse:
        return ok(_dashboard(request).places(allowed(request).area))

    @r.get("/districts/{name}/blocks", summary="A district's blocks with their live roll-ups",
           response_model=Envelope[DistrictBlocks], responses=errors(404, 503))
    async def district_blocks(request: Request, name: str) -> JSONResponse:
        area = allowed(request).area
        if area.block is None:
            district_in_area(area, name)
        return ok(await _dashboard(request).district_blocks(name, area))

    return r
