"""The schools API: the school register (list, read, create, change, deactivate, search, CSV import
and export), kept in the `schools` table and reflected in the district shards' twins.

No `from __future__ import annotations` here: Serve pickles the routes into its replicas by value,
and string annotations would no longer resolve there (see `serve_app.api`)."""

import asyncio
import datetime as dt
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from functools import cache
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, ValidationInfo, field_validator

from actors.router import ShardRouter
from db.school_repository import SORTABLE, WRITABLE, SchoolFilter, SchoolRepository
from serve_app import school_csv
from serve_app.access import allowed
from serve_app.app_services import services_of
from serve_app.auth.errors import Forbidden
from serve_app.auth.guard import authenticated, caller_of
from serve_app.auth.principal import Permission, Principal
from serve_app.envelope import JSONResponse, ok
from serve_app.examples import envelope
from twin import geography
from twin.area import STATE, Area
from twin.directory import BlockTable, Directory
from twin.errors import InvalidInput, NotFound

log = logging.getLogger(__name__)

API = "/api/v1"
RiskLevel = Literal["low", "medium", "high", "critical"]
UdiseCode = Annotated[str, StringConstraints(pattern=r"^33\d{9}$"),
                      Field(description="11-digit UDISE code of a Tamil Nadu school (starts 33)", examples=["33010100101"])]
MAX_IMPORT_BYTES = 32 * 1024 * 1024  # about 200,000 rows: the whole state's register several times over
SYNC_TIMEOUT_S = 10.0
REFRESH_EVERY_S = 5.0  # a replica reloads the directory for unknown school ids at most this often


@cache
def _blocks() -> BlockTable:
    return BlockTable.from_geography()


