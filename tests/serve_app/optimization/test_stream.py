"""WS /api/v1/ws/optimization: new recommendations, status changes and comments reach everyone
whose area covers them, and nobody else; a client resumes after the last seq it saw."""

import asyncio

import pytest

from configs import Settings
from serve_app.streams.schemas import RecommendationNews
from tests.fixtures.app import client_of, running_app, token_for
from tests.fixtures.ws import AsgiWebSocket
from tests.serve_app.optimization.test_endpoints import (
    DISTRICT_OFFICER,
    OUTSIDER,
    SHORT,
    feed,
    run_for_block,
    transfer_to_short,
)


@pytest.fixture
async def app(sqlite_seeded):
    async with running_app(Settings(database_url=sqlite_seeded)) as app:
        app.state.services.optimisation.depot_days = 0.0
        yield app


async def until_live(ws) -> dict:
    while True:
        message = await ws.receive_json()
        if message["type"] == "notice" and message["data"].get("live"):
            return message


async def news(ws, count: int) -> list[dict]:
    out = []
    while len(out) < count:
        message = await ws.receive_json(timeout_s=10)
        if message["type"] == "delta":
            out.append(message)
    return out


async def deltas_within(ws, seconds: float) -> list[dict]:
    """The deltas `ws` receives in the next `seconds` (heartbeats and notices aside)."""
    out = []
    try:
        async with asyncio.timeout(seconds):
            while True:
                message = await ws.receive_json(timeout_s=seconds)
                if message["type"] == "delta":
                    out.append(message)
    except TimeoutError:
        return out


async def test_recommendations_status_and_comments_are_streamed_within_the_area(app):
    async with client_of(app) as admin:
        await feed(admin)
    officer_token = token_for(app, *DISTRICT_OFFICER)
    outsider_token = token_for(app, *OUTSIDER)
    async with AsgiWebSocket(app, "/api/v1/ws/optimization", officer_token) as officer, \
            AsgiWebSocket(app, "/api/v1/ws/optimization", outsider_token) as outsider:
        await until_live(officer)
        await until_live(outsider)
        out = await run_for_block(app)
        rec = transfer_to_short(out["recs"])
        created = await news(officer, len(out["recs"]))
        assert {m["data"]["id"] for m in created} == {r["id"] for r in out["recs"]}
        assert all(m["topic"] == "optimisation:Ariyalur" and m["data"]["event"] == "created" for m in created)
        async with client_of(app, *DISTRICT_OFFICER) as client:
            await client.post(f"/api/v1/optimization/recommendations/{rec['id']}/comments", json={"body": "Go"})
            await client.post(f"/api/v1/optimization/approve/{rec['id']}")
        comment, status = await news(officer, 2)
        for message in (*created, comment, status):  # every message as the protocol describes it
            RecommendationNews.model_validate(message["data"])
        assert comment["data"]["event"] == "comment" and comment["data"]["comment"]["body"] == "Go"
        assert status["data"] == status["data"] | {"event": "status", "id": rec["id"], "status": "applied"}
        assert status["seq"] > comment["seq"] > created[-1]["seq"]
        # the other block's officer heard nothing of this block
        assert await deltas_within(outsider, 1.0) == []
    # resuming after the first message replays the rest in order
    async with AsgiWebSocket(app, "/api/v1/ws/optimization", officer_token, district="Ariyalur",
                             after_seq=created[0]["seq"]) as again:
        replayed = await news(again, len(created) + 1)
        assert [m["seq"] for m in replayed] == [m["seq"] for m in created[1:]] + [comment["seq"], status["seq"]]
        assert replayed[-1]["data"]["school_id"] == SHORT
