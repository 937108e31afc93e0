"""Rate limits, on both limiters: `limit` hits pass and the next is refused with a wait; the window
slides, so a burst at the end of one window still counts at the start of the next; keys are
independent."""

import asyncio
import math

import pytest

from adapters.redis_access import RedisRateLimiter
from serve_app.auth.rate_limit import MemoryRateLimiter, Verdict, estimate
from tests.serve_app.auth.conftest import own_redis

WINDOW = 60
WINDOW_START = 1_796_000_040.0  # a multiple of 60


@pytest.fixture(params=["memory", "redis"])
async def limiter(request, clock):
    clock.now = WINDOW_START
    if request.param == "memory":
        yield MemoryRateLimiter(clock=clock)
        return
    async with own_redis() as (client, prefix):
        yield RedisRateLimiter(client, prefix=prefix, clock=clock)


async def hits(limiter, key: str, n: int, limit: int = 5) -> list[Verdict]:
    return [await limiter.hit(key, limit, WINDOW) for _ in range(n)]


async def test_limit_hits_pass_then_the_next_is_refused_with_a_wait(limiter):
    verdicts = await hits(limiter, "ip:10.0.0.1", 6)
    assert [v.allowed for v in verdicts] == [True] * 5 + [False]
    assert [v.remaining for v in verdicts] == [4, 3, 2, 1, 0, 0]
    assert all(v.limit == 5 for v in verdicts)
    assert all(v.retry_after_s == 0 for v in verdicts[:5])
    assert 0 < verdicts[5].retry_after_s <= 2 * WINDOW


async def test_keys_are_independent(limiter):
    await hits(limiter, "ip:10.0.0.1", 5)
    assert not (await limiter.hit("ip:10.0.0.1", 5, WINDOW)).allowed
    assert (await limiter.hit("ip:10.0.0.2", 5, WINDOW)).allowed
    assert (await limiter.hit("ip:10.0.0.1", 5, 2 * WINDOW)).allowed  # another window is another limit


async def test_hits_are_allowed_again_once_the_window_has_passed(limiter, clock):
    await hits(limiter, "k", 5)
    clock.advance(2 * WINDOW)
    assert [v.allowed for v in await hits(limiter, "k", 6)] == [True] * 5 + [False]


async def test_a_burst_at_a_window_edge_does_not_double_the_limit(limiter, clock):
    clock.now = WINDOW_START + WINDOW - 1
    assert all(v.allowed for v in await hits(limiter, "k", 10, limit=10))
    clock.now = WINDOW_START + WINDOW + 1  # the next fixed window has begun
    # Two seconds on, the burst has aged by a thirtieth of the window: one more hit, not ten.
    assert sum(v.allowed for v in await hits(limiter, "k", 10, limit=10)) == 1


async def test_the_previous_window_weighs_less_as_the_window_slides(limiter, clock):
    await hits(limiter, "k", 10, limit=10)
    clock.now = WINDOW_START + WINDOW + WINDOW / 2  # half of the previous window's hits still count
    verdicts = await hits(limiter, "k", 6, limit=10)
    assert [v.allowed for v in verdicts] == [True] * 5 + [False]


async def test_retry_after_is_when_a_hit_would_pass(limiter, clock):
    await hits(limiter, "k", 5)
    clock.advance(10)
    refused = await limiter.hit("k", 5, WINDOW)
    assert not refused.allowed
    clock.advance(refused.retry_after_s - 1)
    assert not (await limiter.hit("k", 5, WINDOW)).allowed
    clock.advance(1)
    assert (await limiter.hit("k", 5, WINDOW)).allowed


async def test_concurrent_hits_never_exceed_the_limit(limiter):
    verdicts = await asyncio.gather(*(limiter.hit("k", 7, WINDOW) for _ in range(20)))
    assert sum(v.allowed for v in verdicts) == 7


@pytest.mark.parametrize(("limit", "window_s"), [(0, 60), (5, 0)])
async def test_a_limit_or_window_below_one_is_an_error(limiter, limit, window_s):
    with pytest.raises(ValueError):
        await limiter.hit("k", limit, window_s)


async def test_the_memory_limiter_forgets_keys_whose_windows_have_passed(clock):
    limiter = MemoryRateLimiter(clock=clock)
    for n in range(100):
        await limiter.hit(f"ip:{n}", 5, WINDOW)
    assert len(limiter) == 100
    clock.advance(3 * WINDOW)
    await limiter.hit("ip:fresh", 5, WINDOW)
    assert len(limiter) == 1


async def test_redis_counters_expire(clock):
    async with own_redis() as (client, prefix):
        limiter = RedisRateLimiter(client, prefix=prefix, clock=clock)
        await limiter.hit("ip:10.0.0.1", 5, WINDOW)
        keys = [key async for key in client.scan_iter(f"{prefix}*")]
        assert [key.decode() for key in keys] == [f"{prefix}{{ip:10.0.0.1}}:{WINDOW}:{int(clock.now // WINDOW)}"]
        assert 0 < await client.ttl(keys[0]) <= 2 * WINDOW + 1


def test_the_estimate_weights_the_previous_window_by_its_overlap():
    assert estimate(previous=10, current=2, elapsed_s=15, window_s=60) == 10 * 45 / 60 + 2
    assert math.isclose(estimate(previous=10, current=0, elapsed_s=60, window_s=60), 0)


async def test_retry_after_is_exact_whatever_the_previous_window_held(clock):
    for offset in [n / 4 for n in range(4 * WINDOW)]:
        limiter = MemoryRateLimiter(clock=clock)
        clock.now = WINDOW_START + 50
        await hits(limiter, "k", 10, limit=10)
        clock.now = WINDOW_START + WINDOW + offset
        while (verdict := await limiter.hit("k", 10, WINDOW)).allowed:
            pass
        clock.advance(verdict.retry_after_s - 1)
        assert verdict.retry_after_s == 1 or not (await limiter.hit("k", 10, WINDOW)).allowed, offset
        clock.advance(1)
        assert (await limiter.hit("k", 10, WINDOW)).allowed, offset
