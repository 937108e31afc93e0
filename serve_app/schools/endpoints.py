"""The schools API: the school register (list, read, create, change, deactivate, search, CSV import
and export), kept in the `schools` table and reflected in the district shards' twins.

No `from __future__ import annotations` here: Serve pickles the routes into its replicas by value,
and string annotations would no longer resolve there (see `serve_app.app`)."""

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import StreamingResponse

from serve_app.auth.guard import authenticated, caller_of
from serve_app.auth.principal import Permission
from serve_app.schools import csv as school_csv
from serve_app.schools.schemas import (CREATE_EXAMPLE, UPDATE_EXAMPLE, DirectoryEntry, ImportResult, RiskLevel, School,
                                       SchoolCreate, SchoolPage, SchoolUpdate, SearchHit)
from serve_app.schools.service import SORTABLE, SchoolService, school_filter
from serve_app.shared.access import allowed
from serve_app.shared.app_services import services_of
from serve_app.shared.envelope import Envelope, JSONResponse, ok
from serve_app.shared.examples import errors
from serve_app.shared.paths import API
from serve_app.shared.page import PageNumber, PageSize


def _service(request: Request) -> SchoolService:
    return services_of(request).schools


_District = Annotated[str | None, Query(description="district name, e.g. Ariyalur", examples=["Ariyalur"])]
_Block = Annotated[str | None, Query(description="block name; with `district` when the name is not unique", examples=["Sendurai"])]
_Risk = Annotated[RiskLevel | None, Query(description="only schools at this risk level")]
_Inactive = Annotated[bool, Query(description="also list deactivated (soft-deleted) schools")]
_Id = Annotated[str, Path(description="UDISE code", examples=["33010100101"])]


