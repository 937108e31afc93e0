"""A small HTTP/1.1 load generator on asyncio streams: keep-alive connections, GET only.

Closed loop (`max_rate`): each connection sends its next request when the last one answers, for
the throughput a server reaches. Open loop (`at_rate`): requests start on a fixed schedule whatever
the server does, and latency counts from the scheduled start, so queueing is not hidden
(no coordinated omission).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        self.reader, self.writer, self.host = reader, writer, host

    @classmethod
    async def open(cls, host: str, port: int) -> _Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer, host)

    async def get(self, path: str, headers: str = "") -> int:
        """`headers`: extra header lines, each ending in CRLF."""
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n{headers}\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        headers = head.lower()
        if b"transfer-encoding: chunked" in headers:
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        else:
            start = headers.index(b"content-length:") + 15
            length = int(headers[start : headers.index(b"\r\n", start)])
            await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


@dataclass
class LoadResult:
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies_s: list[float] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile_ms(self, p: float) -> float:
        if not self.latencies_s:
            return float("nan")
        ordered = sorted(self.latencies_s)
        return 1000 * ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def max_rate(host: str, port: int, path: str, connections: int, seconds: float, headers: str = "") -> LoadResult:
    result = LoadResult()
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        conn = await _Connection.open(host, port)
        try:
            while time.perf_counter() < deadline:
                t = time.perf_counter()
                status = await conn.get(path, headers)
                result.latencies_s.append(time.perf_counter() - t)
                result.requests += 1
                result.errors += status >= 400
        finally:
            conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    result.seconds = time.perf_counter() - started
    return result


async def at_rate(host: str, port: int, path: str, rate_per_s: float, seconds: float, connections: int = 16,
                  headers: str = "") -> LoadResult:
    result = LoadResult()
    pool: asyncio.Queue[_Connection] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await _Connection.open(host, port))

    async def one(scheduled: float) -> None:
        conn = await pool.get()
        try:
            status = await conn.get(path, headers)
        finally:
            pool.put_nowait(conn)
        result.latencies_s.append(time.perf_counter() - scheduled)
        result.requests += 1
        result.errors += status >= 400

    started = time.perf_counter()
    tasks = []
    for k in range(int(rate_per_s * seconds)):
        scheduled = started + k / rate_per_s
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        tasks.append(asyncio.create_task(one(scheduled)))
    await asyncio.gather(*tasks)
    result.seconds = time.perf_counter() - started
    while not pool.empty():
        pool.get_nowait().close()
    return result