class SchoolFields(BaseModel):
    """What a client states about a school (`total_students` is derived: the sum of the bands)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    district: Annotated[str, Field(description="a Tamil Nadu district, e.g. Ariyalur")]
    block: Annotated[str, Field(description="a block (panchayat union) of that district")]
    address: Annotated[str | None, Field(max_length=300)] = None
    latitude: Annotated[float, Field(ge=geography.LAT_RANGE[0], le=geography.LAT_RANGE[1])]
    longitude: Annotated[float, Field(ge=geography.LON_RANGE[0], le=geography.LON_RANGE[1])]
    enrolment_primary: Annotated[int, Field(ge=0, le=20_000, description="children in classes 1-5")]
    enrolment_upper_primary: Annotated[int, Field(ge=0, le=20_000, description="children in classes 6-8")]
    enrolment_secondary: Annotated[int, Field(ge=0, le=20_000, description="children in classes 9-10")]
    capacity: Annotated[int, Field(ge=0, le=50_000, description="children the kitchen can serve a day")]
    has_hostel: bool = False
    breakfast_scheme: bool = False
    depot_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    risk_level: RiskLevel = "low"

    @field_validator("district")
    @classmethod
    def _known_district(cls, value: str) -> str:
        try:
            return geography.district_names()[geography.district_index(value)]
        except KeyError:
            raise ValueError(f"unknown district {value!r}") from None

    @field_validator("block")
    @classmethod
    def _block_of_district(cls, value: str, info: ValidationInfo) -> str:
        district = info.data.get("district")
        if district is None:
            return value  # the district's own error says what is wrong
        try:
            return _blocks().names[_blocks().index(geography.district_index(district), value)]
        except KeyError:
            raise ValueError(f"no block {value!r} in district {district}") from None

    def to_row(self) -> dict:
        row = self.model_dump()
        row["total_students"] = self.enrolment_primary + self.enrolment_upper_primary + self.enrolment_secondary
        return row


class SchoolCreate(SchoolFields):
    id: UdiseCode


class SchoolUpdate(SchoolFields):
    """The whole school as it should be (PUT). `is_active` left out keeps it as it is."""

    is_active: bool | None = None


class SchoolCsvRow(SchoolCreate):
    is_active: bool = True


_EXAMPLE = {
    "id": "33010100101", "name": "PUMS Ariyalur East", "district": "Ariyalur", "block": "Ariyalur",
    "address": "Main Road, Ariyalur", "latitude": 11.14, "longitude": 79.08, "enrolment_primary": 84,
    "enrolment_upper_primary": 30, "enrolment_secondary": 0, "capacity": 140, "has_hostel": False,
    "breakfast_scheme": True, "depot_id": "DEPOT-0", "risk_level": "low",
}


# a school as the endpoints answer it: the table's row
_SCHOOL = {**_EXAMPLE, "total_students": 114, "is_active": True, "created_at": "2025-06-02T09:00:00Z",
           "updated_at": "2025-06-02T09:00:00Z"}
_PAGE = {"schools": [_SCHOOL], "pagination": {"page": 1, "page_size": 50, "total": 1, "pages": 1}}
_IMPORTED = {"created": 1, "updated": 0, "unchanged": 0, "rejected": 1, "rejected_rows": [
    {"line": 3, "id": "33019900001", "errors": [{"field": "block", "message": "no block 'Nowhere' in district Ariyalur"}]}]}


class SchoolService:
    """Endpoint logic over the schools table; every change is pushed to the shard of its district."""

    def __init__(self, repo: SchoolRepository, directory: Directory, router: ShardRouter,
                 refresh_every_s: float = REFRESH_EVERY_S,
                 on_changed: Callable[[], Awaitable[None]] | None = None) -> None:
        self._repo = repo
        self._on_changed = on_changed  # told after changes reach the shards (the risk desk's graph)
        self._directory = directory
        self._router = router
        self._refresh_every_s = refresh_every_s
        self._refreshed_at = -math.inf
        self._refreshing = asyncio.Lock()

    async def refresh_directory(self) -> bool:
        """Take schools registered through other replicas into this replica's directory, at most
        once every `refresh_every_s` (ingest asks whenever it meets an unknown school id, and
        most unknown ids are just wrong). Returns whether the directory grew."""
        async with self._refreshing:
            if time.monotonic() - self._refreshed_at < self._refresh_every_s:
                return False
            self._refreshed_at = time.monotonic()
            before = len(self._directory)
            await self._load_directory()
            return len(self._directory) > before

    async def _load_directory(self) -> Directory | None:
        """A fresh load of the directory, taken into ours; None if ours is not a prefix of it."""
        later, _ = await self._repo.load_directory()
        if not self._directory.extend(later):
            log.error("the schools table no longer starts with this replica's directory: new schools not taken")
            return None
        return later

    async def page(self, where: SchoolFilter, sort: str, page: int, page_size: int) -> dict:
        keys = [k.strip() for k in sort.split(",") if k.strip()]
        bad = [k for k in keys if k.lstrip("-") not in SORTABLE]
        if bad or not keys:
            raise InvalidInput(f"cannot sort by {', '.join(bad) or 'nothing'}; sort by {', '.join(SORTABLE)} "
                               "(prefix - for descending, comma-separated)",
                               {"fields": [{"field": "sort", "message": "not a sortable column"}]})
        rows, total = await self._repo.page(where, keys, (page - 1) * page_size, page_size)
        return {"schools": [_public(r) for r in rows],
                "pagination": {"page": page, "page_size": page_size, "total": total,
                               "pages": math.ceil(total / page_size)}}

    async def get(self, school_id: str, area: Area = STATE) -> dict:
        return _public(await self._row_in(school_id, area))

    async def _row_in(self, school_id: str, area: Area) -> dict:
        """The school's row, when it exists and lies inside `area`: otherwise 404 alike."""
        row = await self._repo.get(school_id) if school_id.isdigit() else None
        if row is None or not area.covers_school(row["district"], row["block"], row["id"]):
            raise NotFound(f"no school {school_id}", {"school_id": school_id})
        return row

    async def create(self, school: SchoolCreate, area: Area = STATE) -> dict:
        if not area.covers_block(school.district, school.block):
            raise Forbidden(f"block {school.district}/{school.block} is outside your area ({area.label()})")
        row = await self._repo.create(school.to_row() | {"is_active": True})
        await self._reflect([row], registered=True)
        return _public(row)

    async def update(self, school_id: str, school: SchoolUpdate, area: Area = STATE) -> tuple[dict, dict]:
        """The school before and after."""
        old = await self._row_in(school_id, area)
        _refuse_move(old, school.district, school.block)
        values = school.to_row()
        if values["is_active"] is None:
            values["is_active"] = old["is_active"]
        row = await self._repo.update(school_id, values)
        if row is None:
            raise NotFound(f"no school {school_id}", {"school_id": school_id})
        await self._reflect([row])
        return _public(old), _public(row)

    async def deactivate(self, school_id: str, area: Area = STATE) -> dict:
        await self._row_in(school_id, area)
        row = await self._repo.update(school_id, {"is_active": False})
        if row is None:
            raise NotFound(f"no school {school_id}", {"school_id": school_id})
        await self._reflect([row])
        return _public(row)

    async def search(self, q: str, limit: int, area: Area = STATE) -> list[dict]:
        return [_public(r) | {"rank": r["rank"]} for r in await self._repo.search(q, limit, area)]

    async def bulk_import(self, body: bytes, area: Area = STATE) -> dict:
        """Upsert the schools of a CSV by id. Bad rows are reported with their line and why; good
        rows are imported; the same file twice changes nothing the second time."""
        if len(body) > MAX_IMPORT_BYTES:
            raise InvalidInput(f"the file is over {MAX_IMPORT_BYTES // 2**20} MiB: split it",
                               {"limit_bytes": MAX_IMPORT_BYTES})
        good, rejected = await asyncio.to_thread(_validate_csv, body)
        if not area.is_state:
            outside = [(line, row) for line, row in good if not area.covers_block(row["district"], row["block"])]
            good = [(line, row) for line, row in good if area.covers_block(row["district"], row["block"])]
            rejected += [{"line": line, "id": row["id"], "errors": [
                {"field": "block", "message": f"outside your area ({area.label()})"}]} for line, row in outside]
        outcome = await self._repo.upsert_many([row for _, row in good], fixed=("district", "block"))
        counts = {"created": 0, "updated": 0, "unchanged": 0}
        changed = []
        for (line, row), result in zip(good, outcome):
            if result.startswith("moved:"):
                rejected.append({"line": line, "id": row["id"], "errors": [
                    {"field": result.partition(":")[2], "message": _MOVE_MESSAGE}]})
                continue
            counts[result] += 1
            if result != "unchanged":
                changed.append(row)
        await self._reflect(changed, registered=counts["created"] > 0)
        rejected.sort(key=lambda r: r["line"])
        return {**counts, "rejected": len(rejected), "rejected_rows": rejected}

    async def export(self, where: SchoolFilter) -> AsyncIterator[str]:
        header = True
        async for rows in self._repo.stream(where):
            yield await asyncio.to_thread(school_csv.format_rows, rows, header)
            header = False
        if header:
            yield school_csv.format_rows([], header=True)

    async def _reflect(self, rows: Sequence[dict], registered: bool = False) -> None:
        """Tell the shards of changed schools (enrolment, active or not). With `registered`
        (some are new), this replica's directory takes the new schools first and every shard
        gets the fresh directory, since each keeps a directory of all schools; otherwise each
        district's shard gets its own changes. The table is already committed, so a shard that
        does not answer is logged, not an error: it loads the table again when it restarts."""
        if not rows:
            return
        changes = [(int(r["id"]), r["enrolment_primary"], r["enrolment_upper_primary"], r["enrolment_secondary"],
                    bool(r["is_active"])) for r in rows]
        later = await self._load_directory() if registered else None
        if later is not None:
            calls = [self._router.sync_schools(changes, later)]
        else:
            by_district: dict[int, list[tuple]] = {}
            for r, change in zip(rows, changes):
                by_district.setdefault(geography.district_index(r["district"]), []).append(change)
            calls = [self._router.shard_of(d).sync_schools(part) for d, part in by_district.items()]
        try:
            results = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), SYNC_TIMEOUT_S)
        except TimeoutError:
            log.warning("shards did not confirm %d school changes in %.0fs", len(rows), SYNC_TIMEOUT_S)
            return
        synced = 0
        for result in results:
            if isinstance(result, BaseException):
                log.warning("shards did not take school changes: %r", result)
                continue
            synced += sum(r["synced"] for r in (result if isinstance(result, list) else [result]))
        if synced < len(changes):
            log.warning("%d of %d changed schools are in no shard's twin", len(changes) - synced, len(changes))
        if self._on_changed is not None:
            try:
                await asyncio.wait_for(self._on_changed(), SYNC_TIMEOUT_S)
            except Exception:  # noqa: BLE001 - the table is committed; risk catches up on its next reload
                log.warning("the risk desk did not take the school changes", exc_info=True)


