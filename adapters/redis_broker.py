"""`RedisBroker`: the `StreamBroker` port on Redis Streams, shared by every replica and shard.

A topic is one stream. Its seq is a per-topic counter (starting at `first_seq_now`, so that it
keeps increasing should the keys be lost), and the entry id is `<seq>-0`, so a
client's plain integer seq is also the stream position XREAD resumes from. The counter and the
XADD run in one Lua script: two publishers of a topic can never add ids out of order.
History is trimmed with `MAXLEN ~` (Redis keeps at least that many, trimming whole nodes).
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson
import redis.asyncio as aioredis

from actors.broker import as_json, first_seq_now

_PUBLISH = """
if redis.call('EXISTS', KEYS[2]) == 0 then redis.call('SET', KEYS[2], ARGV[3]) end
local seq = redis.call('INCR', KEYS[2])
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], string.format('%d-0', seq), 'd', ARGV[1])
return seq
"""
_READ_LIMIT = 1_000


class RedisBroker:
    def __init__(self, url: str, history: int = 10_000, prefix: str = "mealtwin:") -> None:
        self._redis = aioredis.from_url(url)
        self._history = history
        self._prefix = prefix
        self._script = self._redis.register_script(_PUBLISH)

    def _stream(self, topic: str) -> str:
        return f"{self._prefix}stream:{topic}"

    def _counter(self, topic: str) -> str:
        return f"{self._prefix}seq:{topic}"

    async def publish(self, topic: str, payload: dict | bytes) -> int:
        return (await self.publish_many([(topic, payload)]))[0]

    async def publish_many(self, messages: Sequence[tuple[str, dict | bytes]]) -> list[int]:
        if not messages:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for topic, payload in messages:
                await self._script(keys=[self._stream(topic), self._counter(topic)],
                                   args=[as_json(payload), self._history, first_seq_now() - 1], client=pipe)
            return [int(seq) for seq in await pipe.execute()]

    async def read(self, cursors: dict[str, int], block_s: float) -> list[tuple[str, int, dict]]:
        if not cursors:
            return []
        streams = {self._stream(t): f"{after}-0" for t, after in cursors.items()}
        block_ms = int(block_s * 1000) if block_s > 0 else None  # BLOCK 0 would wait forever
        answer = await self._redis.xread(streams, count=_READ_LIMIT, block=block_ms)
        cut = len(self._prefix) + len("stream:")
        out = []
        for stream, entries in answer or []:
            topic = stream.decode()[cut:]
            for entry_id, fields in entries:
                out.append((topic, int(entry_id.split(b"-")[0]), orjson.loads(fields[b"d"])))
        return out

    async def bounds(self, topic: str) -> tuple[int, int]:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.xrange(self._stream(topic), count=1)
            pipe.get(self._counter(topic))
            first, last = await pipe.execute()
        last = int(last or 0)
        return (int(first[0][0].split(b"-")[0]) if first else last + 1), last

    async def close(self) -> None:
        await self._redis.aclose()


async def delete_keys(url: str, prefix: str) -> None:
    """Delete every key under `prefix` (a benchmark's or a test's own topics, never a twin's)."""
    client = aioredis.from_url(url)
    try:
        keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()
