"""Work handed to a Ray worker so that an API replica stays free: one task per job (`num_cpus=1`,
so a retraining waits for a free CPU rather than starving the shards), awaited without blocking."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import ray


def _call(work: Callable[[], object]) -> None:
    work()


async def run_on_ray(work: Callable[[], object]) -> None:
    task = ray.remote(num_cpus=1, max_retries=0)(_call)
    await asyncio.wrap_future(task.remote(work).future())


def _call_returning(fn: Callable, args: tuple) -> object:
    return fn(*args)


async def call_on_ray(fn: Callable, *args: object) -> object:
    """`fn(*args)` in a Ray task (one CPU), its result awaited without blocking: CPU-heavy work
    (laying out a report's PDF) off the API replica's process."""
    task = ray.remote(num_cpus=1, max_retries=0)(_call_returning)
    return await asyncio.wrap_future(task.remote(fn, args).future())
