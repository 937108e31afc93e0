"""The per-school columns a shard pushes to the state twin after its batches (roll-up metrics and
risk features), kept between pushes and recomputed only at the rows folds wrote since.

Computing them for every school costs ~60 ms of CPU for Tamil Nadu's 43,000 and about a second and
a half for India's 1.08 M, paid after every batch however few schools it named; a dashboard waits
for that push to see the batch. Each school's columns depend on its own rows, on `today`, and on
the oldest day kept in any school's history (`twin.school_features.first_kept_day`): while those
two and the number of schools stay the same, a row no fold wrote keeps its columns.

A fold and a push may run at the same time (each in its own thread). Rows are marked with a
stamp that grows with every fold, after the fold wrote them; a push takes the rows stamped since
the stamp it last took, read before it computes. A fold that marks while a push computes gets a
later stamp, so its rows are recomputed at the next push: no write is missed.
"""

from __future__ import annotations

import numpy as np

from twin.batch import EventBatch
from twin.changed_rows import mark_changed_schools
from twin.school_features import first_kept_day, school_features_and_funds
from twin.state import ShardState
from twin.views import school_metrics


class PushedColumns:
    def __init__(self) -> None:
        self.metrics: np.ndarray | None = None  # `twin.views.school_metrics` of every school
        self.features: np.ndarray | None = None  # `twin.school_features.school_features_and_funds`
        self._key: tuple[int, int, int] | None = None  # (schools, today, first kept day) they hold for
        self._stamps = np.zeros(0, np.int64)  # per school: the fold that last wrote it
        self._folds = 0
        self._taken = 0  # rows stamped after this are not in the columns yet

    def mark(self, state: ShardState, batch: EventBatch) -> None:
        """After a fold of `batch` into `state`: the rows it may have written need computing again."""
        if len(self._stamps) != state.n_schools:
            return  # the next refresh computes every row anyway
        written = np.zeros(state.n_schools, bool)
        mark_changed_schools(state, batch, written)
        self._folds += 1
        self._stamps[written] = self._folds

    def invalidate(self) -> None:
        """State changed outside a fold (enrolment, activation, a restore): every row next time."""
        self._key = None

    def refresh(self, state: ShardState) -> np.ndarray | None:
        """Bring the columns up to `state`. Returns the local rows recomputed, or None when every
        row was."""
        taken = self._folds
        key = (state.n_schools, int(state.today[0]), first_kept_day(state))
        if key != self._key or self.metrics is None:
            self._stamps = np.zeros(state.n_schools, np.int64)
            self._taken = taken
            self.metrics = school_metrics(state)
            self.features = school_features_and_funds(state)
            self._key = key
            return None
        rows = np.flatnonzero(self._stamps > self._taken)
        self._taken = taken
        if len(rows):
            self.metrics[rows] = school_metrics(state, rows)
            self.features[rows] = school_features_and_funds(state, rows)
        return rows
