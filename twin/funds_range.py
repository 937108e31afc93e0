"""Money moved within a range of dates, folded from the log with the shard's own kernel.

A shard keeps funds as running totals (and only the last `HISTORY_DAYS` reports a school), so what
was released and utilised between two dates is not in its state. It is in the log: this folds the
events dated in the range, the way `twin.history` does for one school, into a fresh state of the
same shape, so the figures are the twin's own arithmetic (meal cost at the norm of each meal's
day, a corrected report replacing the one it corrects, a report the shard refused as too old not
counting), never a second ledger.

Why the events before the range can be left out: the kernel refuses a report only because of a
report dated *later* (its slot holds a later day, or the school has reported `HISTORY_DAYS` days
past it), and corrects only a report of the same day; so an event dated before `first` changes
nothing dated on or after it. Events after `last` must still be folded once in log order, since
they may have made a report in the range too old when it arrived; they are left out of the sums.
"""

from __future__ import annotations

import datetime as dt
import numpy as np

from twin.directory import Directory
from twin.encoding import decode_logged
from twin.kernels import apply_events
from twin.norms import day_number
from twin.outcomes import APPLIED, CORRECTION
from twin.range_funds import RangeFunds
from twin.state import ShardState

RANGE_EVENT_TYPES = ("attendance_reported", "funds_released", "funds_utilised")


def funds_in_range(rows: list[tuple[int, str]], directory: Directory, districts: list[int], first: dt.date,
                   last: dt.date) -> RangeFunds:
    """The funds moved from `first` to `last` (inclusive) in `districts` (global indices).

    rows: (seq, JSON payload) in ascending seq of every logged event of the districts of
    `RANGE_EVENT_TYPES` dated on or after `first` (later ones included: see the module)."""
    batch = decode_logged(rows, directory)
    folded = apply_events(ShardState.for_districts(directory, np.zeros((len(directory), 3)), districts), batch)
    counted = batch.take(((folded == APPLIED) | (folded == CORRECTION))
                         & (batch.day >= day_number(first)) & (batch.day <= day_number(last)))
    # date order, log order within a day (a correction still follows the report it replaces),
    # renumbered since the kernel folds only ascending seqs
    by_date = counted.take(np.lexsort((counted.seq, counted.day)))
    by_date.seq[:] = np.arange(1, len(by_date) + 1)
    state = ShardState.for_districts(directory, np.zeros((len(directory), 3)), districts)
    apply_events(state, by_date)
    return RangeFunds(state.school_ids.astype(np.int64), state.funds.copy(), state.block_global.astype(np.int64),
                      state.block_funds.copy(), state.district_global.astype(np.int64), state.district_funds.copy())
