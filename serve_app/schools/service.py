"""The school register's logic: list, read, create, change, deactivate, search, CSV import and
export over the `schools` table, every change reflected in the shard of its district and written
to the audit log."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from pydantic import ValidationError

from actors.router import ShardRouter
from db.times import iso
from db.school_repository import SORTABLE, WRITABLE, SchoolFilter, SchoolRepository
from serve_app.auth.errors import Forbidden
from serve_app.schools import csv as school_csv
from serve_app.schools.schemas import SchoolCreate, SchoolCsvRow, SchoolUpdate, blocks
from serve_app.shared.page import bounded_offset, pagination
from twin import geography
from twin.area import STATE, Area
from twin.directory import Directory
from twin.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from serve_app.auth.principal import Caller, Principal

__all__ = ["SORTABLE", "SchoolFilter", "SchoolService", "school_filter"]

log = logging.getLogger(__name__)

MAX_IMPORT_BYTES = 32 * 1024 * 1024  # about 200,000 rows: the whole state's register several times over
SYNC_TIMEOUT_S = 10.0
REFRESH_EVERY_S = 5.0  # a replica reloads the directory for unknown school ids at most this often
# record(principal, caller, action, **fields): an audit entry (`Accounts.record`)
AuditRecord = Callable[..., Awaitable[None]]


class SchoolService:
    """Endpoint logic over the schools table; every change is pushed to the shard of its district
    and, when an `audit` recorder is given, written to the audit log as the principal's action."""

    def __init__(self, repo: SchoolRepository, directory: Directory, router: ShardRouter,
                 refresh_every_s: float = REFRESH_EVERY_S,
                 on_changed: Callable[[], Awaitable[None]] | None = None,
                 audit: AuditRecord | None = None) -> None:
        self._repo = repo
        self._audit = audit
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
        first = bounded_offset(page, page_size, "narrow the list by district, block or risk_level, "
                               "or take every school with GET /api/v1/schools/export")
        rows, total = await self._repo.page(where, keys, first, page_size)
        return {"schools": [_public(r) for r in rows], "pagination": pagination(page, page_size, total)}

    async def names(self, where: SchoolFilter) -> dict[str, str]:
        """The register's name of every school matching `where`, by UDISE code."""
        return await self._repo.names(where)

    async def get(self, school_id: str, area: Area = STATE) -> dict:
        return _public(await self._row_in(school_id, area))

    async def _row_in(self, school_id: str, area: Area) -> dict:
        """The school's row, when it exists and lies inside `area`: otherwise 404 alike."""
        row = await self._repo.get(school_id) if school_id.isdigit() else None
        if row is None or not area.covers_school(row["district"], row["block"], row["id"]):
            raise NotFound(f"no school {school_id}", {"school_id": school_id})
        return row

    async def create(self, school: SchoolCreate, principal: Principal, caller: Caller | None = None) -> dict:
        area = principal.area
        if not area.covers_block(school.district, school.block):
            raise Forbidden(f"block {school.district}/{school.block} is outside your area ({area.label()})")
        row = await self._repo.create(school.to_row() | {"is_active": True})
        await self._reflect([row], registered=True)
        created = _public(row)
        await self._record(principal, caller, "schools.create", created, after=created)
        return created

    async def update(self, school_id: str, school: SchoolUpdate, principal: Principal,
                     caller: Caller | None = None) -> dict:
        """The school as it now is."""
        old = await self._row_in(school_id, principal.area)
        _refuse_move(old, school.district, school.block)
        values = school.to_row()
        if values["is_active"] is None:
            values["is_active"] = old["is_active"]
        row = await self._repo.update(school_id, values)
        if row is None:
            raise NotFound(f"no school {school_id}", {"school_id": school_id})
        await self._reflect([row])
        before, after = _public(old), _public(row)
        await self._record(principal, caller, "schools.update", after, before=before, after=after)
        return after

    async def deactivate(self, school_id: str, principal: Principal, caller: Caller | None = None) -> dict:
        await self._row_in(school_id, principal.area)
        row = await self._repo.update(school_id, {"is_active": False})
        if row is None:
            raise NotFound(f"no school {school_id}", {"school_id": school_id})
        await self._reflect([row])
        deactivated = _public(row)
        await self._record(principal, caller, "schools.deactivate", deactivated, after={"is_active": False})
        return deactivated

    async def search(self, q: str, limit: int, area: Area = STATE) -> list[dict]:
        return [_public(r) | {"rank": r["rank"]} for r in await self._repo.search(q, limit, area)]

    async def directory(self, q: str, limit: int) -> list[dict]:
        """Active schools anywhere matching `q` by code or name, with their place only: the sign-up
        page's lookup, open to anyone (the UDISE directory is public)."""
        return [{k: r[k] for k in ("id", "name", "district", "block")} for r in await self._repo.search(q, limit)]

    async def bulk_import(self, body: bytes, principal: Principal, caller: Caller | None = None) -> dict:
        """Upsert the schools of a CSV by id. Bad rows are reported with their line and why; good
        rows are imported; the same file twice changes nothing the second time."""
        area = principal.area
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
        await self._record(principal, caller, "schools.bulk_import", None, after={**counts, "rejected": len(rejected)})
        return {**counts, "rejected": len(rejected), "rejected_rows": rejected}

    async def _record(self, principal: Principal, caller: Caller | None, action: str, school: dict | None,
                      **changes) -> None:  # noqa: ANN003
        """The audit entry of a change, about one school or (None) the principal's area."""
        if self._audit is None:
            return
        await self._audit(principal, caller, action, target=f"school:{school['id']}" if school else None,
                          district=school["district"] if school else principal.area.district, **changes)

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
        if isinstance(out[k], dt.datetime):
            out[k] = iso(out[k])
    return out


def school_filter(district: str | None, block: str | None, risk_level: str | None, include_inactive: bool,
            area: Area = STATE) -> SchoolFilter:
    """A filter with names as the table stores them; InvalidInput naming an unknown one."""
    if district is not None:
        try:
            d = geography.district_index(district)
        except KeyError:
            raise InvalidInput(f"unknown district {district!r}", {"fields": [{"field": "district", "message": "unknown"}]}) from None
        district = geography.district_names()[d]
    if block is not None:
        table = blocks()
        matches = [n for i, n in enumerate(table.names) if n.lower() == block.strip().lower()
                   and (district is None or int(table.district[i]) == geography.district_index(district))]
        if not matches:
            raise InvalidInput(f"no block {block!r}" + (f" in {district}" if district else ""),
                               {"fields": [{"field": "block", "message": "unknown"}]})
        block = matches[0]
    return SchoolFilter(district, block, risk_level, include_inactive, area)
