"""`StartState`: the arrays a scenario starts from, built from the live twin's shards or from the
synthetic world. Rows are schools in global order (hence grouped by block, then district)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields, replace

import numpy as np

from twin import geography, norms
from twin.directory import BlockTable, Directory
from twin.state import FUNDS_RELEASED, MEAL_COST, NO_DAY, OTHER_UTILISED, ShardState

DEFAULT_ATTENDANCE_RATE = 0.87  # share of enrolled children present, when the twin has no history
DEFAULT_EAT_SHARE = 0.97  # share of those present who eat the meal


@dataclass
class StartState:
    """Per-school state on the morning of `day` (the first simulated day).

    Day fields count days from `day` (0 = `day`); -1 means none. Per-block fields are indexed by
    global block (`BlockTable.from_geography()` order) and are None when unknown: the engine then
    draws them (a staggered delivery cycle, a weekday for eggs)."""

    day: dt.date
    school_ids: np.ndarray  # int64 [n] UDISE codes
    block: np.ndarray  # int32 [n] global block index
    district: np.ndarray  # int16 [n] district index
    enrolment: np.ndarray  # int32 [n, 3] children by band
    stock: np.ndarray  # float64 [n, 4] rice kg, pulses kg, oil kg, eggs (on hand, >= 0)
    funds_inr: np.ndarray  # float64 [n] balance of the school's account (may be negative)
    closed_until_day: np.ndarray  # int32 [n] last closed day from `day`; -1 open
    attendance_rate: np.ndarray  # float64 [n] share of enrolled present on an ordinary school day
    eat_share: np.ndarray  # float64 [n] share of present children who eat
    grain_planned_day: np.ndarray | None = None  # int64 [nb] next planned grain delivery
    grain_due_day: np.ndarray | None = None  # int64 [nb] when it will really come (planned + delay)
    grain_delay_prone: np.ndarray | None = None  # bool [nb] depots that are chronically late
    egg_weekday: np.ndarray | None = None  # int64 [nb] weekday of each block's egg drop

    def __len__(self) -> int:
        return int(self.school_ids.shape[0])

    def subset(self, schools: np.ndarray) -> StartState:
        """The same start restricted to `schools` (bool mask [n] or ascending indices)."""
        per_school = {f.name for f in fields(self)} - {
            "day", "grain_planned_day", "grain_due_day", "grain_delay_prone", "egg_weekday"}
        return replace(self, **{name: getattr(self, name)[schools] for name in per_school})

    # ----------------------------------------------------------------- builders

    @classmethod
    def from_world(cls, world) -> StartState:  # noqa: ANN001 - simulation.world.World
        """The synthetic world's true state on its `today`, with its depots' schedules."""
        today = norms.day_number(world.today)
        t = world.schools
        return cls(
            day=world.today,
            school_ids=t.udise.astype(np.int64),
            block=t.block.astype(np.int32),
            district=t.district.astype(np.int16),
            enrolment=world.enrolment.astype(np.int32),
            stock=np.maximum(world.stock, 0.0),
            funds_inr=world.funds.astype(np.float64),
            closed_until_day=np.maximum(world.closed_until - today, -1).astype(np.int32),
            attendance_rate=world.base_rate.copy(),
            eat_share=world.eat_share.copy(),
            grain_planned_day=(world._grain_planned - today).astype(np.int64),
            grain_due_day=(world._grain_due - today).astype(np.int64),
            grain_delay_prone=world._delay_prone.copy(),
            egg_weekday=world._egg_weekday.astype(np.int64),
        )

    @classmethod
    def from_schools(cls, schools, day: dt.date, buffer_days: float = norms.GRAIN_BUFFER_DAYS,  # noqa: ANN001
                     seed: int = 0) -> StartState:
        """A `SchoolTable` with every school holding `buffer_days` of its daily need and a quarter's
        funds; attendance habits drawn with `seed`."""
        rng = np.random.default_rng(seed)
        n = len(schools)
        enrolment = schools.enrolment.astype(np.int32)
        stock = norms.daily_need(enrolment.astype(np.float64)) * buffer_days
        stock[:, 3] = np.ceil(stock[:, 3] / buffer_days * 8)  # a week of eggs and a bit
        return cls(
            day=day,
            school_ids=schools.udise.astype(np.int64),
            block=schools.block.astype(np.int32),
            district=schools.district.astype(np.int16),
            enrolment=enrolment,
            stock=stock,
            funds_inr=norms.annual_allocation_inr(enrolment, day) / 4,
            closed_until_day=np.full(n, -1, np.int32),
            attendance_rate=rng.uniform(0.80, 0.95, n),
            eat_share=rng.uniform(0.95, 0.99, n),
        )

    @classmethod
    def from_shards(cls, states: list[ShardState], directory: Directory, day: dt.date | None = None,
                    today: int | None = None) -> StartState:
        """The live twin, from its shards' states (a consistent snapshot is the caller's job).

        Stock is the book balance clipped at zero; funds are released minus spent; attendance is
        each school's recent meals over enrolment (the twin sees meals, not who was present).
        `today` is the twin's day (default: the latest of `states`'): a reader of copies of some
        districts passes it, as a shard without the newest day's reports must not move their
        start back from the whole twin's. `day` defaults to the day after it."""
        today = max(int(s.today[0]) for s in states) if today is None else today
        start = norms.day_date(today + 1) if day is None else day
        start_n = norms.day_number(start)
        parts = []
        for s in states:
            if s.n_schools == 0:
                continue
            g = directory.lookup(s.school_ids)
            keep = (g >= 0) & s.active
            meals = np.where(s.hist_day[:, :, None] >= today - 14, s.hist_meals, 0).sum(axis=(1, 2))
            days = ((s.hist_day >= today - 14) & (s.hist_day != NO_DAY)).sum(axis=1)
            enrolled = np.maximum(s.enrolment.sum(axis=1), 1)
            fallback = DEFAULT_ATTENDANCE_RATE * DEFAULT_EAT_SHARE
            rate = np.where(days > 0, meals / (enrolled * np.maximum(days, 1)), fallback)
            closed = (s.closed_to >= start_n) & (s.closed_from != NO_DAY) & (s.closed_from <= start_n)
            parts.append({
                "g": g[keep],
                "stock": np.maximum(s.stock[keep], 0.0),
                "funds": (s.funds[:, FUNDS_RELEASED] - s.funds[:, MEAL_COST] - s.funds[:, OTHER_UTILISED])[keep],
                "enrolment": s.enrolment[keep],
                "closed": np.where(closed, s.closed_to - start_n, -1)[keep],
                "rate": np.clip(rate, 0.05, 1.0)[keep],
            })
        cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]} if parts else None
        if cat is None:
            raise ValueError("no schools in the given shard states")
        order = np.argsort(cat["g"], kind="stable")
        g = cat["g"][order]
        return cls(
            day=start,
            school_ids=directory.school_ids[g].astype(np.int64),
            block=directory.school_block[g].astype(np.int32),
            district=directory.school_district[g].astype(np.int16),
            enrolment=cat["enrolment"][order].astype(np.int32),
            stock=cat["stock"][order],
            funds_inr=cat["funds"][order],
            closed_until_day=cat["closed"][order].astype(np.int32),
            attendance_rate=cat["rate"][order],
            eat_share=np.ones(len(g)),
        )


