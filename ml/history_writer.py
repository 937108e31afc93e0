"""Simulated history into the store: the seeded schools, every day from `first` up to `last`
(excluded) from the world model, a month at a time, with what made it recorded beside it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from ml import history_store
from ml.history import (
    GENERATOR_VERSION,
    generate_history,
    history_sample,
    synthetic_schools,
)
from ml.panel import Panel
from ml.registry import code_version


def years_before(end: dt.date, years: int) -> dt.date:
    try:
        return end.replace(year=end.year - years)
    except ValueError:  # 29 February
        return end.replace(year=end.year - years, day=28)


def write_history(root: Path, schools: int, seed: int, first: dt.date, last: dt.date,
                  progress: Callable[[int, int], None] | None = None,
                  month_written: Callable[[Panel], None] | None = None, most_schools: int | None = None) -> None:
    """`progress(days done, days in all)` as days are simulated; `month_written(month)` after each.
    With `most_schools`, the history holds an even sample of at most that many of the `schools`
    (`ml.history.history_sample`): its cost is then bounded whatever the twin's size."""
    table = synthetic_schools(schools, seed)
    if most_schools is not None:
        table = history_sample(table, most_schools)
    meta = {"seed": seed, "schools": len(table), "of_schools": schools,
            "first_day": first.isoformat(), "end": last.isoformat(),
            "generator_version": GENERATOR_VERSION, "code_version": code_version(), "source": "simulation.world.World"}
    # A month is compressed and written while the next is simulated: zlib lets go of the GIL.
    with ThreadPoolExecutor(1, thread_name_prefix="history-writer") as writer:
        pending: tuple[Future, Panel] | None = None
        for k, month in enumerate(generate_history(table, first, last, seed, progress)):
            if k == 0:
                history_store.write_schools(root, month, meta)
            if pending is not None:  # one month in memory beside the one being made
                _written(*pending, month_written)
            pending = writer.submit(history_store.write_month, root, month), month
        if pending is not None:
            _written(*pending, month_written)


def _written(done: Future, month: Panel, month_written: Callable[[Panel], None] | None) -> None:
    done.result()
    if month_written is not None:
        month_written(month)
