"""The API's shared security state in Redis: token revocations (`RedisRevocationStore`) and
rate-limit windows (`RedisRateLimiter`), for every replica to agree on. Each check-and-mark is one
Lua script, so concurrent requests at two replicas cannot both pass.

When Redis cannot be reached, each fails the safe way for what it guards:
- revocations fail closed: a token's check, a refresh, a logout answer 503 with Retry-After
  (`Unavailable`), never a token taken as good that may have been revoked (a sign-out, a changed
  password). API keys live in the database and keep working: the live feed and partner systems
  carry on ingesting.
- rate limits fail open to this replica's own in-memory windows: every replica still enforces the
  limits, alone (so a client spread over N replicas gets at most N times its limit), and nobody
  is refused for an outage that is not theirs.

Redis key layout (under the prefix; the braces are Redis Cluster hash tags):
  token:<jti>                 a revoked token, until its expiry
  family:{<family>}:used      set of the family's used refresh-token ids, until its newest expiry
  family:{<family>}:revoked   the family is revoked, until its newest expiry
  subject:<subject>:before    Unix time; tokens issued at or before it are invalid
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from serve_app.auth.rate_limit import MemoryRateLimiter, Verdict, check_arguments, verdict
from serve_app.auth.revocation import RefreshUse, cut_off
from twin.errors import Unavailable

log = logging.getLogger(__name__)
REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, OSError)
RETRY_AFTER_S = 2


def _closed_without_redis(method):  # noqa: ANN001, ANN202
    """A revocation call that cannot reach Redis raises `Unavailable` (503): fail closed."""
    @functools.wraps(method)
    async def checked(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        try:
            return await method(self, *args, **kwargs)
        except REDIS_DOWN as exc:
            log.warning("token revocations unreachable in Redis (%s): answering 503", exc)
            raise Unavailable("sign-in checks are unavailable for a moment; try again shortly (API keys still work)",
                              {"retry_after_s": RETRY_AFTER_S}) from None
    return checked

# KEYS: family revoked flag, family used set. ARGV: token id, seconds to keep.
# The used set lives as long as the family's newest token; a reuse revokes the family for as long.
_USE_REFRESH = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 'revoked' end
local keep = tonumber(ARGV[2])
local left = redis.call('TTL', KEYS[2])
if left > keep then keep = left end
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then
  redis.call('SET', KEYS[1], '1', 'EX', keep)
  return 'reused'
end
redis.call('EXPIRE', KEYS[2], keep)
return 'ok'
"""

# KEYS: a key holding a number. ARGV: new number, seconds to keep. Keeps the larger number and the
# longer life, so concurrent writers cannot shorten either.
_KEEP_MAX = """
local current = tonumber(redis.call('GET', KEYS[1]))
local keep = tonumber(ARGV[2])
local left = redis.call('TTL', KEYS[1])
if left > keep then keep = left end
local value = tonumber(ARGV[1])
if current ~= nil and current > value then value = current end
redis.call('SET', KEYS[1], value, 'EX', keep)
return value
"""


