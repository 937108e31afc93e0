"""`ShardRouter`: sends a durable batch to every shard and gathers each event's outcome."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

import numpy as np

from twin.batch import EventBatch

# call(shard index, method name, *args) -> awaitable result: a Ray handle call or a local await.
ShardCall = Callable[..., Awaitable]


class ShardRouter:
    def __init__(self, call: ShardCall, shard_of_district: np.ndarray, n_shards: int) -> None:
        self._call = call
        self._shard_of_district = shard_of_district
        self.n_shards = n_shards

    async def apply(self, batch: EventBatch, after_seq: int, upto_seq: int, timeout_s: float = 30.0) -> np.ndarray:
        """Fold `batch` (rows of the log range (after_seq, upto_seq]) into the shards. Every shard
        gets the range, even with no rows of its own, so it can tell a gap from a quiet spell.
        Returns int8 outcomes aligned with `batch`; raises TimeoutError if a shard does not answer
        (the events are durable: the shard folds them when it catches up)."""
        shard = self._shard_of_district[batch.district.astype(np.int64)] if len(batch) else np.zeros(0, np.int32)
        rows = [np.flatnonzero(shard == k) for k in range(self.n_shards)]
        calls = [self._call(k, "apply", batch.take(rows[k]), after_seq, upto_seq) for k in range(self.n_shards)]
        results = await asyncio.wait_for(asyncio.gather(*calls), timeout_s)
        outcome = np.zeros(len(batch), np.int8)
        for k, result in enumerate(results):
            outcome[rows[k]] = result
        return outcome

    def placement(self) -> list[list[int]]:
        """The districts (indices) of each shard, in shard order."""
        return [[int(d) for d in np.flatnonzero(self._shard_of_district == k)] for k in range(self.n_shards)]

    async def each(self, method: str, *args) -> list:
        """Call `method` on every shard; results in shard order."""
        return list(await asyncio.gather(*(self._call(k, method, *args) for k in range(self.n_shards))))

    async def on_district(self, district: int, method: str, *args):
        return await self._call(int(self._shard_of_district[district]), method, *args)


def local_router(shards: Sequence, shard_of_district: np.ndarray) -> ShardRouter:
    """A router over in-process `DistrictShard`s (tests, CLI tools): same semantics, no Ray."""

    async def call(k: int, method: str, *args):
        result = getattr(shards[k], method)(*args)
        return await result if asyncio.iscoroutine(result) else result

    return ShardRouter(call, shard_of_district, len(shards))
