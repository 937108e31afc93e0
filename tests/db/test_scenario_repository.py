"""Scenario runs in SQLite and PostgreSQL: a run whose runner went silent is marked failed, alone
or with every other, and a run that beats stays active."""

import datetime as dt

import pytest
from sqlalchemy import update

from db.engine import create_engine, writing
from db.scenario_repository import ScenarioRepository
from db.tables import scenario_runs

SILENCE = dt.timedelta(minutes=15)


@pytest.fixture
async def repo(database_url):
    engine = create_engine(database_url)
    yield ScenarioRepository(engine)
    await engine.dispose()


async def _running(repo: ScenarioRepository, run_id: str, silent_for: dt.timedelta) -> None:
    await repo.create(run_id, run_id, {}, ["Ariyalur"])
    await repo.started(run_id)
    async with writing(repo._engine) as conn:
        await conn.execute(update(scenario_runs).where(scenario_runs.c.id == run_id).values(
            heartbeat_at=dt.datetime.now(dt.UTC) - silent_for))


async def test_a_silent_run_fails_alone_or_with_the_others(repo):
    await _running(repo, "a" * 32, SILENCE * 2)
    await _running(repo, "b" * 32, SILENCE * 2)
    await _running(repo, "c" * 32, SILENCE / 2)

    assert await repo.fail_abandoned(SILENCE, "a" * 32) == 1
    assert [(await repo.get(r * 32))["status"] for r in "abc"] == ["failed", "running", "running"]
    assert "stopped" in (await repo.get("a" * 32))["error"]

    assert await repo.fail_abandoned(SILENCE) == 1  # b; c beat recently
    assert [(await repo.get(r * 32))["status"] for r in "abc"] == ["failed", "failed", "running"]


async def test_a_beat_keeps_a_run_alive(repo):
    await _running(repo, "d" * 32, SILENCE * 2)
    before = (await repo.get("d" * 32))["heartbeat_at"]
    await repo.beat("d" * 32)
    assert (await repo.get("d" * 32))["heartbeat_at"] > before
    assert await repo.fail_abandoned(SILENCE) == 0
