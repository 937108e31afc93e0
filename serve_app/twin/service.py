"""Reads of the live twin: a school, a block, a district, the state."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from actors.router import ShardRouter
from serve_app.shared.places import block_index, district_index
from twin import geography
from twin.directory import Directory
from twin.errors import NotFound


class TwinReader:
    def __init__(self, directory: Directory, router: ShardRouter, state_view: Callable[[], Awaitable[dict]]) -> None:
        self._directory = directory
        self._router = router
        self._state_view = state_view

    async def school(self, school_id: str) -> dict:
        i = self._directory.index(school_id) if school_id.isdigit() else -1
        if i < 0:
            raise NotFound(f"no school {school_id}", {"school_id": school_id})
        district = int(self._directory.school_district[i])
        view = await self._router.shard_of(district).school(i)
        if view is None:
            raise NotFound(f"no school {school_id}", {"school_id": school_id})
        block = int(self._directory.school_block[i])
        return {"district": geography.district_names()[district], "block": self._directory.blocks.names[block], **view}

    async def block(self, name: str, district: str | None = None) -> dict:
        b = block_index(self._directory, name, district)
        d = int(self._directory.blocks.district[b])
        view = await self._router.shard_of(d).block(b)
        return {"district": geography.district_names()[d], **view}

    async def district(self, name: str) -> dict:
        d = self._district_index(name)
        view = await self._router.shard_of(d).district(d)
        return {"district": geography.district_names()[d], **view}

    async def state(self) -> dict:
        return await self._state_view()

    @staticmethod
    def _district_index(name: str) -> int:
        return district_index(name)
