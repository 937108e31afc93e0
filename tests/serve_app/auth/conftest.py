"""Fixtures for the security primitives: a fake clock, and a Redis client under a fresh key prefix
(skipped without Redis, except in CI where it fails)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from tests.fixtures import redis as redis_fixture

START = 1_796_000_000.0


class FakeClock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock():
    return FakeClock()


@contextlib.asynccontextmanager
async def own_redis() -> AsyncIterator[tuple[aioredis.Redis, str]]:
    """A Redis client and a key prefix of this test's own; its keys are deleted afterwards."""
    redis_fixture.require_redis(await redis_fixture.redis_available())
    prefix = redis_fixture.fresh_prefix()
    client = aioredis.from_url(redis_fixture.REDIS_URL)
    try:
        yield client, prefix
    finally:
        await client.aclose()
        await redis_fixture.drop_prefix(prefix)


@pytest.fixture
async def redis_prefix():
    async with own_redis() as client_and_prefix:
        yield client_and_prefix