class RedisRevocationStore:
    """The store shared by every replica. Each entry is a Redis key that expires with what it guards."""

    def __init__(self, client: aioredis.Redis, prefix: str = "mealtwin:auth:",
                 clock: Callable[[], float] = time.time) -> None:
        self._redis = client
        self._prefix = prefix
        self._clock = clock
        self._use_refresh = client.register_script(_USE_REFRESH)
        self._keep_max = client.register_script(_KEEP_MAX)

    def _token_key(self, token_id: str) -> str:
        return f"{self._prefix}token:{token_id}"

    def _family_key(self, family: str, part: str) -> str:
        return f"{self._prefix}family:{{{family}}}:{part}"

    def _subject_key(self, subject: str) -> str:
        return f"{self._prefix}subject:{subject}:before"

    def _seconds_until(self, expires_at: int) -> int:
        return math.ceil(expires_at - self._clock())

    @_closed_without_redis
    async def revoke_token(self, token_id: str, expires_at: int) -> None:
        keep = self._seconds_until(expires_at)
        if keep > 0:
            await self._keep_max(keys=[self._token_key(token_id)], args=[expires_at, keep])

    @_closed_without_redis
    async def is_revoked(self, token_id: str) -> bool:
        return bool(await self._redis.exists(self._token_key(token_id)))

    @_closed_without_redis
    async def use_refresh(self, family: str, token_id: str, expires_at: int) -> RefreshUse:
        keep = max(self._seconds_until(expires_at), 1)
        answer = await self._use_refresh(
            keys=[self._family_key(family, "revoked"), self._family_key(family, "used")], args=[token_id, keep])
        return answer.decode() if isinstance(answer, bytes) else answer

    @_closed_without_redis
    async def revoke_family(self, family: str, expires_at: int) -> None:
        keep = self._seconds_until(expires_at)
        if keep > 0:
            await self._keep_max(keys=[self._family_key(family, "revoked")], args=[1, keep])

    @_closed_without_redis
    async def family_revoked(self, family: str) -> bool:
        return bool(await self._redis.exists(self._family_key(family, "revoked")))

    @_closed_without_redis
    async def revoke_subject(self, subject: str, before: int, keep_s: int) -> None:
        await self._keep_max(keys=[self._subject_key(subject)], args=[before, max(keep_s, 1)])

    @_closed_without_redis
    async def subject_revoked_before(self, subject: str) -> int | None:
        value = await self._redis.get(self._subject_key(subject))
        return None if value is None else int(value)

    @_closed_without_redis
    async def access_revoked(self, token_id: str, subject: str, issued_at_ms: int) -> bool:
        # a pipeline, not MGET: the two keys may live on different nodes of a cluster
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.exists(self._token_key(token_id))
            pipe.get(self._subject_key(subject))
            revoked, before = await pipe.execute()
        return bool(revoked) or cut_off(None if before is None else int(before), issued_at_ms)


# KEYS: current window's counter, previous window's counter. ARGV: limit, seconds into the current
# window, window length. Returns {allowed, previous, current}. The counter outlives its window by one
# more window, while it is the previous one.
_HIT = """
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local limit, elapsed, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if previous * (window - elapsed) / window + current >= limit then return {0, previous, current} end
current = redis.call('INCR', KEYS[1])
if current == 1 then redis.call('EXPIRE', KEYS[1], 2 * window + 1) end
return {1, previous, current}
"""


class RedisRateLimiter:
    """The limiter shared by every replica. Windows are numbered from the Unix epoch by `clock` (wall
    time, so that all replicas agree); the decision and the count are one Lua script, so concurrent
    hits cannot both take the last slot.

    Keys: `<prefix>{<key>}:<window_s>:<window index>`, expiring one window after their own ends."""

    def __init__(self, client: aioredis.Redis, prefix: str = "mealtwin:rl:",
                 clock: Callable[[], float] = time.time) -> None:
        self._prefix = prefix
        self._clock = clock
        self._hit = client.register_script(_HIT)
        self._alone = MemoryRateLimiter()  # while Redis cannot be reached: fail open to this replica's limits
        self._down = False

    def _counter(self, key: str, window_s: int, index: int) -> str:
        return f"{self._prefix}{{{key}}}:{window_s}:{index}"

    async def hit(self, key: str, limit: int, window_s: int) -> Verdict:
        check_arguments(limit, window_s)
        now = self._clock()
        index = int(now // window_s)
        elapsed = now - index * window_s
        try:
            allowed, previous, current = await self._hit(
                keys=[self._counter(key, window_s, index), self._counter(key, window_s, index - 1)],
                args=[limit, repr(elapsed), window_s])
        except REDIS_DOWN as exc:
            if not self._down:
                log.warning("rate limits unreachable in Redis (%s): this replica limits alone until it is back", exc)
                self._down = True
            return await self._alone.hit(key, limit, window_s)
        if self._down:
            log.warning("rate limits in Redis again")
            self._down = False
        return verdict(bool(allowed), int(previous), int(current), elapsed, limit, window_s)
