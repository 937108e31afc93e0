"""The API's edge: rate limits (in-process and shared through Redis), security headers, body size
limits, and the refusal of development defaults in production."""

import pytest

from configs import Settings
from configs.settings import Limits
from serve_app.app import create_api
from startup.services import open_local_services
from tests.fixtures import redis as redis_fixture
from tests.fixtures.app import client_of, running_app, token_for


async def test_over_the_limit_answers_429_with_retry_after(seeded_url):
    settings = Settings(database_url=seeded_url, limits=Limits(user_requests_per_minute=5))
    async with running_app(settings) as app, client_of(app) as c:
        codes = [(await c.get("/api/v1/twin/state")).status_code for _ in range(6)]
        assert codes == [200] * 5 + [429]
        refused = await c.get("/api/v1/twin/state")
        assert refused.json()["error"]["code"] == "RATE_LIMITED"
        assert 0 < int(refused.headers["retry-after"]) <= 60
        assert (await c.get("/health")).status_code == 200  # health checks are never limited


async def test_users_keys_and_addresses_each_have_their_own_bucket(seeded_url):
    settings = Settings(database_url=seeded_url,
                        limits=Limits(requests_per_minute=2, user_requests_per_minute=3, key_requests_per_minute=4))
    async with running_app(settings) as app, client_of(app) as admin, client_of(app, role=None) as anyone:
        made = await admin.post("/api/v1/api-keys", json={"name": "feed", "scopes": ["read"]})
        key = {"X-API-Key": made.json()["data"]["key"]}
        assert [(await admin.get("/api/v1/twin/state")).status_code for _ in range(3)] == [200, 200, 429]
        # the key, on the same address as the busy user, has its whole budget
        assert [(await anyone.get("/api/v1/twin/state", headers=key)).status_code for _ in range(5)] == \
            [200] * 4 + [429]
        # so has another user there
        other = {"Authorization": f"Bearer {token_for(app, subject='user:99')}"}
        assert (await anyone.get("/api/v1/twin/state", headers=other)).status_code == 200
        # requests without credentials share the address's
        assert [(await anyone.get("/api/v1/twin/state")).status_code for _ in range(3)] == [401, 401, 429]
        # a forwarded address counts only from a trusted proxy, and has a budget of its own
        assert (await anyone.get("/api/v1/twin/state", headers={"X-Forwarded-For": "10.1.2.3"})).status_code == 401


async def test_sign_in_is_limited_harder(seeded_url):
    settings = Settings(database_url=seeded_url, limits=Limits(login_per_minute=3))
    async with running_app(settings) as app, client_of(app, role=None) as c:
        body = {"email": "someone@tn.gov.in", "password": "not-the-one-1"}
        codes = [(await c.post("/api/v1/auth/login", json=body)).status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]


async def test_replicas_share_the_limit_through_redis(sqlite_seeded):
    redis_fixture.require_redis(await redis_fixture.redis_available())
    prefix = redis_fixture.fresh_prefix()
    settings = Settings(database_url=sqlite_seeded, redis_url=redis_fixture.REDIS_URL,
                        limits=Limits(user_requests_per_minute=4),
                        streams=Settings().streams.model_copy(update={"redis_prefix": prefix}))
    apps = [create_api(lambda: open_local_services(settings, placement=[[0, 1, 2]]), settings) for _ in range(2)]
    try:
        async with apps[0].router.lifespan_context(apps[0]), apps[1].router.lifespan_context(apps[1]):
            codes = []
            for k in range(5):
                async with client_of(apps[k % 2]) as c:
                    codes.append((await c.get("/api/v1/twin/state")).status_code)
        assert codes == [200] * 4 + [429]
    finally:
        await redis_fixture.drop_prefix(prefix)


async def test_security_headers_and_body_limit(seeded_url):
    settings = Settings(database_url=seeded_url, limits=Limits(max_body_bytes=2048))
    async with running_app(settings) as app, client_of(app) as c:
        answer = await c.get("/api/v1/twin/state")
        for header, value in {"x-content-type-options": "nosniff", "x-frame-options": "DENY",
                              "referrer-policy": "no-referrer", "cache-control": "no-store"}.items():
            assert answer.headers[header] == value
        assert "default-src 'none'" in answer.headers["content-security-policy"]
        big = await c.post("/api/v1/events", content=b'{"events": [' + b" " * 4096 + b"]}",
                           headers={"Content-Type": "application/json"})
        assert big.status_code == 413 and big.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"

        async def chunks():  # no Content-Length: counted as it streams in
            for _ in range(4):
                yield b" " * 1024
        streamed = await c.post("/api/v1/schools/bulk-import", content=chunks(), headers={"Content-Type": "text/csv"})
        assert streamed.status_code == 413


