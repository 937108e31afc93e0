"""Live streams on Redis: two API replicas (two apps, each with its own hub) share one Redis, and
a change published once reaches the clients of both. Fails, not skips, without Redis in CI."""

import pytest

from configs import Settings
from configs.settings import Streams
from serve_app.app import create_api
from adapters.redis_broker import RedisBroker
from startup.services import open_local_services
from tests.fixtures import redis as redis_fixture
from tests.fixtures.app import client_of
from tests.fixtures.ws import AsgiWebSocket
from tests.serve_app.streams.test_endpoints import SCHOOL, attendance, sqlite_url  # noqa: F401 - a fixture


@pytest.fixture
async def prefix():
    redis_fixture.require_redis(await redis_fixture.redis_available())
    prefix = redis_fixture.fresh_prefix()
    yield prefix
    await redis_fixture.drop_prefix(prefix)


@pytest.fixture
async def replicas(sqlite_url, prefix):  # noqa: F811
    settings = Settings(database_url=sqlite_url, redis_url=redis_fixture.REDIS_URL,
                        streams=Streams(redis_prefix=prefix, resume_wait_s=0, read_block_s=0.2))
    apps = [create_api(lambda: open_local_services(settings, placement=[[0], [1, 2]])) for _ in range(2)]
    lifespans = [app.router.lifespan_context(app) for app in apps]
    for lifespan in lifespans:
        await lifespan.__aenter__()
    yield apps
    for lifespan in lifespans:
        await lifespan.__aexit__(None, None, None)


async def test_a_change_published_once_reaches_the_clients_of_both_replicas(replicas):
    a, b = replicas
    assert all(isinstance(app.state.services.hub.broker, RedisBroker) for app in replicas)
    async with AsgiWebSocket(a, f"/api/v1/ws/schools/{SCHOOL}") as on_a, \
            AsgiWebSocket(b, f"/api/v1/ws/schools/{SCHOOL}") as on_b:
        snapshots = [await on_a.receive_json(), await on_b.receive_json()]
        assert [m["type"] for m in snapshots] == ["snapshot", "snapshot"]
        async with client_of(a) as http:
            response = await http.post("/api/v1/events", json={"events": [attendance(primary=21)]})
        assert response.status_code == 200
        await a.state.services.publisher.flush()
        deltas = [await on_a.receive_json(), await on_b.receive_json()]
        assert [m["data"]["meals_today"] for m in deltas] == [21, 21]
        assert deltas[0]["seq"] == deltas[1]["seq"]  # one message, one seq, whichever replica serves it

    # a client of replica b resumes from what it saw on replica a
    async with client_of(a) as http:
        await http.post("/api/v1/events", json={"events": [attendance(primary=22)]})
    await a.state.services.publisher.flush()
    async with AsgiWebSocket(b, f"/api/v1/ws/schools/{SCHOOL}", after_seq=deltas[0]["seq"]) as resumed:
        missed = await resumed.receive_json()
        assert (missed["type"], missed["data"]["meals_today"]) == ("delta", 22)


async def test_ready_checks_redis_when_it_is_configured(replicas, sqlite_url, prefix):  # noqa: F811
    async with client_of(replicas[0]) as http:
        ready = await http.get("/ready")
    assert ready.status_code == 200 and ready.json()["data"]["redis"] == "ok"

    gone = Settings(database_url=sqlite_url, redis_url="redis://127.0.0.1:1/0", streams=Streams(redis_prefix=prefix))
    app = create_api(lambda: open_local_services(gone, placement=[[0], [1, 2]]))
    async with app.router.lifespan_context(app):
        async with client_of(app) as http:
            down = await http.get("/ready")
    assert down.status_code == 503 and down.json()["error"]["details"]["redis"].startswith("error")
