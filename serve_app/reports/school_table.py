"""The schools CSV of an area written straight from the shards' arrays.

Each field is one column, formatted once for all the schools (the same rounding as the twin's
read model `twin.metrics.summarise`, so every cell is what a school's own figures say), and the
rows are zipped from the columns a chunk at a time as the report streams. No dict is built a
school on the way: for the state's 43,000 schools those dicts were most of the report's time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from serve_app.reports import cells
from twin import geography
from twin.metrics import METRICS
from twin.risk import LEVELS
from twin.rounding import round_like_python

if TYPE_CHECKING:
    from twin.directory import Directory
    from twin.finance import Entitlement
    from twin.state import ShardState

_M = {name: k for k, name in enumerate(METRICS)}


@dataclass(frozen=True)
class SchoolColumns:
    """The active schools of an area as the shards hold them now, by UDISE code ascending."""

    ids: np.ndarray  # int64 [n] UDISE codes
    index: np.ndarray  # int64 [n] the directory's index of each
    metrics: np.ndarray  # float64 [n, len(METRICS)] each school's own row of the twin's metric matrix

    def __len__(self) -> int:
        return int(self.ids.shape[0])


@dataclass(frozen=True)
class RiskScores:
    """The rules' figures of the schools the desk scores: `slot` are positions in the columns."""

    slot: np.ndarray  # int64 [k]
    score: list[float]
    level: list[int]  # into `twin.risk.LEVELS`
    flagged: np.ndarray  # bool [k]


@dataclass(frozen=True)
class Entitled:
    """The financial year's entitlement by the norms of the schools finance lists, by UDISE code
    ascending (`twin.finance.Entitlement`'s rows in the order of `ids`)."""

    year: int
    ids: np.ndarray  # int64 [m]
    amounts: Entitlement


def school_columns(states: Sequence[ShardState], inside: np.ndarray) -> SchoolColumns:
    """The active schools among `inside` (bool by directory index) in the shards' `states`, each
    with its metric row; a shard's matrix is taken once for all its schools."""
    # the twin's read model: numba kernels, loaded when a report runs, not when a replica starts
    from twin.views import school_metrics

    ids, index, metrics = [], [], []
    for s in states:
        n = min(len(inside), len(s.school_local))
        g = np.flatnonzero((s.school_local[:n] >= 0) & inside[:n])
        local = s.school_local[g]
        keep = s.active[local]
        g, local = g[keep], local[keep]
        if not len(g):
            continue
        ids.append(s.school_ids[local].astype(np.int64))
        index.append(g.astype(np.int64))
        metrics.append(school_metrics(s, local))  # the area's rows only, not the shard's
    if not ids:
        return SchoolColumns(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, len(METRICS))))
    all_ids = np.concatenate(ids)
    order = np.argsort(all_ids, kind="stable")  # 11-digit codes: numeric order is the text order
    return SchoolColumns(all_ids[order], np.concatenate(index)[order], np.concatenate(metrics)[order])


class SchoolSheet:
    """The formatted columns of `SCHOOL_COLUMNS` for every school, ready to be written in chunks.
    Figures are rounded a column at a time (`round_like_python`: the read model's own rounding)."""

    def __init__(self, schools: SchoolColumns, directory: Directory, names: dict[str, str],
                 risk: RiskScores | None, entitled: Entitled | None, as_of: str | None) -> None:
        n = len(schools)
        m = schools.metrics
        ids = [f"{i:011d}" for i in schools.ids.tolist()]
        district_names, block_names = geography.district_names(), directory.blocks.names
        enrolment, present, rice, need = (m[:, _M[k]] for k in
                                          ("enrolment", "present_today", "rice_kg", "rice_need_kg_per_day"))
        released, meal, other = (m[:, _M[k]] for k in ("funds_released_inr", "meal_cost_inr", "other_utilised_inr"))

        score: list = [None] * n
        level: list = [None] * n
        flagged: list = [""] * n
        if risk is not None:
            for slot, s, lv, f in zip(risk.slot.tolist(), risk.score, risk.level, risk.flagged.tolist()):
                score[slot], level[slot], flagged[slot] = s, LEVELS[lv], "true" if f else "false"

        total: list = [None] * n
        centre: list = [None] * n
        state: list = [None] * n
        year: list = [None] * n
        if entitled is not None and len(entitled.ids):
            at = np.minimum(np.searchsorted(entitled.ids, schools.ids), len(entitled.ids) - 1)
            found = np.flatnonzero(entitled.ids[at] == schools.ids)
            rows = at[found]
            for column, amounts in ((total, entitled.amounts.total_inr), (centre, entitled.amounts.centre_inr),
                                    (state, entitled.amounts.state_inr)):
                for k, x in zip(found.tolist(), round_like_python(amounts[rows], 2).tolist()):
                    column[k] = x
            for k in found.tolist():
                year[k] = entitled.year

        self._columns: list[list] = [
            ids,
            cells.guarded([names.get(i) for i in ids]),
            cells.guarded([district_names[d] for d in directory.school_district[schools.index].tolist()]),
            cells.guarded([block_names[b] for b in directory.school_block[schools.index].tolist()]),
            _whole(m[:, _M["enrolment"]]), _whole(m[:, _M["present_today"]]), _whole(m[:, _M["meals_today"]]),
            _ratio(present, enrolment, enrolment != 0, 4), _ratio(rice, need, need > 0, 1),
            round_like_python(rice, 1).tolist(),
            _flags(m[:, _M["stale"]]), _flags(m[:, _M["closed_today"]]),
            score, cells.guarded(level), flagged,
            round_like_python(released, 2).tolist(),
            # as the read model adds them: each rounded first, then the sum rounded
            round_like_python(round_like_python(meal, 2) + round_like_python(other, 2), 2).tolist(),
            round_like_python(released - meal - other, 2).tolist(),
            total, centre, state, year, cells.guarded([as_of] * n),
        ]
        self.rows = n

    def lines(self, start: int, stop: int) -> str:
        """CSV text of the schools `start` to `stop` (no header)."""
        return cells.prepared_lines(zip(*(column[start:stop] for column in self._columns)))


def _ratio(part: np.ndarray, whole: np.ndarray, defined: np.ndarray, digits: int) -> list[float | None]:
    """round(part / whole, digits) where `defined`, else blank, a column at once."""
    out: list = round_like_python(np.divide(part, whole, out=np.zeros(len(part)), where=defined), digits).tolist()
    for k in np.flatnonzero(~defined).tolist():
        out[k] = None
    return out


def _whole(values: np.ndarray) -> list[int]:
    return np.rint(values).astype(np.int64).tolist()  # half to even, as Python's round(x)


def _flags(values: np.ndarray) -> list[str]:
    return ["true" if f else "false" for f in (np.rint(values) != 0).tolist()]
