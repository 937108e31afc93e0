"""A cache of expensive reads (a school's history fold, the twin as it was `as_of` a past moment),
shared by the replicas in Redis when it is configured (`adapters.redis_read_cache`), else kept by
each replica in memory (`MemoryReadCache`).

Nothing is invalidated by messages: a key names everything its answer depends on (a history's key
holds the school's newest log seq, so a new event for the school is a new key; a past moment's
state never changes once the log has settled past it), and the TTL only bounds what is kept.
A cache that fails is a miss, never an error.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Protocol

import orjson

log = logging.getLogger(__name__)


class ReadCache(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl_s: float) -> None: ...


class MemoryReadCache:
    """One replica's cache: at most `max_entries`, the least recently used dropped first."""

    def __init__(self, max_entries: int = 512, clock: Callable[[], float] = time.monotonic) -> None:
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._max = max_entries
        self._clock = clock

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, value = entry
        if expires <= self._clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes, ttl_s: float) -> None:
        self._entries[key] = (self._clock() + ttl_s, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)


class CachedReads:
    """`ReadCache` for JSON-like answers, with counts of hits and misses."""

    def __init__(self, cache: ReadCache, ttl_s: float) -> None:
        self._cache, self.ttl_s = cache, ttl_s
        self.hits = self.misses = 0

    async def get_or_compute(self, key: str, compute: Callable[[], Awaitable[dict]]) -> dict:
        cached = await self._get(key)
        if cached is not None:
            return orjson.loads(cached)
        answer = await compute()
        await self._set(key, orjson.dumps(answer, option=orjson.OPT_SERIALIZE_NUMPY))
        return answer

    async def get_or_make_bytes(self, key: str, make: Callable[[], Awaitable[bytes]]) -> bytes:
        """As `get_or_compute`, for an answer that is bytes already (a PDF)."""
        cached = await self._get(key)
        if cached is not None:
            return cached
        made = await make()
        await self._set(key, made)
        return made

    async def _get(self, key: str) -> bytes | None:
        """The cached value, counted as a hit or a miss."""
        try:
            cached = await self._cache.get(key)
        except Exception as exc:  # noqa: BLE001 - a cache that fails is a miss
            log.warning("read cache unavailable (%s): computing %s", exc, key)
            cached = None
        if cached is None:
            self.misses += 1
        else:
            self.hits += 1
        return cached

    async def _set(self, key: str, value: bytes) -> None:
        try:
            await self._cache.set(key, value, self.ttl_s)
        except Exception as exc:  # noqa: BLE001 - the answer stands without the cache
            log.warning("read cache not written (%s): %s", exc, key)