_MOVE_MESSAGE = ("a school cannot move to another district or block: deactivate it and register it under "
                 "its new UDISE code")


def _refuse_move(old: dict, district: str, block: str) -> None:
    for field, new in (("district", district), ("block", block)):
        if old[field] != new:
            raise InvalidInput(_MOVE_MESSAGE, {"fields": [{"field": field, "message": f"was {old[field]!r}"}]})


def _validate_csv(body: bytes) -> tuple[list[tuple[int, dict]], list[dict]]:
    """(line, row) of every valid row, and the rejected rows with their line and field errors."""
    good: list[tuple[int, dict]] = []
    rejected: list[dict] = []
    first_line: dict[str, int] = {}
    for raw in school_csv.parse(body):
        if raw.problem:
            rejected.append({"line": raw.line, "id": None, "errors": [{"field": None, "message": raw.problem}]})
            continue
        try:
            row = SchoolCsvRow.model_validate(raw.values).to_row()
        except ValidationError as exc:
            errors = [{"field": ".".join(map(str, e["loc"])) or None, "message": e["msg"]} for e in exc.errors()]
            rejected.append({"line": raw.line, "id": raw.values.get("id"), "errors": errors})
            continue
        if row["id"] in first_line:
            rejected.append({"line": raw.line, "id": row["id"], "errors": [
                {"field": "id", "message": f"repeats the school of line {first_line[row['id']]}"}]})
            continue
        first_line[row["id"]] = raw.line
        good.append((raw.line, row))
    if not good and not rejected:
        raise InvalidInput("the file has a header but no schools")
    return good, rejected


