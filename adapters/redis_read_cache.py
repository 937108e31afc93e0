"""`ReadCache` in Redis, shared by every API replica: plain keys under a prefix, expiring with their TTL."""

from __future__ import annotations

import math

import redis.asyncio as aioredis


class RedisReadCache:
    def __init__(self, client: aioredis.Redis, prefix: str = "mealtwin:cache:") -> None:
        self._redis = client
        self._prefix = prefix

    async def get(self, key: str) -> bytes | None:
        return await self._redis.get(self._prefix + key)

    async def set(self, key: str, value: bytes, ttl_s: float) -> None:
        await self._redis.set(self._prefix + key, value, ex=max(1, math.ceil(ttl_s)))
