"""A Redis restart (the test's own throw-away server) under a running API with live streams: the
API keeps answering; token checks fail closed (503 with Retry-After) while API keys, kept in the
database, keep working; rate limits fall back to the replica's own windows; the stream says it is
degraded while Redis is down and that it resumed when Redis is back, and then that the broker lost
its history (this Redis keeps nothing across a restart); the changes folded meanwhile reach the
stream's clients once Redis is back, in order, with nothing missed."""

from __future__ import annotations

import asyncio

import pytest

from configs import Settings
from configs.settings import Streams
from serve_app.app import create_api
from serve_app.auth.principal import ROLE_PERMISSIONS, Caller, Principal, Role
from startup.services import open_local_services
from tests.fixtures.app import client_of
from tests.fixtures.private_servers import private_redis  # noqa: F401 - fixture
from tests.fixtures.ws import AsgiWebSocket
from tests.serve_app.streams.test_endpoints import SCHOOL, attendance, sqlite_url  # noqa: F401 - a fixture
from twin.area import STATE


async def _api_key(app) -> str:  # noqa: ANN001
    system = Principal("system:test", Role.STATE_ADMIN.value, STATE, ROLE_PERMISSIONS[Role.STATE_ADMIN])
    key = await app.state.services.accounts.create_key(system, "drill", ["read", "events:write"], STATE,
                                                       Caller("test"))
    return key["key"]


async def _frames_until(stream, kind: str, count: int = 1, timeout_s: float = 30) -> list[dict]:  # noqa: ANN001
    """The frames up to and including the `count`-th of `kind`, heartbeats left out."""
    frames: list[dict] = []
    while sum(f["type"] == kind for f in frames) < count:
        frame = await stream.receive_json(timeout_s=timeout_s)
        if frame["type"] != "heartbeat":
            frames.append(frame)
    return frames


@pytest.mark.timeout(120)
async def test_the_api_rides_out_a_redis_restart(private_redis, sqlite_url):  # noqa: F811
    settings = Settings(database_url=sqlite_url, redis_url=private_redis.url,
                        streams=Streams(resume_wait_s=0, read_block_s=0.2))
    app = create_api(lambda: open_local_services(settings, placement=[[0], [1, 2]]))
    async with app.router.lifespan_context(app):
        key = await _api_key(app)
        async with AsgiWebSocket(app, f"/api/v1/ws/schools/{SCHOOL}") as stream, client_of(app) as signed_in, \
                client_of(app, role=None) as keyed:
            keyed.headers["X-API-Key"] = key
            assert (await stream.receive_json())["type"] == "snapshot"
            assert (await keyed.post("/api/v1/events", json={"events": [attendance(primary=21)]})).status_code == 200
            first = await stream.receive_json()
            assert first["data"]["meals_today"] == 21

            private_redis.stop()
            paused = (await _frames_until(stream, "notice"))[-1]
            assert paused["topic"] == f"school:{SCHOOL}" and paused["data"]["degraded"] is True
            assert paused["data"]["broker"] == "unreachable"
            token_read = await signed_in.get("/api/v1/twin/state")
            assert token_read.status_code == 503 and int(token_read.headers["Retry-After"]) >= 1  # fail closed
            for _ in range(3):  # rate limits fall back to this replica's windows: answered, not refused
                assert (await keyed.get(f"/api/v1/twin/schools/{SCHOOL}")).status_code == 200
            during = await keyed.post("/api/v1/events", json={"events": [attendance(primary=22)]})
            assert during.status_code == 200  # the log is in the database; the deltas wait for Redis
            await asyncio.sleep(1.0)

            private_redis.start()
            assert (await keyed.post("/api/v1/events", json={"events": [attendance(primary=23)]})
                    ).status_code == 200
            frames = await _frames_until(stream, "delta", count=2)
            notices = [f["data"] for f in frames if f["type"] == "notice"]
            assert notices[0]["broker"] == "back" and notices[0]["degraded"] is False
            assert [n.get("missed") for n in notices[1:]] == [True]  # told to read again: Redis came back empty
            deltas = [f for f in frames if f["type"] == "delta"]
            assert [d["data"]["meals_today"] for d in deltas] == [22, 23]  # nothing missed, in order
            assert first["seq"] < deltas[0]["seq"] < deltas[1]["seq"]
            assert (await signed_in.get("/api/v1/twin/state")).status_code == 200  # tokens are checked again