def _public(row: dict) -> dict:
    """A table row as the API shows it: timestamps in UTC with a Z."""
    out = {k: row[k] for k in ("id", *WRITABLE, "created_at", "updated_at")}
    for k in ("created_at", "updated_at"):
        t = out[k]
        if isinstance(t, dt.datetime):
            t = t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)
            out[k] = t.strftime("%Y-%m-%dT%H:%M:%SZ")
    return out


def _filter(district: str | None, block: str | None, risk_level: str | None, include_inactive: bool,
            area: Area = STATE) -> SchoolFilter:
    """A filter with names as the table stores them; InvalidInput naming an unknown one."""
    if district is not None:
        try:
            d = geography.district_index(district)
        except KeyError:
            raise InvalidInput(f"unknown district {district!r}", {"fields": [{"field": "district", "message": "unknown"}]}) from None
        district = geography.district_names()[d]
    if block is not None:
        blocks = _blocks()
        matches = [n for i, n in enumerate(blocks.names) if n.lower() == block.strip().lower()
                   and (district is None or int(blocks.district[i]) == geography.district_index(district))]
        if not matches:
            raise InvalidInput(f"no block {block!r}" + (f" in {district}" if district else ""),
                               {"fields": [{"field": "block", "message": "unknown"}]})
        block = matches[0]
    return SchoolFilter(district, block, risk_level, include_inactive, area)


