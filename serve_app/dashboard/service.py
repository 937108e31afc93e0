"""What the dashboard reads beyond the other domains' routes: the map of an area's schools (once,
in binary), their risk levels again when figures move (cached a moment, since every viewer of an
area asks at the same tick of its dashboard stream; only the changes for a page that names the
version it holds), the places of the area, and a district's blocks with their roll-ups in one answer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import numpy as np

from db.school_map_repository import MapPoints
from serve_app.dashboard.binary import pack_changes, pack_levels, pack_map
from serve_app.dashboard.level_versions import MAX_AREAS, LevelVersions
from serve_app.shared.places import district_index
from twin import geography
from twin.area import Area
from twin.directory import Directory
from twin.errors import NotFound

BlockReader = Callable[[str, str], Awaitable[dict]]


class DashboardService:
    def __init__(self, points: Callable[[Area], Awaitable[MapPoints]],
                 levels: Callable[[Area], Awaitable[np.ndarray]],
                 read_block: BlockReader, directory: Directory, levels_ttl_s: float = 1.0) -> None:
        self._points, self._levels, self._read_block = points, levels, read_block
        self._directory = directory
        self._ttl_s = levels_ttl_s
        self._cached: dict[Area, tuple[float, np.ndarray, str, bytes]] = {}  # read at, levels, version, packed
        self._versions = LevelVersions()

    async def map(self, area: Area) -> tuple[bytes, str]:
        """(the map, the version of the levels it holds): the page's first levels read is then
        only what changed since the map was read."""
        points = await self._points(area)
        return pack_map(points), self._versions.record(area, points.level)

    async def levels(self, area: Area, since: str | None = None) -> tuple[bytes, str]:
        """(the answer, its version): the area's levels whole (`MTL1`), or, for a page holding the
        version `since` that this replica still keeps, only the schools changed since (`MTC1`) when
        that is the smaller answer."""
        now = time.monotonic()
        hit = self._cached.get(area)
        if hit is None or now - hit[0] >= self._ttl_s:
            levels = await self._levels(area)
            if len(self._cached) > MAX_AREAS:  # areas are few; a flood of them must not grow this without end
                self._cached.clear()
            hit = self._cached[area] = (now, levels, self._versions.record(area, levels), pack_levels(levels))
        _, levels, version, whole = hit
        held = self._versions.levels_at(area, since) if since is not None else None
        if held is None or len(held) != len(levels):
            return whole, version
        changed = np.flatnonzero(held != levels)
        if 5 * len(changed) + 4 >= len(levels):  # five bytes a change: past a fifth of the area, whole is smaller
            return whole, version
        return pack_changes(len(levels), changed, levels[changed]), version

    def places(self, area: Area) -> dict:
        """The districts and blocks wholly inside the caller's area, each with the index the map's
        columns use (places outside it are left out, as any other data outside it is)."""
        names = geography.district_names()
        blocks = self._directory.blocks
        return {
            "area": {"kind": area.kind, "district": area.district, "block": area.block, "school_id": area.school_id},
            "districts": [{"index": d, "name": name} for d, name in enumerate(names) if area.covers_district(name)],
            "blocks": [{"index": b, "district": int(blocks.district[b]), "district_name": names[int(blocks.district[b])],
                        "name": blocks.names[b]}
                       for b in range(len(blocks)) if area.covers_block(names[int(blocks.district[b])], blocks.names[b])],
        }

    async def district_blocks(self, district: str, area: Area) -> dict:
        """The roll-up of each of `district`'s blocks inside `area` (404 alike for an unknown
        district and one outside the area)."""
        d = district_index(district)
        name = geography.district_names()[d]
        blocks = self._directory.blocks
        inside = [blocks.names[b] for b in np.flatnonzero(blocks.district == d).tolist()
                  if area.covers_block(name, blocks.names[b])]
        if not inside:
            raise NotFound(f"no district {district!r}", {"district": district})
        views = await asyncio.gather(*(self._read_block(block, name) for block in inside))
        return {"district": name, "blocks": [{"block": block, **view} for block, view in zip(inside, views)]}
