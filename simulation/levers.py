"""What a scenario changes, in the engine's terms: indices and day offsets, no names.

`scenarios.compile` turns a validated spec into these; the engine reads nothing else. Days count
from the start day (0 = the first simulated day) and windows are inclusive."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from twin import norms


class Lever(StrEnum):
    DELIVERY_DELAY = "delivery_delay"  # grain deliveries planned in the window come `value` days late
    DELIVERY_CANCEL = "delivery_cancel"  # ... or not at all
    SCHOOL_CLOSURE = "school_closure"  # schools closed on the window's days
    ROAD_CLOSURE = "road_closure"  # depots cannot reach the blocks on the window's days
    FUND_DELAY = "fund_delay"  # releases due in the window come `value` days late
    ENROLMENT_CHANGE = "enrolment_change"  # enrolment times (1 + value / 100) for the whole run
    COOK_VACANCY = "cook_vacancy"  # a share `value` of kitchens run without their own cook
    PRICE_SHOCK = "price_shock"  # cost per meal times (1 + value / 100) on the window's days
    EGG_SHORTFALL = "egg_shortfall"  # a share `value` of weekly egg drops in the window missed


@dataclass(frozen=True)
class Disruption:
    lever: Lever
    blocks: np.ndarray  # bool [nb] global blocks hit
    first_day: int = 0
    last_day: int = 10**6
    value: float = 0.0

    def on(self, day: int) -> bool:
        return self.first_day <= day <= self.last_day


@dataclass(frozen=True)
class Reallocation:
    """Each school day, a school with fewer than `below_days` of grain receives from block peers
    holding more than `above_days`, up to `up_to_days`; donors keep at least `above_days`."""

    below_days: float
    above_days: float
    up_to_days: float


@dataclass(frozen=True)
class PlanLevers:
    name: str = "baseline"
    buffer_days: float = norms.GRAIN_BUFFER_DAYS  # deliveries top grain up to this many days of use
    delivery_interval_days: int = 30  # days between a depot's planned grain deliveries
    top_up_at_start: bool = False  # an extra delivery to the buffer target on day 0
    reallocation: Reallocation | None = None
    fund_advance_months: float = 0.0  # months of meal cost released on day 0, recovered from the next tranche
    # float64 [n, 4] added to the start's stock before day 0 (rows as the engine's start): the
    # transfers of an optimised or greedy plan, so the engine replays exactly what was proposed
    stock_change: np.ndarray | None = field(default=None, compare=False)
    funds_change: np.ndarray | None = field(default=None, compare=False)  # float64 [n] INR added on day 0 (advances)
    # a delivery schedule's depot visits, each replayed on its day (`simulation.supply.planned_visits`):
    # (school day of the horizon, 0 the first: int64 [k]; school row: int64 [k]; items: float64 [k, 4])
    stock_visits: tuple[np.ndarray, np.ndarray, np.ndarray] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ScenarioInputs:
    """Horizon, seed and disruptions shared by every plan of a scenario."""

    horizon_days: int
    seed: int
    disruptions: tuple[Disruption, ...] = field(default_factory=tuple)
    weather: bool = True  # the world's own random monsoon closures, as in the live feed

    def of(self, lever: Lever) -> list[Disruption]:
        return [d for d in self.disruptions if d.lever == lever]