async def _audit(request: Request, principal: Principal, action: str, school: dict | None, **changes) -> None:  # noqa: ANN003
    await services_of(request).accounts.record(
        principal, caller_of(request), action, target=f"school:{school['id']}" if school else None,
        district=school["district"] if school else principal.area.district, **changes)


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
           responses=envelope(_PAGE, 422, message="1 schools"))
    async def list_schools(
        request: Request, district: _District = None, block: _Block = None, risk_level: _Risk = None,
        include_inactive: _Inactive = False,
        sort: Annotated[str, Query(description=f"comma-separated columns of {', '.join(SORTABLE)}; prefix - for descending",
                                   examples=["name", "-total_students", "district,name"])] = "name",
        page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
        page_size: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> JSONResponse:
        where = _filter(district, block, risk_level, include_inactive, allowed(request).area)
        data = await _service(request).page(where, sort, page, page_size)
        return ok(data, f"{data['pagination']['total']} schools")

    @r.get("/search", summary="Search schools by name, UDISE code or block",
           description="Active schools whose UDISE code starts with `q`, or whose name or block contains it "
                       "(case-insensitive). Ranked: exact code (rank 0), code prefix (1), name or block prefix (2), "
                       "name or block substring (3); then by name.",
           responses=envelope([{**_SCHOOL, "rank": 2}], 422, message="1 schools"))
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
           responses={200: {"content": {"text/csv": {"example": school_csv.EXAMPLE}}}})
    async def export_schools(request: Request, district: _District = None, block: _Block = None,
                             risk_level: _Risk = None, include_inactive: _Inactive = False) -> StreamingResponse:
        where = _filter(district, block, risk_level, include_inactive, allowed(request).area)
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
            responses=envelope(_IMPORTED, 422, message="1 created, 0 updated, 0 unchanged, 1 rejected"))
    async def bulk_import(request: Request) -> JSONResponse:
        principal = allowed(request, Permission.SCHOOLS_WRITE)
        body = await request.body()
        out = await _service(request).bulk_import(body, principal.area)
        await _audit(request, principal, "schools.bulk_import", None, after={
            k: out[k] for k in ("created", "updated", "unchanged", "rejected")})
        good = out["created"] + out["updated"] + out["unchanged"]
        message = f"{out['created']} created, {out['updated']} updated, {out['unchanged']} unchanged, {out['rejected']} rejected"
        return ok(out, message, status_code=200 if good or not out["rejected"] else 422)

    @r.get("/{school_id}", summary="A school", description="One school by UDISE code, active or not; 404 if unknown.",
           responses=envelope(_SCHOOL, 404))
    async def get_school(request: Request, school_id: _Id) -> JSONResponse:
        return ok(await _service(request).get(school_id, allowed(request).area))

    @r.post("", status_code=201, summary="Register a school",
            description="Creates an active school. The district and block must exist and the block must be in the "
                        "district; coordinates must lie in Tamil Nadu. 409 CONFLICT if the UDISE code is taken.",
            responses=envelope(_SCHOOL, 409, 422, status=201, message="created"))
    async def create_school(request: Request, school: Annotated[SchoolCreate, Body(examples=[_EXAMPLE])]) -> JSONResponse:
        principal = allowed(request, Permission.SCHOOLS_WRITE)
        created = await _service(request).create(school, principal.area)
        await _audit(request, principal, "schools.create", created, after=created)
        return ok(created, "created", status_code=201)

    @r.put("/{school_id}", summary="Change a school",
           description="Replaces the school's details. A school keeps its district and block (they are part of its "
                       "UDISE code). `is_active: true` restores a deactivated school. 404 if unknown.",
           responses=envelope(_SCHOOL, 404, 422, message="updated"))
    async def update_school(request: Request, school_id: _Id,
                            school: Annotated[SchoolUpdate, Body(examples=[{k: v for k, v in _EXAMPLE.items() if k != "id"}
                                                                           | {"enrolment_primary": 90}])]) -> JSONResponse:
        principal = allowed(request, Permission.SCHOOLS_WRITE)
        before, after = await _service(request).update(school_id, school, principal.area)
        await _audit(request, principal, "schools.update", after, before=before, after=after)
        return ok(after, "updated")

    @r.delete("/{school_id}", summary="Deactivate a school",
              description="Soft delete: the school is kept with `is_active: false`, leaves the lists, search and the "
                          "twin's roll-ups, and can be restored with PUT. 404 if unknown.",
              responses=envelope({**_SCHOOL, "is_active": False}, 404, message="deactivated"))
    async def delete_school(request: Request, school_id: _Id) -> JSONResponse:
        principal = allowed(request, Permission.SCHOOLS_WRITE)
        row = await _service(request).deactivate(school_id, principal.area)
        await _audit(request, principal, "schools.deactivate", row, after={"is_active": False})
        return ok(row, "deactivated")

    return r
