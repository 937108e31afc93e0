"""The synthetic world's opening events and first school days, fed to a benchmark's twin through
the ingest service itself (no HTTP: the figures measured afterwards are a service's own)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import orjson

FEED_BATCH = 20_000


async def feed_world(services, settings, days: int, say: Callable[[str], None]) -> int:  # noqa: ANN001
    """Ingest the world's opening events (stock, the first releases) and `days` school days; how
    many events that was."""
    from simulation.synthetic_schools import generate_schools
    from simulation.world import World

    world = World(generate_schools(settings.schools, settings.seed), seed=settings.feed.seed,
                  start=dt.date.fromisoformat(settings.feed.start_date))
    events = list(world.opening_events())
    for _ in range(days):
        events.extend(world.step_day())
    for k in range(0, len(events), FEED_BATCH):
        await services.ingest.ingest(orjson.dumps({"events": events[k:k + FEED_BATCH]}), all_results=False)
    say(f"fed {len(events):,} events")
    return len(events)
