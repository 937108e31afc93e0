"""Years of daily school history from the world model, a month at a time.

The world (`simulation.world.World`) simulates every school's true attendance, meals, stock, funds
and closures. Here it runs quietly (no event dicts) and its true arrays are read after each day, so
three years of all of Tamil Nadu never sit in memory as events: one `Panel` per calendar month.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import replace

import numpy as np

from ml.panel import Panel
from simulation.synthetic_schools import SchoolTable, generate_schools
from simulation.world import NO_REASON, World
from twin import calendar, norms
from twin.directory import BlockTable

# Bump when the history's meaning changes (new fields, different world rules), so a store knows
# what made it.
GENERATOR_VERSION = 1
# The world starts every school with a full month of grain; a month's warm-up spreads stock and
# depot cycles as they would be in a running programme before the first recorded day.
WARM_UP_DAYS = 35
DAY_KINDS = tuple(calendar.DayKind)

Progress = Callable[[int, int], None]


def generate_history(
    schools: SchoolTable,
    start: dt.date,
    end: dt.date,
    seed: int,
    progress: Progress | None = None,
    warm_up_days: int = WARM_UP_DAYS,
) -> Iterator[Panel]:
    """Daily history of `schools` for start <= day < end, one Panel per calendar month (the first
    and last may be partial). `progress(done_days, total_days)` is called after every day."""
    if end <= start:
        raise ValueError("end must come after start")
    world = World(schools, seed=seed, start=start - dt.timedelta(days=warm_up_days), emit_events=False)
    for _ in range(warm_up_days):
        world.step_day()
    total = (end - start).days
    month = _MonthBuffer(schools)
    for done in range(1, total + 1):
        day = world.today
        world.step_day()
        month.add(world, day)
        if progress is not None:
            progress(done, total)
        if (day + dt.timedelta(days=1)).month != day.month or done == total:
            yield month.panel()
            month = _MonthBuffer(schools)


def generate_history_panel(n_schools: int, start: dt.date, n_days: int, seed: int) -> Panel:
    """One Panel of `n_schools` synthetic schools over `n_days` days from `start` (small runs: tests,
    experiments). Fewer schools than blocks are an even pick from a table with one per block."""
    table = synthetic_schools(n_schools, seed)
    end = start + dt.timedelta(days=n_days)
    return Panel.concat(list(generate_history(table, start, end, seed)))


def synthetic_schools(n_schools: int, seed: int) -> SchoolTable:
    """`n_schools` synthetic schools; below one per block, an evenly spread subset of the blocks."""
    n_blocks = len(BlockTable.from_geography())
    table = generate_schools(max(n_schools, n_blocks), seed)
    if n_schools >= n_blocks:
        return table
    keep = np.linspace(0, len(table) - 1, n_schools).round().astype(np.int64)
    return subset_schools(table, keep)


def history_sample(table: SchoolTable, most: int) -> SchoolTable:
    """At most `most` of `table`'s schools, evenly spread over the table's order (districts, blocks
    and, at India scale, the tiles within each block), so that every block keeps about its share:
    what the models learn from when the twin holds more schools than its history needs."""
    if len(table) <= most:
        return table
    return subset_schools(table, np.linspace(0, len(table) - 1, most).round().astype(np.int64))


def subset_schools(table: SchoolTable, index: np.ndarray) -> SchoolTable:
    """The schools at positions `index` of `table`."""
    picked = index.tolist()
    return replace(
        table,
        udise=table.udise[index],
        name=[table.name[i] for i in picked],
        district=table.district[index],
        block=table.block[index],
        latitude=table.latitude[index],
        longitude=table.longitude[index],
        enrolment=table.enrolment[index],
        capacity=table.capacity[index],
        has_hostel=table.has_hostel[index],
        breakfast_scheme=table.breakfast_scheme[index],
        depot_id=[table.depot_id[i] for i in picked],
    )


class _MonthBuffer:
    """The days of one month, read off the world's true state after each day."""

    def __init__(self, schools: SchoolTable):
        self.schools = schools
        self.rows: dict[str, list[np.ndarray]] = {}

    def _put(self, name: str, value: np.ndarray) -> None:
        self.rows.setdefault(name, []).append(value)

    def add(self, world: World, day: dt.date) -> None:
        truth = world.truth
        assert truth is not None and truth.date == day
        is_open = truth.open
        self._put("dates", np.datetime64(day, "D"))
        self._put("day_kind", np.int8(DAY_KINDS.index(calendar.day_kind(day))))
        self._put("rainfall_mm", truth.rain_mm.astype(np.float32))
        self._put("enrolment", world.enrolment.sum(axis=1).astype(np.float32))
        self._put("open", is_open.copy())
        self._put("reported", truth.reported.copy())
        self._put("present", np.where(truth.reported, truth.present, np.nan).astype(np.float32))
        self._put("meals", np.where(is_open, truth.meals, np.nan).astype(np.float32))
        self._put("no_meal", is_open & (truth.reason != NO_REASON))
        self._put("shortage", truth.shortage.copy())
        self._put("rice_days", _days_of(world.stock[:, 0], world.demand[:, 0]))
        self._put("funds_days", _days_of(world.funds, _daily_meal_cost(world, day)))

    def panel(self) -> Panel:
        t = self.schools
        stacked = {name: np.stack(values) if name not in ("dates", "day_kind") else np.array(values)
                   for name, values in self.rows.items()}
        out = Panel(
            school_id=t.udise.astype(np.int64),
            district=t.district.astype(np.int16),
            block=t.block.astype(np.int32),
            **stacked,
        )
        out.validate()
        return out


def _days_of(amount: np.ndarray, per_day: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(per_day > 0, amount / per_day, np.nan).astype(np.float32)


def _daily_meal_cost(world: World, day: dt.date) -> np.ndarray:
    """What a normal school day's meals cost the school: its usual eaters by band at the day's norms."""
    usual_eaters = world.enrolment * (world.base_rate * world.eat_share)[:, None]
    return usual_eaters @ np.asarray(norms.cost_per_meal(day))
