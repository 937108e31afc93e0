"""The read cache a replica uses (`serve_app.shared.read_cache`): in Redis when the twin has one
(the same client as the access checks, with their short timeouts), else in memory; none when off."""

from __future__ import annotations

from configs import Settings
from serve_app.shared.read_cache import CachedReads, MemoryReadCache


def open_read_cache(settings: Settings, redis_client: object | None) -> CachedReads | None:
    config = settings.read_cache
    if not config.enabled:
        return None
    if redis_client is not None:
        from adapters.redis_read_cache import RedisReadCache

        return CachedReads(RedisReadCache(redis_client, prefix=f"{settings.streams.redis_prefix}cache:"), config.ttl_s)
    return CachedReads(MemoryReadCache(config.max_entries), config.ttl_s)
