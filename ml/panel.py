"""A panel of daily school history: the common in-memory shape for training and forecasting.

Row t is a day, column s a school. Everything the learned models see comes through this one
shape, whether it was simulated by `ml.history` or loaded from the on-disk store.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields, replace

import numpy as np

# Per-school arrays indexed [T, S]; per-day arrays indexed [T]; per-district [T, D].
_SCHOOL_DAY_FIELDS = (
    "enrolment",
    "open",
    "reported",
    "present",
    "meals",
    "no_meal",
    "shortage",
    "rice_days",
    "funds_days",
)
_DAY_FIELDS = ("dates", "day_kind", "rainfall_mm")
_SCHOOL_FIELDS = ("school_id", "district", "block")


def _as_day(value: np.datetime64 | dt.date | str) -> np.datetime64:
    return np.datetime64(value, "D")


@dataclass
class Panel:
    """Daily history of a set of schools: row t is a day, column s a school."""

    dates: np.ndarray  # datetime64[D] [T], consecutive days
    school_id: np.ndarray  # int64 [S] UDISE ids
    district: np.ndarray  # int16 [S] index into twin.geography.district_names()
    block: np.ndarray  # int32 [S] global block index
    enrolment: np.ndarray  # float32 [T, S] total enrolment that day
    day_kind: np.ndarray  # int8 [T] index into tuple(twin.calendar.DayKind)
    rainfall_mm: np.ndarray  # float32 [T, D] rainfall per district that day
    open: np.ndarray  # bool [T, S] open for a meal (school or exam day, not closed)
    reported: np.ndarray  # bool [T, S] the school sent its daily report
    present: np.ndarray  # float32 [T, S] children present (NaN when not reported)
    meals: np.ndarray  # float32 [T, S] true meals served (0 on an open day without a meal, NaN when closed)
    no_meal: np.ndarray  # bool [T, S] open day without a meal
    shortage: np.ndarray  # bool [T, S] a shortage was reported
    rice_days: np.ndarray  # float32 [T, S] rice on hand at day's end, in days of the school's use
    funds_days: np.ndarray  # float32 [T, S] fund balance at day's end / daily meal cost

    @property
    def n_days(self) -> int:
        return int(self.dates.shape[0])

    @property
    def n_schools(self) -> int:
        return int(self.school_id.shape[0])

    def days(self, start: np.datetime64 | dt.date | str, end: np.datetime64 | dt.date | str) -> Panel:
        """The rows with start <= date < end."""
        keep = (self.dates >= _as_day(start)) & (self.dates < _as_day(end))
        rows = np.flatnonzero(keep)
        sl = slice(int(rows[0]), int(rows[-1]) + 1) if rows.size else slice(0, 0)
        changes = {name: getattr(self, name)[sl] for name in _SCHOOL_DAY_FIELDS + _DAY_FIELDS}
        return replace(self, **changes)

    def schools(self, index: np.ndarray) -> Panel:
        """The columns picked by `index` (integer positions or a boolean mask)."""
        index = np.asarray(index)
        changes = {name: getattr(self, name)[index] for name in _SCHOOL_FIELDS}
        changes.update({name: getattr(self, name)[:, index] for name in _SCHOOL_DAY_FIELDS})
        return replace(self, **changes)

    def validate(self) -> None:
        """Raise ValueError if the arrays do not agree in shape or the dates are not consecutive."""
        t, s = self.n_days, self.n_schools
        for name in _SCHOOL_DAY_FIELDS:
            if getattr(self, name).shape != (t, s):
                raise ValueError(f"{name} has shape {getattr(self, name).shape}, expected {(t, s)}")
        if self.day_kind.shape != (t,):
            raise ValueError(f"day_kind has shape {self.day_kind.shape}, expected {(t,)}")
        if self.rainfall_mm.ndim != 2 or self.rainfall_mm.shape[0] != t:
            raise ValueError(f"rainfall_mm has shape {self.rainfall_mm.shape}, expected ({t}, D)")
        for name in _SCHOOL_FIELDS:
            if getattr(self, name).shape != (s,):
                raise ValueError(f"{name} has shape {getattr(self, name).shape}, expected {(s,)}")
        if t > 1 and not np.all(np.diff(self.dates.astype("datetime64[D]").astype(np.int64)) == 1):
            raise ValueError("dates are not consecutive days")

    @staticmethod
    def concat(panels: list[Panel]) -> Panel:
        """Join panels of the same schools that follow one another in time."""
        if not panels:
            raise ValueError("nothing to concatenate")
        first = panels[0]
        for p in panels[1:]:
            if not np.array_equal(p.school_id, first.school_id):
                raise ValueError("panels cover different schools")
        changes = {
            name: np.concatenate([getattr(p, name) for p in panels], axis=0)
            for name in _SCHOOL_DAY_FIELDS + _DAY_FIELDS
        }
        out = replace(first, **changes)
        out.validate()
        return out

    @classmethod
    def synthetic(cls, n_schools: int, n_days: int, seed: int, start: dt.date = dt.date(2023, 6, 1)) -> Panel:
        """A small simulated history from the world model, for tests and experiments: `n_schools`
        schools (seeded; fewer than one per block is an even pick across the state) over `n_days`
        days from `start`. Same arguments, same panel."""
        from ml.history import generate_history_panel  # the generator imports this module

        return generate_history_panel(n_schools=n_schools, start=start, n_days=n_days, seed=seed)


PANEL_FIELDS = tuple(f.name for f in fields(Panel))
SCHOOL_DAY_FIELDS = _SCHOOL_DAY_FIELDS
DAY_FIELDS = _DAY_FIELDS
SCHOOL_FIELDS = _SCHOOL_FIELDS
