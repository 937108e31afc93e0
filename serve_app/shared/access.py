"""Area checks for routes: a place outside the caller's area answers 404 exactly as an unknown one
would; an action the caller's role lacks answers 403."""

from __future__ import annotations

from fastapi import Request, WebSocket

from serve_app.shared.app_services import services_of
from serve_app.auth.errors import Forbidden
from serve_app.auth.guard import principal_of
from serve_app.auth.principal import Permission, Principal
from serve_app.shared.places import block_index, district_index
from twin import geography
from twin.area import Area
from twin.directory import Directory
from twin.errors import NotFound


def allowed(request: Request | WebSocket, permission: Permission = Permission.READ) -> Principal:
    principal = principal_of(request)
    principal.require(permission)
    return principal


def school_in_area(request: Request | WebSocket, school_id: str, permission: Permission = Permission.READ) -> Principal:
    principal = allowed(request, permission)
    directory = services_of(request).directory
    i = directory.index(school_id)
    if i < 0 or not principal.area.covers_index(directory, i):
        raise NotFound(f"no school {school_id}", {"school_id": school_id})
    return principal


def district_in_area(area: Area, name: str) -> int:
    """The index of district `name` (any case) when `area` covers it; 404 alike for an unknown one."""
    d = district_index(name)
    if not area.covers_district(geography.district_names()[d]):
        raise NotFound(f"no district {name!r}", {"district": name})
    return d


def block_in_area(request: Request | WebSocket, name: str, district: str | None) -> tuple[Principal, int]:
    """The block's global index, when the caller's area covers it. A caller inside one district
    need not name it for a block name other districts use too."""
    principal = allowed(request)
    directory = services_of(request).directory
    b = block_index(directory, name, district or principal.area.district)
    d = int(directory.blocks.district[b])
    if not principal.area.covers_block(geography.district_names()[d], directory.blocks.names[b]):
        raise NotFound(f"no block {name!r}", {"block": name})
    return principal, b


def alert_in_area(area: Area, directory: Directory, alert: dict) -> bool:
    """Whether an alert (stored, or a stream's message) is about a place inside `area`. A school's
    alert is inside when its school is; a block's (a cascade warning) when the whole block is; a
    district-wide notice when the district is. Stored alerts name their district and block; some
    stream messages name only a school (`school_id`, or a subject `school:<id>`) or a block by
    index (`block:<index>`), which the directory places."""
    if area.is_state:
        return True
    kind, _, key = str(alert.get("subject") or "").partition(":")
    school = alert.get("school_id") or (key if kind == "school" else None)
    if school and alert.get("block"):
        return area.covers_school(alert.get("district"), alert["block"], school)
    if school:
        i = directory.index(school)
        return i >= 0 and area.covers_index(directory, i)
    block = alert.get("block") or (directory.blocks.names[int(key)] if kind == "block" else None)
    if block:
        return area.covers_block(alert.get("district"), block)
    return area.covers_district(alert.get("district"))


def state_in_area(area: Area) -> None:
    if not area.is_state:
        raise Forbidden(f"state-wide figures are for state admins; read your {area.kind} instead")
