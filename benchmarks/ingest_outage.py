"""`mealtwin bench ingest --outage`: the live feed's ingest through the real path (Ray Serve, the shard
actors) on a PostgreSQL of the benchmark's own, which is stopped for `outage_s` in the middle and
started again. Measures what an operator needs to trust a database restart: server errors other
than 503 (target 0), acknowledged events missing from the log (target 0), and seconds from the
database being back to ingest flowing again (target at most 10)."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable

import httpx
import orjson

from benchmarks.credentials import bench_settings, bench_token
from benchmarks.throwaway_servers import PrivatePostgres, free_port
from benchmarks.workdir import bench_workdir
from configs import Settings

BATCH = 2_000


class _Feed:
    """Sends batches in order as the live feed does: a 503 is waited out (Retry-After) and the same
    batch sent again. Records every answer's status and time, and what was acknowledged."""

    def __init__(self, client: httpx.AsyncClient, bodies: list[bytes], ids: list[list[str]]) -> None:
        self.client, self.bodies, self.ids = client, bodies, ids
        self.answers: list[tuple[float, int]] = []  # (monotonic time, status)
        self.acked: set[str] = set()
        self.sent = 0

    async def run(self) -> None:
        for body, ids in zip(self.bodies, self.ids):
            while True:
                try:
                    response = await self.client.post("/api/v1/events", params={"results": "problems"}, content=body,
                                                      headers={"content-type": "application/json"})
                    status = response.status_code
                except httpx.TransportError:
                    status = 0  # no answer at all: counted apart from server errors
                self.answers.append((time.monotonic(), status))
                if status == 200:
                    rejected = {r["event_id"] for r in response.json()["data"]["results"]
                                if r["status"] not in ("accepted", "correction", "duplicate")}
                    self.acked |= set(ids) - rejected
                    self.sent += 1
                    break
                wait = float(response.headers.get("retry-after", 1)) if status in (429, 503) else 1.0
                await asyncio.sleep(min(wait, 2.0))


def _batches(settings: Settings, table, days: int) -> tuple[list[bytes], list[list[str]]]:  # noqa: ANN001
    from simulation.world import World

    world = World(table, seed=settings.feed.seed, start=dt.date.fromisoformat(settings.feed.start_date))
    events = world.opening_events()
    for _ in range(days):
        events.extend(world.step_day())
    parts = [events[k : k + BATCH] for k in range(0, len(events), BATCH)]
    return [orjson.dumps({"events": p}) for p in parts], [[e["event_id"] for e in p] for p in parts]


async def _logged_ids(url: str) -> set[str]:
    import asyncpg

    conn = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        return {row["event_id"] for row in await conn.fetch("SELECT event_id FROM events")}
    finally:
        await conn.close()


async def run(schools: int = 43_000, outage_s: float = 30.0, days: int = 10,
              say: Callable[[str], None] = print) -> dict:
    from benchmarks.ingest import _state_matches_log
    from db.engine import create_engine
    from db.school_repository import SchoolRepository
    from serve_app.schools.rows import from_rows
    from startup.runtime import start_twin, stop_twin

    workdir = bench_workdir("mealtwin-bench-outage-")
    database = PrivatePostgres()
    database.start()
    twin = None
    try:
        settings = bench_settings(database_url=database.url, schools=schools, port=free_port(),
                                  haproxy_stats_port=free_port(), haproxy_metrics_port=free_port(), data_dir=workdir)
        say(f"starting the twin on a PostgreSQL of its own (port {database.port}) with {schools:,} schools")
        twin = await start_twin(settings, say)
        engine = create_engine(database.url)
        table = from_rows(await SchoolRepository(engine).all())
        await engine.dispose()
        bodies, ids = await asyncio.to_thread(_batches, settings, table, days)
        async with httpx.AsyncClient(base_url=twin.base_url, timeout=120,
                                     headers={"Authorization": f"Bearer {bench_token(settings)}"}) as client:
            feed = _Feed(client, bodies, ids)
            feeding = asyncio.create_task(feed.run())
            while feed.sent < max(2, len(bodies) // 4) and not feeding.done():
                await asyncio.sleep(0.1)
            say(f"stopping PostgreSQL for {outage_s:.0f}s after {feed.sent} of {len(bodies)} batches")
            await asyncio.to_thread(database.stop)
            stopped = time.monotonic()
            await asyncio.sleep(outage_s)
            await asyncio.to_thread(database.start)
            back = time.monotonic()
            say("PostgreSQL is back; the feed carries on")
            await feeding
        statuses = [status for _, status in feed.answers]
        first_ok_after = next((t for t, status in feed.answers if t >= back and status == 200), None)
        lost = len(feed.acked - await _logged_ids(database.url))
        state_ok = await _state_matches_log(twin, database.url)
    finally:
        if twin is not None:
            await stop_twin(twin)
        database.remove()
    return {
        "database": "postgresql",
        "schools": schools,
        "batches": len(bodies),
        "events": sum(len(i) for i in ids),
        "outage_s": round(back - stopped, 2),
        "http_503": statuses.count(503),
        "http_5xx_other_than_503": sum(1 for s in statuses if s >= 500 and s != 503),
        "no_answer": statuses.count(0),
        "acked_lost": lost,
        "resume_s": round(first_ok_after - back, 2) if first_ok_after is not None else None,
        "state_matches_log": state_ok,
    }