def schools_router() -> APIRouter:
    r = APIRouter(prefix=f"{API}/schools", tags=["schools"], dependencies=[Depends(authenticated)])

    @r.get("", summary="List schools",
           description="Active schools (add `include_inactive=true` for deactivated ones too), filtered by district, "
                       "block and risk level, sorted and paged. `data.pagination` gives page, page_size, total and pages.",
           response_model=Envelope[SchoolPage], responses=errors(422, 503))
    async def list_schools(
        request: Request, district: _District = None, block: _Block = None, risk_level: _Risk = None,
        include_inactive: _Inactive = False,
        sort: Annotated[str, Query(description=f"comma-separated columns of {', '.join(SORTABLE)}; prefix - for descending",
                                   examples=["name", "-total_students", "district,name"])] = "name",
        page: PageNumber = 1,
        page_size: PageSize = 50,
    ) -> JSONResponse:
        where = school_filter(district, block, risk_level, include_inactive, allowed(request).area)
        data = await _service(request).page(where, sort, page, page_size)
        return ok(data, f"{data['pagination']['total']} schools")

    @r.get("/search", summary="Search schools by name, UDISE code or block",
           description="Active schools whose UDISE code starts with `q`, or whose name or block contains it "
                       "(case-insensitive). Ranked: exact code (rank 0), code prefix (1), name or block prefix (2), "
                       "name or block substring (3); then by name.",
           response_model=Envelope[list[SearchHit]], responses=errors(422, 503))
    async def search_schools(
        request: Request,
        q: Annotated[str, Query(min_length=2, max_length=100, examples=["3301", "Ariyalur", "PUMS"])],
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
    ) -> JSONResponse:
        found = await _service(request).search(q, limit, allowed(request).area)
        return ok(found, f"{len(found)} schools")

    @r.get("/export", summary="Export schools as CSV", response_class=StreamingResponse,
           description="The (filtered) schools as CSV, streamed in UDISE code order. The header and cells are the "
                       "bulk-import format, so an exported file re-imports unchanged.",
           responses={200: {"description": "The schools CSV", "content": {
               "text/csv": {"schema": {"type": "string"}, "example": school_csv.EXAMPLE}}}, **errors(422, 503)})
    async def export_schools(request: Request, district: _District = None, block: _Block = None,
                             risk_level: _Risk = None, include_inactive: _Inactive = False) -> StreamingResponse:
        where = school_filter(district, block, risk_level, include_inactive, allowed(request).area)
        return StreamingResponse(_service(request).export(where), media_type="text/csv; charset=utf-8",
                                 headers={"Content-Disposition": 'attachment; filename="schools.csv"'})

    @r.post("/bulk-import", summary="Import schools from CSV",
            description="Send the CSV as the request body with `Content-Type: text/csv` (UTF-8, header row first; "
                        f"columns {', '.join(school_csv.COLUMNS)}; blank cells take their defaults). Rows are "
                        "upserted by `id`: new ones created, changed ones updated, equal ones left unchanged, so "
                        "uploading the same file again changes nothing. Every bad row is reported with its line "
                        "number and the field at fault; the good rows are imported all the same. Answers 422 "
                        "when no row is good.",
            openapi_extra={"requestBody": {"required": True, "content": {
                school_csv.MEDIA_TYPE: {"schema": {"type": "string"}, "example": school_csv.EXAMPLE}}}},
            response_model=Envelope[ImportResult], responses=errors(403, 413, 422, 503))
    async def bulk_import(request: Request) -> JSONResponse:
        principal = allowed(request, Permission.SCHOOLS_WRITE)
        body = await request.body()
        out = await _service(request).bulk_import(body, principal, caller_of(request))
        good = out["created"] + out["updated"] + out["unchanged"]
        message = f"{out['created']} created, {out['updated']} updated, {out['unchanged']} unchanged, {out['rejected']} rejected"
        return ok(out, message, status_code=200 if good or not out["rejected"] else 422)

    @r.get("/{school_id}", summary="A school", description="One school by UDISE code, active or not; 404 if unknown.",
           response_model=Envelope[School], responses=errors(404, 503))
    async def get_school(request: Request, school_id: _Id) -> JSONResponse:
        return ok(await _service(request).get(school_id, allowed(request).area))

    @r.post("", status_code=201, summary="Register a school",
            description="Creates an active school. The district and block must exist and the block must be in the "
                        "district; coordinates must lie in Tamil Nadu. 409 CONFLICT if the UDISE code is taken.",
            response_model=Envelope[School], responses=errors(403, 409, 422, 503))
    async def create_school(request: Request, school: Annotated[SchoolCreate, Body(examples=[CREATE_EXAMPLE])]) -> JSONResponse:
        principal = allowed(request, Permission.SCHOOLS_WRITE)
        created = await _service(request).create(school, principal, caller_of(request))
        return ok(created, "created", status_code=201)

    @r.put("/{school_id}", summary="Change a school",
           description="Replaces the school's details. A school keeps its district and block (they are part of its "
                       "UDISE code). `is_active: true` restores a deactivated school. 404 if unknown.",
           response_model=Envelope[School], responses=errors(403, 404, 422, 503))
    async def update_school(request: Request, school_id: _Id,
                            school: Annotated[SchoolUpdate, Body(examples=[UPDATE_EXAMPLE])]) -> JSONResponse:
        principal = allowed(request, Permission.SCHOOLS_WRITE)
        after = await _service(request).update(school_id, school, principal, caller_of(request))
        return ok(after, "updated")

    @r.delete("/{school_id}", summary="Deactivate a school",
              description="Soft delete: the school is kept with `is_active: false`, leaves the lists, search and the "
                          "twin's roll-ups, and can be restored with PUT. 404 if unknown.",
              response_model=Envelope[School], responses=errors(403, 404, 503))
    async def delete_school(request: Request, school_id: _Id) -> JSONResponse:
        principal = allowed(request, Permission.SCHOOLS_WRITE)
        row = await _service(request).deactivate(school_id, principal, caller_of(request))
        return ok(row, "deactivated")

    return r


def school_directory_router() -> APIRouter:
    """Open to anyone: someone asking for a school admin's account finds the school before signing
    in. Names and places only, a few at a time; the edge limits callers without credentials by address."""
    r = APIRouter(prefix=f"{API}/school-directory", tags=["schools"])

    @r.get("", summary="Find a school by name or UDISE code (no sign-in)",
           description="Active schools whose UDISE code starts with `q` or whose name or block contains it: code, "
                       "name, district and block only. For the account request form.",
           response_model=Envelope[list[DirectoryEntry]], responses=errors(422, 429, 503))
    async def find_school(
        request: Request,
        q: Annotated[str, Query(min_length=3, max_length=100, examples=["33010500100", "Sendurai"])],
        limit: Annotated[int, Query(ge=1, le=20)] = 10,
    ) -> JSONResponse:
        found = await _service(request).directory(q, limit)
        return ok(found, f"{len(found)} schools")

    return r
