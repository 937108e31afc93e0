"""A custom range of dates for the finance reads: its checks, and the area's money columns with
the released and utilised figures of the range (`twin.funds_range`) in place of the running totals.

A range lies within one financial year: the allocation, the entitlement and the release rules it is
read against are the year's, so a range across two years would have no single year to answer for.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from twin import finance
from twin.errors import InvalidInput
from twin.funds_columns import FundsColumns

if TYPE_CHECKING:
    from twin.range_funds import RangeFunds


@dataclass(frozen=True)
class Period:
    first: dt.date
    last: dt.date

    @property
    def year(self) -> int:
        return finance.financial_year(self.first)

    def as_dict(self) -> dict:
        return {"from": self.first.isoformat(), "to": self.last.isoformat()}


def _bad(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, {"fields": [{"field": field, "message": message}]})


def check_period(first: dt.date | None, last: dt.date | None, year: int | None,
                 norms: finance.FinanceNorms) -> Period | None:
    """The asked range (None when neither end is given), or InvalidInput naming the field: one end
    without the other, `from` after `to`, a day before the norms table, a range across two
    financial years or outside the asked `year`."""
    if first is None and last is None:
        return None
    if first is None or last is None:
        missing = "from" if first is None else "to"
        return _raise(missing, f"a range of dates needs both from and to: {missing} is missing")
    if first > last:
        return _raise("from", f"from ({first.isoformat()}) is after to ({last.isoformat()})")
    table_start = norms.effective_from[0]
    if first < table_start:
        return _raise("from", f"no cost norms before {table_start.isoformat()}: from is {first.isoformat()}")
    fy = finance.financial_year(first)
    if finance.financial_year(last) != fy:
        year_end = finance.financial_year_bounds(fy)[1]
        return _raise("to", f"a range lies within one financial year (April to March): to is after "
                            f"{year_end.isoformat()}, the end of the year from starts in")
    if year is not None and year != fy:
        return _raise("year", f"the range {first.isoformat()} to {last.isoformat()} is not in the financial "
                              f"year {year}-{(year + 1) % 100:02d}")
    return Period(first, last)


def _raise(field: str, message: str) -> None:
    raise _bad(field, message)


def with_range_funds(schools: FundsColumns, moved: RangeFunds) -> FundsColumns:
    """`schools` with the range's funds in place of the running totals: each school's, and each
    block and district office's (received, passed down). The burn's daily meal cost and the
    allocation stay as they are."""
    return replace(schools, funds=moved.school_funds(schools.ids),
                   block_funds=_aligned(schools.block_global, moved.block_global, moved.block_funds),
                   district_funds=_aligned(schools.district_global, moved.district_global, moved.district_funds))


def _aligned(wanted: np.ndarray, have: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Rows of `values` (keyed by `have`) for the keys `wanted`; zeros for a key not folded."""
    out = np.zeros((len(wanted), values.shape[1]))
    at = {int(k): i for i, k in enumerate(have.tolist())}
    for i, k in enumerate(wanted.tolist()):
        if int(k) in at:
            out[i] = values[at[int(k)]]
    return out
