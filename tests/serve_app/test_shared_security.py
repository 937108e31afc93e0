"""Security state agrees across API replicas, as `mealtwin up` runs them: two Serve replicas on the
embedded defaults (the `access-state` actor) and on Redis. Every check repeats until both replicas
have answered (the `X-Mealtwin-Replica` header says which), so a pass cannot come from one replica
alone; each check signs in from its own address (X-Forwarded-For from a trusted proxy) and its own
account, so the others' requests do not count against it."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pyotp
import pytest

from actors.remote import TwinCluster
from cli.credentials import create_admin
from configs import Settings
from configs.settings import Auth, Limits, Streams
from startup.actor_ports import shard_ports_opener
from startup.deployment import run_app, shutdown_app
from tests.fixtures import redis as redis_fixture
from tests.fixtures.ports import free_port

pytestmark = pytest.mark.ray

PASSWORD = "Noon-meal-2026"
PER_MINUTE = 30
TRIES = 60  # requests a check may send to reach both replicas (each lands on either at random)


@contextlib.asynccontextmanager
async def served(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    cluster = TwinCluster.start([[0], [1, 2]], shard_ports_opener(settings), 1000, 3600,
                                stream_history=None if settings.redis_url else 10_000)
    try:
        await cluster.wait_ready(120)
        run_app(settings)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.port}", timeout=60) as client:
            yield client
    finally:
        shutdown_app()
        cluster.kill()


def _settings(url: str, redis_url: str | None = None, prefix: str = "mealtwin:") -> Settings:
    return Settings(database_url=url, port=free_port(), serve_replicas=2, redis_url=redis_url,
                    streams=Streams(redis_prefix=prefix),
                    auth=Auth(bcrypt_rounds=4, lockout_failures=3),
                    limits=Limits(user_requests_per_minute=PER_MINUTE, login_per_minute=1000, ingest_per_minute=1000))


class Caller:
    """One client address and what it saw: which replicas answered."""

    def __init__(self, client: httpx.AsyncClient, ip: str) -> None:
        self.client, self.ip = client, ip
        self.replicas: set[str] = set()

    async def send(self, method: str, path: str, token: str | None = None, **kwargs) -> httpx.Response:  # noqa: ANN003
        headers = {"X-Forwarded-For": self.ip} | ({"Authorization": f"Bearer {token}"} if token else {})
        response = await self.client.request(method, path, headers=headers, **kwargs)
        self.replicas.add(response.headers["x-mealtwin-replica"])
        return response

    async def login(self, email: str, **extra) -> httpx.Response:  # noqa: ANN003
        return await self.send("POST", "/api/v1/auth/login", json={"email": email, "password": PASSWORD, **extra})

    def both_seen(self) -> bool:
        return len(self.replicas) >= 2

    async def on_both_replicas(self, attempt: Callable[[], Awaitable[object]]) -> list:
        """`attempt` (which asserts what it must) again and again until both replicas have answered
        it; what each attempt returned. Fails if TRIES attempts reached only one replica."""
        self.replicas.clear()
        results = []
        while not self.both_seen():
            assert len(results) < TRIES, "every attempt reached the same replica"
            results.append(await attempt())
        return results


async def _user(settings: Settings, name: str) -> str:
    email = f"{name}@tn.gov.in"
    await create_admin(settings, email, name.title(), PASSWORD)
    return email


async def _check_every_security_state(client: httpx.AsyncClient, settings: Settings) -> None:
    # a logged-out access token is refused by every replica at once
    caller = Caller(client, "10.0.0.1")
    session = (await caller.login(await _user(settings, "logout"))).json()["data"]
    assert (await caller.send("POST", "/api/v1/auth/logout", session["access_token"])).status_code == 200

    async def logged_out() -> None:
        refused = await caller.send("GET", "/api/v1/auth/me", session["access_token"])
        assert refused.status_code == 401 and refused.json()["error"]["details"]["reason"] == "revoked"
    await caller.on_both_replicas(logged_out)

    # a reused refresh token revokes its family everywhere: the thief's copy and the newer token
    caller = Caller(client, "10.0.0.2")
    first = (await caller.login(await _user(settings, "refresh"))).json()["data"]
    second = await caller.send("POST", "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200

    async def family_revoked() -> None:
        reused = await caller.send("POST", "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert reused.status_code == 401 and reused.json()["error"]["details"]["reason"] in ("reused", "revoked")
        newer = await caller.send("POST", "/api/v1/auth/refresh",
                                  json={"refresh_token": second.json()["data"]["refresh_token"]})
        assert newer.status_code == 401
    await caller.on_both_replicas(family_revoked)

    # failed sign-ins lock the account on every replica
    caller = Caller(client, "10.0.0.3")
    email = await _user(settings, "lockout")
    for _ in range(settings.auth.lockout_failures):
        assert (await caller.send("POST", "/api/v1/auth/login",
                                  json={"email": email, "password": "wrong-guess-1"})).status_code == 401

    async def locked() -> None:
        refused = await caller.login(email)
        assert refused.status_code == 401 and refused.json()["error"]["details"]["reason"] == "locked"
    await caller.on_both_replicas(locked)

    # a one-time code is accepted once in all
    caller = Caller(client, "10.0.0.4")
    email = await _user(settings, "totp")
    token = (await caller.login(email)).json()["data"]["access_token"]
    secret = (await caller.send("POST", "/api/v1/auth/mfa/enrol", token)).json()["data"]["secret"]
    totp = pyotp.TOTP(secret)
    step = int(time.time() // 30)
    assert (await caller.send("POST", "/api/v1/auth/mfa/verify", token, json={"code": totp.at(step * 30)})).status_code == 200
    later_code = totp.at((step + 1) * 30)  # valid now (a step of clock drift is allowed), and not yet used

    async def sign_in_with_the_code() -> int:
        return (await caller.login(email, otp=later_code)).status_code
    answers = await caller.on_both_replicas(sign_in_with_the_code)
    assert sorted(answers) == [200] + [401] * (len(answers) - 1)

    # the rate limit counts requests at every replica together
    caller = Caller(client, "10.0.0.5")
    token = (await caller.login(await _user(settings, "ratelimit"))).json()["data"]["access_token"]
    started = time.monotonic()
    statuses = [(await caller.send("GET", "/api/v1/auth/me", token)).status_code for _ in range(PER_MINUTE + 15)]
    took_s = time.monotonic() - started
    assert caller.both_seen()
    assert set(statuses) == {200, 429}
    # The sign-in above was one request. Across a minute's turn the sliding window lets the last
    # minute's hits go as they age, at PER_MINUTE a minute: that many more may pass while this runs.
    aged_out = math.ceil(PER_MINUTE * took_s / 60)
    assert PER_MINUTE - 2 <= statuses.count(200) <= PER_MINUTE + aged_out



async def test_security_state_is_shared_by_the_replicas_of_the_embedded_twin(ray_session, seeded_url):
    settings = _settings(seeded_url)
    async with served(settings) as client:
        await _check_every_security_state(client, settings)


async def test_security_state_is_shared_by_the_replicas_through_redis(ray_session, seeded_url):
    redis_fixture.require_redis(await redis_fixture.redis_available())
    prefix = redis_fixture.fresh_prefix()
    settings = _settings(seeded_url, redis_fixture.REDIS_URL, prefix)
    try:
        async with served(settings) as client:
            await _check_every_security_state(client, settings)
    finally:
        await redis_fixture.drop_prefix(prefix)
