"""The read cache: a school's history is folded once until the school has a new event, a settled
past moment is rebuilt once, a recent one every time; in Redis the replicas share it, and a Redis
that is gone costs a fold, never an answer."""

from __future__ import annotations

import datetime as dt

import pytest

import twin.history
from configs import Settings
from configs.settings import ReadCache
from serve_app.shared.read_cache import MemoryReadCache
from tests.fixtures.app import client_of, running_app
from tests.fixtures.builders import small_directory
from tests.fixtures.events import START
from tests.fixtures.private_servers import private_redis  # noqa: F401 - fixture
from tests.serve_app.streams.test_endpoints import sqlite_url  # noqa: F401 - fixture

DIRECTORY, _ = small_directory()
SCHOOL = f"{int(DIRECTORY.school_ids[0]):011d}"
HISTORY = f"/api/v1/twin/schools/{SCHOOL}/history"
RANGE = {"from": START.isoformat(), "to": (START + dt.timedelta(days=9)).isoformat()}


@pytest.fixture
def folds(monkeypatch):
    """How many times a school's history was folded from the log."""
    calls = []
    real = twin.history.school_history
    monkeypatch.setattr(twin.history, "school_history", lambda *args: calls.append(args) or real(*args))
    return calls


def _report(event_id: str, primary: int, day: int = 0) -> dict:
    return {"type": "attendance_reported", "event_id": event_id, "date": (START + dt.timedelta(days=day)).isoformat(),
            "school_id": SCHOOL, "present": 50, "meals_served": {"primary": primary}}


async def test_entries_expire_and_the_least_recently_used_go_first():
    now = [0.0]
    cache = MemoryReadCache(max_entries=2, clock=lambda: now[0])
    await cache.set("a", b"1", 10)
    await cache.set("b", b"2", 10)
    assert await cache.get("a") == b"1"  # a is now the most recently used
    await cache.set("c", b"3", 10)
    assert await cache.get("b") is None and await cache.get("a") == b"1"
    now[0] = 11
    assert await cache.get("a") is None


async def test_a_history_is_folded_once_until_the_school_has_a_new_event(sqlite_url, folds):  # noqa: F811
    async with running_app(Settings(database_url=sqlite_url)) as app, client_of(app) as client:
        await client.post("/api/v1/events", json={"events": [_report("c1", 30)]})
        first = await client.get(HISTORY, params=RANGE)
        again = await client.get(HISTORY, params=RANGE)
        assert first.json()["data"] == again.json()["data"] and len(folds) == 1

        await client.post("/api/v1/events", json={"events": [_report("c2", 20)]})  # a correction
        changed = await client.get(HISTORY, params=RANGE)
        assert len(folds) == 2
        assert changed.json()["data"]["days"][0]["meals_served"]["primary"] == 20


async def test_only_a_settled_moment_is_cached(sqlite_url, monkeypatch):  # noqa: F811
    async with running_app(Settings(database_url=sqlite_url, read_cache=ReadCache(settled_s=3600))) as app, \
            client_of(app) as client:
        await client.post("/api/v1/events", json={"events": [_report("s1", 30)]})
        rebuilds = []
        time_travel = app.state.services.time_travel
        real = time_travel._reader
        monkeypatch.setattr(time_travel, "_reader", lambda as_of: rebuilds.append(as_of) or real(as_of))
        now = dt.datetime.now(dt.UTC).isoformat()
        for _ in range(2):
            assert (await client.get("/api/v1/twin/state", params={"as_of": now})).status_code == 200
        assert len(rebuilds) == 2  # recent: the log may still be settling
        monkeypatch.setattr(time_travel, "_clock", lambda: dt.datetime.now(dt.UTC) + dt.timedelta(hours=2))
        for _ in range(2):
            assert (await client.get("/api/v1/twin/state", params={"as_of": now})).status_code == 200
        assert len(rebuilds) == 3  # settled: rebuilt once


async def test_replicas_share_the_cache_in_redis_and_do_without_it(private_redis, sqlite_url, folds):  # noqa: F811
    settings = Settings(database_url=sqlite_url, redis_url=private_redis.url)
    async with running_app(settings) as one, running_app(settings) as two, client_of(one) as a, client_of(two) as b:
        await a.post("/api/v1/events", json={"events": [_report("r1", 30)]})
        answer = (await a.get(HISTORY, params=RANGE)).json()["data"]
        assert (await b.get(HISTORY, params=RANGE)).json()["data"] == answer and len(folds) == 1

        key = await _api_key(two)  # signed-in checks fail closed without Redis; a key is checked in the database
        private_redis.stop()
        async with client_of(two, role=None) as keyed:
            without = await keyed.get(HISTORY, params=RANGE, headers={"X-API-Key": key})
        assert without.status_code == 200 and without.json()["data"] == answer and len(folds) == 2


async def _api_key(app) -> str:  # noqa: ANN001
    from serve_app.auth.principal import ROLE_PERMISSIONS, Caller, Principal, Role
    from twin.area import STATE

    system = Principal("system:test", Role.STATE_ADMIN.value, STATE, ROLE_PERMISSIONS[Role.STATE_ADMIN])
    return (await app.state.services.accounts.create_key(system, "cache", ["read"], STATE, Caller("test")))["key"]
