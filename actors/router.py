"""`ShardRouter`: the shards' `ShardPort`s, with calls to every shard (a durable batch, statuses,
state copies) and the shard hosting a district."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from actors.shard_port import LocalShard
from twin.batch import EventBatch
from twin.funds_columns import FundsColumns
from twin.ports import SchoolChange, SchoolSync, ShardPort, ShardStatus
from twin.range_funds import RangeFunds
from twin.state import NO_DAY

if TYPE_CHECKING:
    from actors.district_shard import DistrictShard
    from twin.directory import Directory
    from twin.state import ShardState


class ShardRouter:
    def __init__(self, shards: Sequence[ShardPort], shard_of_district: np.ndarray) -> None:
        self.shards: list[ShardPort] = list(shards)  # in shard order
        self._shard_of_district = shard_of_district

    @property
    def n_shards(self) -> int:
        return len(self.shards)

    async def apply(self, batch: EventBatch, after_seq: int, upto_seq: int, timeout_s: float = 30.0) -> np.ndarray:
        """Fold `batch` (rows of the log range (after_seq, upto_seq]) into the shards. Every shard
        gets the range, even with no rows of its own, so it can tell a gap from a quiet spell.
        Returns int8 outcomes aligned with `batch`; raises TimeoutError if a shard does not answer
        (the events are durable: the shard folds them when it catches up)."""
        shard = self._shard_of_district[batch.district.astype(np.int64)] if len(batch) else np.zeros(0, np.int32)
        rows = [np.flatnonzero(shard == k) for k in range(self.n_shards)]
        calls = [port.apply(batch.take(rows[k]), after_seq, upto_seq) for k, port in enumerate(self.shards)]
        results = await asyncio.wait_for(asyncio.gather(*calls), timeout_s)
        outcome = np.zeros(len(batch), np.int8)
        for k, result in enumerate(results):
            outcome[rows[k]] = result
        return outcome

    def placement(self) -> list[list[int]]:
        """The districts (indices) of each shard, in shard order."""
        return [[int(d) for d in np.flatnonzero(self._shard_of_district == k)] for k in range(self.n_shards)]

    def shard_of(self, district: int) -> ShardPort:
        """The shard hosting `district` (an index)."""
        return self.shards[int(self._shard_of_district[district])]

    async def statuses(self) -> list[ShardStatus]:
        """Every shard's status, in shard order."""
        return list(await asyncio.gather(*(port.status() for port in self.shards)))

    async def twin_day(self) -> int:
        """The twin's day (days since the epoch; NO_DAY before any report): the latest of the
        shards', read from their statuses, without copying any state."""
        return max((s["today"] for s in await self.statuses()), default=NO_DAY)

    async def funds_columns(self, year: int, district: int | None = None, block: int | None = None,
                            school: int | None = None) -> FundsColumns:
        """The money columns of the active schools of the state, or of a district, block or school
        (global indices; a block or school needs its district), from the shards that host them."""
        ports = self.shards if district is None else [self.shard_of(district)]
        return FundsColumns.concat(list(await asyncio.gather(
            *(port.funds_columns(year, district, block, school) for port in ports))))

    async def funds_in_range(self, districts: Sequence[int], first: dt.date, last: dt.date,
                             school_id: str | None = None) -> RangeFunds:
        """The funds moved from `first` to `last` in `districts` (indices), each folded by the shard
        that hosts it (`twin.funds_range`)."""
        parts = await asyncio.gather(*(self.shards[k].funds_in_range(ds, first, last, school_id)
                                       for k, ds in self._by_shard(districts)))
        return RangeFunds.concat(list(parts))

    async def state_copies(self, districts: Sequence[int] | None = None) -> list[ShardState]:
        """A consistent copy of every shard's state, in shard order; with `districts` (indices), a
        copy of only those, from the shards hosting them (`twin.district_copy`): one shard may
        host every district, and its whole state is ~1 GiB at India scale."""
        if districts is None:
            return list(await asyncio.gather(*(port.state_copy() for port in self.shards)))
        return list(await asyncio.gather(*(self.shards[k].state_copy(ds) for k, ds in self._by_shard(districts))))

    def _by_shard(self, districts: Sequence[int]) -> list[tuple[int, list[int]]]:
        """`districts` (indices) grouped by the shard hosting them, in shard order."""
        by_shard: dict[int, list[int]] = {}
        for d in districts:
            by_shard.setdefault(int(self._shard_of_district[int(d)]), []).append(int(d))
        return sorted(by_shard.items())

    async def sync_schools(self, changes: Sequence[SchoolChange], later: Directory | None = None) -> list[SchoolSync]:
        """Tell every shard of changed schools (with `later`, the directory that brings new ones)."""
        return list(await asyncio.gather(*(port.sync_schools(changes, later) for port in self.shards)))


def local_router(shards: Sequence[DistrictShard], shard_of_district: np.ndarray) -> ShardRouter:
    """A router over in-process `DistrictShard`s (tests, CLI tools): same semantics, no Ray."""
    return ShardRouter([LocalShard(shard) for shard in shards], shard_of_district)
