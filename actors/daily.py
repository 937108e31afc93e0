"""A daily timer as a Ray actor: runs a job once a day at a local time (the models' upkeep at 02:00
India time by default). One actor per twin and job, so two API replicas never run the same job twice."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from zoneinfo import ZoneInfo

import ray

from actors.node_placement import singleton_options

log = logging.getLogger("mealtwin.daily")


def next_run(now: dt.datetime, at: str, timezone: str) -> dt.datetime:
    """The next moment (UTC) that the local clock of `timezone` shows `at` (HH:MM), after `now`."""
    zone = ZoneInfo(timezone)
    hour, minute = (int(p) for p in at.split(":"))
    local = now.astimezone(zone)
    candidate = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if candidate <= local:
        candidate = (local + dt.timedelta(days=1)).replace(hour=hour, minute=minute, second=0, microsecond=0)
    return candidate.astimezone(dt.UTC)


@ray.remote(num_cpus=0, max_restarts=-1)
class DailyTimer:
    def __init__(self, at: str, timezone: str, job: Callable[[], Awaitable[None]]) -> None:
        self._at, self._timezone, self._job = at, timezone, job
        self._next = next_run(dt.datetime.now(dt.UTC), at, timezone)
        self._last: dict | None = None
        self._loop: asyncio.Task | None = None

    async def start(self) -> str:
        if self._loop is None:
            self._loop = asyncio.get_running_loop().create_task(self._run())
        return self._next.isoformat()

    async def status(self) -> dict:
        return {"next_run": self._next.isoformat(), "last": self._last}

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(max(0.0, (self._next - dt.datetime.now(dt.UTC)).total_seconds()))
            started = dt.datetime.now(dt.UTC)
            try:
                await self._job()
                self._last = {"at": started.isoformat(), "ok": True}
            except Exception as exc:  # noqa: BLE001 - tomorrow is another day; say what went wrong today
                log.exception("the daily job failed")
                self._last = {"at": started.isoformat(), "ok": False, "error": f"{type(exc).__name__}: {exc}"}
            self._next = next_run(dt.datetime.now(dt.UTC), self._at, self._timezone)


def start_daily(at: str, timezone: str, job: Callable[[], Awaitable[None]],
                name: str = "models-daily") -> tuple[object, str]:
    """The timer actor `name` (one per job and twin), started; and when it first fires (ISO, UTC)."""
    timer = DailyTimer.options(name=name, get_if_exists=True, **singleton_options()).remote(at, timezone, job)
    return timer, ray.get(timer.start.remote())
