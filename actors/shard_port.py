"""The two `twin.ports.ShardPort`s the router uses alike: a shard actor's handle (`RayShard`) and a
`DistrictShard` in this process (`LocalShard`)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from twin.ports import DistrictRows, SchoolChange, SchoolSync, ShardStatus, View

if TYPE_CHECKING:
    from actors.district_shard import DistrictShard
    from twin.batch import EventBatch
    from twin.directory import Directory
    from twin.funds_columns import FundsColumns
    from twin.range_funds import RangeFunds
    from twin.state import ShardState

T = TypeVar("T")


class RayShard:
    """A shard actor (`actors.remote.ShardHost`) through its Ray handle."""

    def __init__(self, handle) -> None:  # noqa: ANN001 - a ray ActorHandle
        self.handle = handle

    async def apply(self, batch: EventBatch, after_seq: int, upto_seq: int) -> np.ndarray:
        return await self.handle.apply.remote(batch, after_seq, upto_seq)

    async def status(self) -> ShardStatus:
        return await self.handle.status.remote()

    async def school(self, global_index: int) -> View | None:
        return await self.handle.school.remote(global_index)

    async def block(self, global_block: int) -> View | None:
        return await self.handle.block.remote(global_block)

    async def district(self, district: int) -> View | None:
        return await self.handle.district.remote(district)

    async def views(self, districts: Sequence[int], blocks: Sequence[int]) -> tuple[list[View | None],
                                                                                    list[View | None]]:
        return await self.handle.views.remote(districts, blocks)

    async def district_rows(self) -> DistrictRows:
        return await self.handle.district_rows.remote()

    async def sync(self) -> int:
        return await self.handle.sync.remote()

    async def sync_schools(self, changes: Sequence[SchoolChange], later: Directory | None = None) -> SchoolSync:
        return await self.handle.sync_schools.remote(changes, later)

    async def snapshot_now(self) -> int:
        return await self.handle.snapshot_now.remote()

    async def funds_columns(self, year: int, district: int | None = None, block: int | None = None,
                            school: int | None = None) -> FundsColumns:
        return await self.handle.funds_columns.remote(year, district, block, school)

    async def funds_in_range(self, districts: Sequence[int], first: dt.date, last: dt.date,
                             school_id: str | None = None) -> RangeFunds:
        return await self.handle.funds_in_range.remote(districts, first, last, school_id)

    async def state_copy(self, districts: Sequence[int] | None = None) -> ShardState:
        return await self.handle.state_copy.remote(districts)


class LocalShard:
    """A `DistrictShard` in this process: its async methods awaited, its sync reads run on the event
    loop, or in a thread with `reads_in_thread`. `shard` may also be an async function giving the
    shard, called on every use (a rebuild of the past, made on the first read)."""

    def __init__(self, shard: DistrictShard | Callable[[], Awaitable[DistrictShard]], *,
                 reads_in_thread: bool = False) -> None:
        self._open = shard if callable(shard) else None
        self._shard = None if callable(shard) else shard
        self._reads_in_thread = reads_in_thread

    async def shard(self) -> DistrictShard:
        return self._shard if self._open is None else await self._open()

    async def _read(self, read: Callable[..., T], *args: object) -> T:
        return await asyncio.to_thread(read, *args) if self._reads_in_thread else read(*args)

    async def apply(self, batch: EventBatch, after_seq: int, upto_seq: int) -> np.ndarray:
        return await (await self.shard()).apply(batch, after_seq, upto_seq)

    async def status(self) -> ShardStatus:
        return await self._read((await self.shard()).status)

    async def school(self, global_index: int) -> View | None:
        return await self._read((await self.shard()).school, global_index)

    async def block(self, global_block: int) -> View | None:
        return await self._read((await self.shard()).block, global_block)

    async def district(self, district: int) -> View | None:
        return await self._read((await self.shard()).district, district)

    async def views(self, districts: Sequence[int], blocks: Sequence[int]) -> tuple[list[View | None],
                                                                                    list[View | None]]:
        return await self._read((await self.shard()).views, districts, blocks)

    async def district_rows(self) -> DistrictRows:
        return await self._read((await self.shard()).district_rows)

    async def sync(self) -> int:
        return await (await self.shard()).sync()

    async def sync_schools(self, changes: Sequence[SchoolChange], later: Directory | None = None) -> SchoolSync:
        return await (await self.shard()).sync_schools(changes, later)

    async def snapshot_now(self) -> int:
        return await (await self.shard()).snapshot_now()

    async def funds_columns(self, year: int, district: int | None = None, block: int | None = None,
                            school: int | None = None) -> FundsColumns:
        return await (await self.shard()).funds_columns(year, district, block, school)

    async def funds_in_range(self, districts: Sequence[int], first: dt.date, last: dt.date,
                             school_id: str | None = None) -> RangeFunds:
        return await (await self.shard()).funds_in_range(districts, first, last, school_id)

    async def state_copy(self, districts: Sequence[int] | None = None) -> ShardState:
        return await (await self.shard()).state_copy(districts)

