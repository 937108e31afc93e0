"""The twin as it was at a past moment (transaction time: what the log had received by then).

The moment becomes a log position, the last seq received at or before it; each shard needed is
rebuilt in a throwaway `DistrictShard` from the newest snapshot of its districts at or before that
position plus the log up to it, never touching the live shards. Shards are rebuilt with the live
placement, so a past view is computed exactly as the live shard computed it then (a packed
shard's "today" is the latest report day of all its districts). Folds run in worker threads; a
semaphore bounds how many rebuilds run at once, as each can take a core for a while.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

from actors.router import ShardRouter
from actors.shard_port import LocalShard
from actors.state_twin import StateTwin
from serve_app.shared.read_cache import CachedReads
from serve_app.twin.service import TwinReader
from twin.directory import Directory
from twin.state import ShardState
from twin.errors import InvalidInput, NotFound
from twin.placement import shard_of_district
from twin.ports import EventHistory, EventLog, SnapshotStore

if TYPE_CHECKING:
    from actors.district_shard import DistrictShard


class LogWithHistory(EventLog, EventHistory, Protocol):
    """The log a rebuild folds and searches by time."""


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class TimeTravel:
    def __init__(self, event_log: LogWithHistory, snapshots: SnapshotStore,
                 load_directory: Callable[[], Awaitable[tuple[Directory, np.ndarray]]], placement: list[list[int]],
                 max_rebuilds: int = 1, clock: Callable[[], dt.datetime] = _utc_now,
                 cache: CachedReads | None = None, settled_s: float = 60.0) -> None:
        self._cache = cache
        self._settled_s = settled_s  # a moment this long past is settled: nothing logged later counts for it
        self._log = event_log
        self._snapshots = snapshots
        self._load_directory = load_directory  # fresh: a past state may hold schools this replica has not seen
        self._placement = placement
        self._rebuilds = asyncio.Semaphore(max_rebuilds)
        self._clock = clock

    async def school(self, school_id: str, as_of: dt.datetime) -> dict:
        async def rebuilt() -> dict:
            reader, past = await self._reader(as_of)
            return await reader.school(school_id) | past
        return await self._cached(f"school:{school_id}", as_of, rebuilt)

    async def block(self, name: str, district: str | None, as_of: dt.datetime) -> dict:
        async def rebuilt() -> dict:
            reader, past = await self._reader(as_of)
            return await reader.block(name, district) | past
        return await self._cached(f"block:{district}:{name}", as_of, rebuilt)

    async def _cached(self, what: str, as_of: dt.datetime, rebuilt: Callable[[], Awaitable[dict]]) -> dict:
        """A settled moment's answer never changes (events logged after it do not count for it), so
        it is cached by the moment alone; one too recent is rebuilt every time."""
        moment = as_of if as_of.tzinfo is not None else as_of.replace(tzinfo=dt.UTC)  # no zone: UTC
        if self._cache is None or moment > self._clock() - dt.timedelta(seconds=self._settled_s):
            return await rebuilt()
        return await self._cache.get_or_compute(f"as_of:{what}:{moment.isoformat()}", rebuilt)

    async def district(self, name: str, as_of: dt.datetime) -> dict:
        async def rebuilt() -> dict:
            reader, past = await self._reader(as_of)
            return await reader.district(name) | past
        return await self._cached(f"district:{name}", as_of, rebuilt)

    async def state(self, as_of: dt.datetime) -> dict:
        async def rebuilt() -> dict:
            reader, past = await self._reader(as_of)
            return await reader.state() | past
        return await self._cached("state", as_of, rebuilt)

    async def shard_states(self, as_of: dt.datetime) -> list[ShardState]:
        """Every shard's state as it was at `as_of`, rebuilt from snapshots and the log."""
        seq = await self.seq_at(as_of)
        directory, enrolment = await self._load_directory()
        snapshots = _SnapshotsUpTo(self._snapshots, seq)
        states = []
        for districts in self._placement:
            states.append((await self._rebuild(districts, directory, enrolment, snapshots, seq)).state)
        return states

    async def _rebuild(self, districts: list[int], directory: Directory, enrolment: np.ndarray,
                       snapshots: _SnapshotsUpTo, seq: int) -> DistrictShard:
        """A throwaway shard of `districts` as it was at `seq`, one rebuild at a time."""
        # folding needs numba: an API replica loads it on its first as-of read, not at start
        from actors.district_shard import DistrictShard

        async with self._rebuilds:
            shard = await asyncio.to_thread(DistrictShard, districts, directory, enrolment, self._log, snapshots)
            await shard.recover(upto_seq=seq)
        return shard

    async def seq_at(self, as_of: dt.datetime) -> int:
        """The log position of `as_of`: InvalidInput if it is in the future, NotFound if nothing
        had been received by then."""
        as_of = _aware(as_of)
        if as_of > self._clock():
            raise InvalidInput(f"The request is not valid: as_of: {as_of.isoformat()} is in the future",
                               {"fields": [{"field": "as_of", "message": "in the future"}]})
        seq = await self._log.last_seq_received_by(as_of)
        if seq == 0:
            raise NotFound(f"the twin had received no events by {as_of.isoformat()}", {"as_of": as_of.isoformat()})
        return seq

    async def _reader(self, as_of: dt.datetime) -> tuple[TwinReader, dict]:
        """A reader over lazily rebuilt past shards (only those a read asks for), and what to say
        about the moment it reads."""
        seq = await self.seq_at(as_of)
        directory, enrolment = await self._load_directory()
        snapshots = _SnapshotsUpTo(self._snapshots, seq)
        shards: dict[int, DistrictShard] = {}
        building = asyncio.Lock()

        async def rebuilt(k: int) -> DistrictShard:
            async with building:
                if k not in shards:
                    shards[k] = await self._rebuild(self._placement[k], directory, enrolment, snapshots, seq)
            return shards[k]

        n_districts = len(directory.district_names())
        past = [LocalShard(functools.partial(rebuilt, k), reads_in_thread=True) for k in range(len(self._placement))]
        router = ShardRouter(past, shard_of_district(self._placement, n_districts))

        async def state_view() -> dict:
            state = StateTwin(self._placement)
            for k, shard in enumerate(past):
                state.update(k, await shard.district_rows())
            return state.state()

        return TwinReader(directory, router, state_view), {"as_of": _aware(as_of).isoformat(), "as_of_seq": seq}


class _SnapshotsUpTo:
    """A snapshot store as it looked at log position `seq`: a rebuild must not start from a later one."""

    def __init__(self, store: SnapshotStore, seq: int) -> None:
        self._store = store
        self._seq = seq

    async def latest(self, district: int) -> tuple[int, bytes] | None:
        return await self._store.at_or_before(district, self._seq)

    async def at_or_before(self, district: int, seq: int | None) -> tuple[int, bytes] | None:
        return await self._store.at_or_before(district, self._seq if seq is None else min(seq, self._seq))

    async def save_all(self, seq: int, parts: Sequence[tuple[int, bytes]]) -> None:
        raise RuntimeError("a rebuild of the past never writes snapshots")


def _aware(moment: dt.datetime) -> dt.datetime:
    """A moment without a zone is taken as UTC (the log's clock)."""
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment
