"""The live feed: a world model's school days, posted to the twin's ingest endpoint on an
accelerated clock. Event ids are deterministic, so a restarted feed re-sends nothing twice."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable

import httpx

from simulation.progress import ProgressLine
from simulation.world import World

log = logging.getLogger(__name__)


async def post_events(client: httpx.AsyncClient, events: list[dict], attempts: int = 8) -> dict:
    """POST one batch; retried with backoff on connection errors and 5xx (safe: ids dedupe). When
    the twin says when to come back (429 over its rate limit, 503 busy, both with Retry-After) the
    feed waits that long and tries again without giving up: a live feed outlasts a busy spell."""
    delay = 0.5
    attempt = 0
    while attempt < attempts:
        try:
            response = await client.post("/api/v1/events", params={"results": "problems"}, json={"events": events})
            if response.status_code in (429, 503) and "retry-after" in response.headers:
                wait = float(response.headers["retry-after"])
                log.warning("the twin is %s: the feed waits %.0fs",
                            "busy" if response.status_code == 503 else "over its rate limit", wait)
                await asyncio.sleep(wait)
                continue
            if response.status_code == 401:
                raise RuntimeError(f"the twin refused the feed's credentials: {response.json().get('error')}")
            if response.status_code < 500:
                body = response.json()
                if not body.get("success"):
                    log.warning("feed batch refused: %s", body.get("error"))
                return body.get("data") or {}
        except httpx.HTTPError as exc:
            log.warning("feed post failed (%s), retrying", type(exc).__name__)
        attempt += 1
        if attempt == attempts:
            raise RuntimeError("the twin did not accept a feed batch after repeated attempts")
        await asyncio.sleep(delay)
        delay = min(delay * 2, 10)
    return {}


async def run_feed(base_url: str, world: World, seconds_per_day: float, batch_size: int,
                   days: int | None = None, send_opening: bool = True,
                   say: Callable[[str], None] = print, api_key: str | None = None) -> None:
    """Feed `days` simulated days (forever if None), each spread over `seconds_per_day`, signed
    with `api_key` (an `events:write` key)."""
    headers = {"X-API-Key": api_key} if api_key else {}
    async with httpx.AsyncClient(base_url=base_url, timeout=120, headers=headers) as client:
        if send_opening:
            opening = world.opening_events()
            progress = ProgressLine("feed: opening stock and funds", say)
            for k in range(0, len(opening), batch_size):
                await post_events(client, opening[k : k + batch_size])
                progress(min(k + batch_size, len(opening)), len(opening))
            say(f"feed: opening stock and funds for {len(world.schools):,} schools ({len(opening):,} events)")
        done = 0
        while days is None or done < days:
            day: dt.date = world.today
            started = time.monotonic()
            events = await asyncio.to_thread(world.step_day)
            totals = {"accepted": 0, "corrections": 0, "duplicates": 0, "rejected": 0}
            batches = [events[k : k + batch_size] for k in range(0, len(events), batch_size)] or [[]]
            pause = seconds_per_day / len(batches)
            for batch in batches:
                t = time.monotonic()
                if batch:
                    result = await post_events(client, batch)
                    for key in totals:
                        totals[key] += int(result.get(key, 0))
                await asyncio.sleep(max(0.0, pause - (time.monotonic() - t)))
            done += 1
            say(f"feed: {day:%a %d %b %Y}: {len(events):,} events ({totals['accepted']:,} accepted, "
                f"{totals['corrections']} corrections, {totals['duplicates']} duplicates, {totals['rejected']} rejected) "
                f"in {time.monotonic() - started:.1f}s")