def test_production_refuses_development_defaults():
    with pytest.raises(ValueError, match="refusing development defaults"):
        Settings(environment="production")
    with pytest.raises(ValueError, match="BCRYPT_ROUNDS"):
        Settings(environment="production", auth={"jwt_key_dir": "/keys", "bcrypt_rounds": 4})
    assert Settings(environment="production", auth={"jwt_key_dir": "/keys", "bcrypt_rounds": 12}).auth.jwt_key_dir
    assert Settings.model_fields["auth"].default.bcrypt_rounds == 12  # the default, whatever tests set


async def test_a_signed_in_request_asks_the_shared_security_state_once(sqlite_seeded):
    from actors.access_state import AccessState, RayAccessState
    from serve_app.auth.rate_limit import MemoryRateLimiter
    from serve_app.auth.revocation import MemoryRevocationStore
    from tests.fixtures.access_state import FakeActor

    actor = FakeActor(AccessState(MemoryRevocationStore(), MemoryRateLimiter()))
    shared = RayAccessState(actor)
    async with running_app(Settings(database_url=sqlite_seeded)) as app, client_of(app) as c:
        services = app.state.services
        services.limiter = services.accounts.revocations = shared
        assert (await c.get("/api/v1/twin/state")).status_code == 200
        assert len(actor.calls) == 1  # the address's rate limit and the token's revocation, in one call
        await shared.revoke_subject("user:0", 2**50, 3600)  # the token's subject is cut off
        refused = await c.get("/api/v1/twin/state")
        assert refused.status_code == 401 and refused.json()["error"]["details"]["reason"] == "revoked"
        assert len(actor.calls) == 3


async def test_past_its_budget_a_replica_refuses_at_once_and_ingest_keeps_its_share():
    import asyncio

    import httpx
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from serve_app.auth.edge import Edge

    release = asyncio.Event()

    async def slow(request):  # noqa: ANN001, ANN202
        await release.wait()
        return PlainTextResponse("done")

    app = Starlette(routes=[Route("/api/v1/twin/state", slow), Route("/api/v1/events", slow, methods=["POST"])])
    app.add_middleware(Edge, limits=Limits(max_in_flight=2, max_ingest_in_flight=1, overload_retry_after_s=3))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://twin") as c:
        held = [asyncio.create_task(c.get("/api/v1/twin/state")) for _ in range(2)]
        feed = asyncio.create_task(c.post("/api/v1/events", content=b"{}"))
        await asyncio.sleep(0.05)  # the three are being served
        refused = await asyncio.wait_for(c.get("/api/v1/twin/state"), 5)  # answered at once, not queued
        assert refused.status_code == 503 and refused.headers["retry-after"] == "3"
        assert refused.json()["error"]["details"]["reason"] == "overloaded"
        second_batch = await asyncio.wait_for(c.post("/api/v1/events", content=b"{}"), 5)
        assert second_batch.status_code == 503  # ingest's own budget is full too
        release.set()
        assert [r.status_code for r in await asyncio.gather(*held, feed)] == [200, 200, 200]
        assert (await c.get("/api/v1/twin/state")).status_code == 200  # the budget is given back


async def test_an_exhausted_database_pool_answers_503_with_retry_after(sqlite_seeded):
    from configs.settings import DatabasePool

    settings = Settings(database_url=sqlite_seeded, database_pool=DatabasePool(size=1, overflow=0, timeout_s=0.2))
    async with running_app(settings) as app, client_of(app) as c:
        async with app.state.services.engine.connect():  # the only connection, held
            busy = await c.get("/api/v1/schools")
        assert busy.status_code == 503 and busy.headers["retry-after"] == "2"
        assert busy.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
        assert (await c.get("/api/v1/schools")).status_code == 200  # free again
