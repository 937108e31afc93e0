"""A PostgreSQL restart during ingest (the twin's own throw-away server, stopped and started again):
batches answer 503 with Retry-After (never a 500, never an acknowledgement that is not durable),
reads of the live state keep answering, ingest resumes by itself when the database is back, nothing
acknowledged is lost, and the twin equals a fresh fold of the log."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from configs import Settings
from configs.settings import DatabasePool
from db.engine import create_engine
from db.migrate import upgrade_async
from db.school_repository import SchoolRepository
from tests.fixtures.app import client_of, running_app
from tests.fixtures.builders import small_directory
from tests.fixtures.events import random_events
from tests.fixtures.private_servers import private_postgres  # noqa: F401 - fixture
from tests.fixtures.schools import school_rows

DIRECTORY, ENROLMENT = small_directory()
SCHOOLS = [f"{int(s):011d}" for s in DIRECTORY.school_ids[:5]]


async def _seed(url: str) -> None:
    await upgrade_async(url)
    engine = create_engine(url)
    await SchoolRepository(engine).insert_many(school_rows(DIRECTORY, ENROLMENT))
    await engine.dispose()


def _settings(url: str) -> Settings:
    return Settings(database_url=url, database_pool=DatabasePool(size=4, overflow=2, timeout_s=2.0))


async def _post(client, events: list[dict]):  # noqa: ANN001, ANN202
    return await client.post("/api/v1/events", json={"events": events})


async def _logged_ids(url: str) -> set[str]:
    conn = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        return {row["event_id"] for row in await conn.fetch("SELECT event_id FROM events")}
    finally:
        await conn.close()


async def _views(client) -> list[dict]:  # noqa: ANN001
    out = []
    for school in SCHOOLS:
        data = (await client.get(f"/api/v1/twin/schools/{school}")).json()["data"]
        out.append({k: data[k] for k in ("stock_book_balance", "funds", "recent_days") if k in data})
    return out


class _Feed:
    """Sends its batches in order as the live feed does: a 503 is waited out (its Retry-After,
    shortened here) and the same batch is sent again."""

    def __init__(self, client, batches: list[list[dict]]) -> None:  # noqa: ANN001
        self.client, self.batches = client, batches
        self.statuses: list[int] = []
        self.acked: set[str] = set()
        self.sent = 0

    async def run(self) -> None:
        for batch in self.batches:
            while True:
                answer = await _post(self.client, batch)
                self.statuses.append(answer.status_code)
                if answer.status_code == 503:
                    assert int(answer.headers["Retry-After"]) >= 1
                    await asyncio.sleep(0.2)
                    continue
                assert answer.status_code == 200, answer.text
                self.acked |= {r["event_id"] for r in answer.json()["data"]["results"]
                               if r["status"] in ("accepted", "correction")}
                self.sent += 1
                break


@pytest.mark.timeout(180)
async def test_ingest_rides_out_a_postgres_restart(private_postgres):
    url = private_postgres.url
    await _seed(url)
    batches = [random_events(DIRECTORY, 100, seed=k, prefix=f"b{k}-") for k in range(30)]
    async with running_app(_settings(url)) as app, client_of(app) as client:
        feed = _Feed(client, batches)
        feeding = asyncio.create_task(feed.run())
        while feed.sent < 3:
            await asyncio.sleep(0.05)

        await asyncio.to_thread(private_postgres.stop)  # mid-stream
        outage_reads = []
        for _ in range(10):  # reads of the live state are answered from the shards meanwhile
            outage_reads.append((await client.get(f"/api/v1/twin/schools/{SCHOOLS[0]}")).status_code)
            outage_reads.append((await client.get("/api/v1/twin/state")).status_code)
            await asyncio.sleep(0.3)
        refused = feed.statuses.count(503)
        await asyncio.to_thread(private_postgres.start)
        await asyncio.wait_for(feeding, 60)  # ingest resumes by itself
        live = await _views(client)

    assert set(outage_reads) == {200}
    assert refused > 0 and set(feed.statuses) == {200, 503}  # refused while down, never a 500
    assert feed.acked <= await _logged_ids(url)  # nothing acknowledged is lost
    async with running_app(_settings(url)) as fresh, client_of(fresh) as client:
        assert await _views(client) == live  # the twin equals a fresh fold of the log
