"""The per-school columns a shard pushes to the state twin after its batches (roll-up metrics, and
risk features), each kept between its pushes and recomputed only at the rows folds wrote since.

Computing them for every school costs ~60 ms of CPU for Tamil Nadu's 43,000 and about a second and
a half for India's 1.08 M, paid after every batch however few schools it named; a dashboard waits
for that push to see the batch. Each school's columns depend on its own rows, on `today`, and (the
risk features only) on the oldest day kept in any school's history
(`twin.school_features.first_kept_day`, a scan of every school's history: ~7 ms at 1.08 M, so
not taken where nothing depends on it): while those and the number of schools stay the same, a row
no fold wrote keeps its columns.

A fold and a push may run at the same time (each in its own thread). Rows are marked with a
stamp that grows with every fold, after the fold wrote them; a push takes the rows stamped since
the stamp it last took, read before it computes. A fold that marks while a push computes gets a
later stamp, so its rows are recomputed at the next push: no write is missed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

from twin.kernels import rollup
from twin.school_features import first_kept_day, school_features_and_funds
from twin.state import ShardState
from twin.views import school_metrics


class PushedColumns:
    """One kind of per-school column (`compute(state, rows)`: float64 [len(rows), k]), kept."""

    def __init__(self, compute: Callable[[ShardState, np.ndarray | None], np.ndarray],
                 on_kept_days: bool = False) -> None:
        self._compute = compute
        self._on_kept_days = on_kept_days  # every row depends on `first_kept_day` too
        self.values: np.ndarray | None = None  # of every school, as of the last refresh
        self._key: tuple[int, int, int] | None = None  # (schools, today, first kept day or 0) they hold for
        self._stamps = np.zeros(0, np.int64)  # per school: the fold that last wrote it
        self._folds = 0
        self._taken = 0  # rows stamped after this are not in the values yet

    def mark(self, written: np.ndarray) -> None:
        """After a fold: the rows it may have written (bool [schools], `twin.changed_rows`) need
        computing again."""
        if len(self._stamps) != len(written):
            return  # the next refresh computes every row anyway
        stamp = self._folds + 1
        self._stamps[written] = stamp
        self._folds = stamp  # only now: a refresh that reads this stamp finds every row it marks

    def invalidate(self) -> None:
        """State changed outside a fold (enrolment, activation, a restore): every row next time."""
        self._key = None

    def refresh(self, state: ShardState) -> np.ndarray | None:
        """Bring the values up to `state`. Returns the local rows recomputed, or None when every
        row was."""
        taken = self._folds
        key = (state.n_schools, int(state.today[0]), first_kept_day(state) if self._on_kept_days else 0)
        if key != self._key or self.values is None:
            self._stamps = np.zeros(state.n_schools, np.int64)
            self._taken = taken
            self.values = self._compute(state, None)
            self._key = key
            return None
        if taken == self._taken:
            return np.zeros(0, np.int64)  # no fold since the last refresh
        rows = np.flatnonzero(self._stamps > self._taken)
        self._taken = taken
        if len(rows):
            self.values[rows] = self._compute(state, rows)
        return rows


def roll_up_metrics() -> PushedColumns:
    """`twin.views.school_metrics`, kept: what a shard's roll-ups add up."""
    return PushedColumns(school_metrics)


class BlockTotals:
    """Every hosted block's totals (`twin.views.school_metrics` summed by block, float64 [nb, k]),
    kept: the metrics are `roll_up_metrics`, and the sum is taken again only when some of them
    were recomputed. Every district and block view, and each push to the state twin, reads them:
    at India's scale a view computed from its district's schools at each read cost the shard a core
    under 10,000 viewers. Reads come from threads: one refresh at a time."""

    def __init__(self) -> None:
        self._metrics = roll_up_metrics()
        self._lock = threading.Lock()
        self._totals: np.ndarray | None = None

    def mark(self, written: np.ndarray) -> None:
        self._metrics.mark(written)

    def invalidate(self) -> None:
        self._metrics.invalidate()

    def refresh(self, state: ShardState) -> np.ndarray:
        """The totals as of `state` (summed in school order, so each block's row is the same to the
        last bit as summing its schools afresh). Treat as read-only: a later refresh replaces it."""
        with self._lock:
            rows = self._metrics.refresh(state)
            if rows is None or len(rows) or self._totals is None:
                self._totals = rollup(state.school_block, self._metrics.values, len(state.block_global))
            return self._totals


def risk_features() -> PushedColumns:
    """`twin.school_features.school_features_and_funds`, kept: what a shard hands the risk desk."""
    return PushedColumns(school_features_and_funds, on_kept_days=True)