def depot_ids() -> tuple[str, ...]:
    """The depot serving each global block (one per block), named as the synthetic schools name them."""
    out = []
    for d in geography.districts():
        out += [f"DEPOT-{d.code:02d}-{k:02d}" for k in range(1, len(d.blocks) + 1)]
    return tuple(out)


def block_count() -> int:
    return len(BlockTable.from_geography())


def synthetic_start(n_schools: int, seed: int, day: dt.date, warm_up_days: int = 35) -> StartState:
    """A start from the synthetic world (as the live feed runs it) on `day`: `n_schools` schools,
    the world run `warm_up_days` up to `day` first, so depots are mid-cycle and stock levels spread
    as they would be in the live twin."""
    from simulation.synthetic_schools import generate_schools
    from simulation.world import World

    world = World(generate_schools(n_schools, seed), seed=seed, start=day - dt.timedelta(days=warm_up_days))
    for _ in range(warm_up_days):
        world.step_day()
    return StartState.from_world(world)


_BLOCK_DISTRICT: list[np.ndarray] = []


def block_district() -> np.ndarray:
    """int64 [nb]: the district of each global block."""
    if not _BLOCK_DISTRICT:
        _BLOCK_DISTRICT.append(BlockTable.from_geography().district.astype(np.int64))
    return _BLOCK_DISTRICT[0]
