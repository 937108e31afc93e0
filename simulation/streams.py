"""Random streams of one replication, one per purpose, so plans share them (common random numbers).

Replication r of a scenario with seed s draws purpose p from `SeedSequence(s, spawn_key=(r, p))`:
every plan sees the same attendance, weather and delays in replication r, and a plan that draws
more from one stream (an extra delivery) does not shift another."""

from __future__ import annotations

import numpy as np

PURPOSES = (
    "attendance",  # daily attendance and the district shocks
    "kitchen",  # cook absence, meals not served, refusals for lack of funds, other spending
    "spoilage",  # grain lost to damp and pests
    "deliveries",  # grain delivery delays and delay-prone depots
    "shipments",  # short shipments on the day a delivery comes
    "eggs",  # weekly egg drops missed
    "weather",  # monsoon systems, block floods, local closures
    "funds",  # when each level passes a tranche on
    "schedule",  # depot cycles and egg weekdays the start state does not know, vacant cook posts
)


def streams(seed: int, replication: int) -> dict[str, np.random.Generator]:
    """One generator per purpose for replication `replication` of a run seeded `seed`."""
    return {
        purpose: np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(replication, k)))
        for k, purpose in enumerate(PURPOSES)
    }
