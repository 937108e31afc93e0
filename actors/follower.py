"""A job that never ends (following a stream) as a Ray actor of its own: one actor per twin and
job, found by name, so API replicas never run it twice; a failure restarts the job after a pause."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import ray

log = logging.getLogger("mealtwin.follower")
RESTART_PAUSE_S = 5.0


@ray.remote(num_cpus=0, max_restarts=-1)
class Follower:
    def __init__(self, job: Callable[[], Awaitable[None]]) -> None:
        self._job = job
        self._loop: asyncio.Task | None = None
        self._failures = 0

    async def start(self) -> None:
        if self._loop is None:
            self._loop = asyncio.get_running_loop().create_task(self._run())

    async def status(self) -> dict:
        return {"running": self._loop is not None and not self._loop.done(), "failures": self._failures}

    async def _run(self) -> None:
        while True:
            try:
                await self._job()
            except Exception:  # noqa: BLE001 - a lost connection: start again from now
                self._failures += 1
                log.exception("the follower's job failed; restarting it")
            await asyncio.sleep(RESTART_PAUSE_S)


def start_follower(job: Callable[[], Awaitable[None]], name: str) -> object:
    """The follower actor `name` (one per job and twin), started."""
    actor = Follower.options(name=name, get_if_exists=True).remote(job)
    ray.get(actor.start.remote())
    return actor
