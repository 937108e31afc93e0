"""Turn validated events into an `EventBatch` the kernels can apply, resolving ids to indices.

Value slots by kind (`EventBatch.values[:, k]`):
  attendance_reported  0 present, 1-3 meals served (primary, upper primary, secondary), 4 no-meal reason code
  stock_delivered      0 rice kg, 1 pulses kg, 2 oil kg, 3 eggs, 4 from the school's block depot (1) or not (0)
  stock_adjusted       0-3 as above (signed), 4 adjustment reason code
  funds_released       0 amount INR (recipient: school if `school` >= 0, else block if `block` >= 0, else district)
  funds_utilised       0 amount INR
  inspection_done      0 score, 1 issues found (0/1)
  shortage_reported    0 item code
  school_closed        0 reason code (scope as for funds_released); `day_end` is the last closed day
  enrolment_updated    0-2 children by band
  funds_allocated      0 financial year, 1 the Centre's share INR, 2 the State's share INR
  stock_transferred    0-3 as stock_delivered, to `school`; 4 the source school's global index (-1: a depot)
  depot_stock_received 0-3 as stock_delivered, into the depot of `block`
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import orjson

from twin import events as ev
from twin import geography
from twin.attendance_reader import AttendanceColumns, read_attendance
from twin.batch import EventBatch
from twin.directory import Directory
from twin.norms import EPOCH, day_number

_ADJUST_CODES = {r: i for i, r in enumerate(ev.StockAdjustmentReason, start=1)}
_CLOSURE_CODES = {r: i for i, r in enumerate(ev.ClosureReason, start=1)}
_SHORTAGE_CODES = {r: i for i, r in enumerate(ev.ShortageItem, start=1)}
SHORTAGE_ITEMS = {i: r for r, i in _SHORTAGE_CODES.items()}
NO_MEAL_REASONS = {i: r for r, i in ev.NO_MEAL_REASON_CODES.items()}

UNKNOWN_SCHOOL = "unknown school_id"  # how an error about a school the directory lacks begins


def encode(events: Sequence[ev.Event], directory: Directory) -> tuple[EventBatch, list[str | None]]:
    """Encode `events` in order. Returns the batch (one row per event) and, per event, None or the
    reason it cannot be applied (an unknown school, district or block); such rows have kind 0.

    Column-wise: one pass per column and one per event type, since a day's batch is tens of
    thousands of events and a per-event Python body would dominate ingest."""
    n = len(events)
    batch = EventBatch.empty(n)
    errors: list[str | None] = [None] * n
    if n == 0:
        return batch, errors
    types = [e.type for e in events]
    by_type: dict[str, list[int]] = {}
    for i, t in enumerate(types):
        by_type.setdefault(t, []).append(i)

    batch.kind[:] = np.fromiter((ev.EVENT_KINDS[t] for t in types), np.int8, n)
    batch.day[:] = np.fromiter((e.date.toordinal() for e in events), np.int32, n) - _EPOCH_ORDINAL
    batch.day_end[:] = batch.day
    school = _place_schools(batch, np.fromiter((_school_key(e) for e in events), np.int64, n), directory, errors,
                            lambda i: events[i].school_id)
    # Only these types may name a district or block; place them one by one (they are few).
    for i in by_type.get("funds_released", []) + by_type.get("school_closed", []) + \
            by_type.get("depot_stock_received", []):
        if errors[i] is None:
            try:
                batch.district[i], batch.block[i], batch.school[i] = _place(events[i], int(school[i]), directory)
            except KeyError as exc:
                errors[i] = str(exc.args[0])

    for t, rows in by_type.items():
        values = _VALUES[t]
        batch.values[rows, : values.width] = np.array([values.of(events[i]) for i in rows], np.float64)
    for i in by_type.get("school_closed", []):
        batch.day_end[i] = day_number(events[i].date_to)
    for i in by_type.get("stock_transferred", []):
        if errors[i] is None:
            batch.values[i, 4], errors[i] = _transfer_source(events[i], int(school[i]), directory)

    _blank_rejected(batch, errors)
    return batch, errors


def decode_logged(rows: Sequence[tuple[int, str]], directory: Directory) -> EventBatch:
    """The batch of logged events `rows` ((seq, JSON payload), in seq order), each row stamped with
    its seq: what a fold of the log (a shard's catch-up, a past day, a range of dates) applies.

    Read as ingest read them: plain attendance reports (most of the log) column by column
    (`twin.attendance_reader`), the rest by the event models. Through the models alone, decoding
    was over half of a recovery's replay at India scale: 950,000 events took 24 s of CPU, now 16."""
    if not rows:
        return EventBatch.empty()
    items = orjson.loads("[" + ",".join(p for _, p in rows) + "]")
    reports = read_attendance(items)
    batch, _ = encode_attendance(reports, directory)
    if len(reports) < len(items):
        rest = np.ones(len(items), bool)
        rest[reports.items] = False
        others = np.flatnonzero(rest)
        modelled, _ = encode(ev.event_list_adapter.validate_python([items[i] for i in others.tolist()]), directory)
        order = np.argsort(np.concatenate([np.asarray(reports.items, np.int64), others]), kind="stable")
        batch = EventBatch.concat([batch, modelled]).take(order)
    batch.seq[:] = [s for s, _ in rows]
    return batch


def encode_attendance(reports: AttendanceColumns, directory: Directory) -> tuple[EventBatch, list[str | None]]:
    """As `encode`, for attendance reports already read into columns by `twin.attendance_reader`."""
    n = len(reports)
    batch = EventBatch.empty(n)
    errors: list[str | None] = [None] * n
    batch.kind[:] = ev.EventKind.ATTENDANCE_REPORTED
    batch.day[:] = batch.day_end[:] = reports.day
    batch.values[:, : reports.values.shape[1]] = reports.values
    _place_schools(batch, np.fromiter(map(int, reports.school_id), np.int64, n), directory, errors,
                   reports.school_id.__getitem__)
    _blank_rejected(batch, errors)
    return batch, errors


def _place_schools(batch: EventBatch, school_ids: np.ndarray, directory: Directory, errors: list[str | None],
                   named: Callable[[int], str]) -> np.ndarray:
    """Fill school, block and district of rows about a school (id >= 0), noting unknown ones (by
    `named(row)`) in `errors`. Returns the school indices (-1 where none or unknown)."""
    school = directory.lookup(school_ids)
    known = school >= 0
    batch.school[known] = school[known]
    batch.block[known] = directory.school_block[school[known]]
    batch.district[known] = directory.school_district[school[known]]
    for i in np.flatnonzero((school_ids >= 0) & ~known):
        errors[i] = f"{UNKNOWN_SCHOOL} {named(int(i))}"
    return school


def _blank_rejected(batch: EventBatch, errors: list[str | None]) -> None:
    """Rows that cannot be applied become no-ops (kind 0) about nowhere."""
    bad = np.array([e is not None for e in errors], bool)
    if bad.any():
        batch.kind[bad], batch.school[bad], batch.block[bad], batch.district[bad] = 0, -1, -1, -1


class _Values:
    """How one event type fills its `values` slots: `of(event)` gives the first `width` of them."""

    def __init__(self, width: int, of) -> None:  # noqa: ANN001
        self.width, self.of = width, of


def _attendance(e: ev.AttendanceReported) -> tuple:
    m = e.meals_served
    reason = ev.NO_MEAL_REASON_CODES[e.no_meal_reason] if e.no_meal_reason else 0
    return e.present, m.primary, m.upper_primary, m.secondary, reason


_VALUES = {
    "attendance_reported": _Values(5, _attendance),
    "stock_delivered": _Values(5, lambda e: (e.rice_kg, e.pulses_kg, e.oil_kg, e.eggs, float(e.depot_id is not None))),
    "stock_adjusted": _Values(5, lambda e: (e.rice_kg, e.pulses_kg, e.oil_kg, e.eggs, _ADJUST_CODES[e.reason])),
    "funds_released": _Values(1, lambda e: (e.amount_inr,)),
    "funds_utilised": _Values(1, lambda e: (e.amount_inr,)),
    "inspection_done": _Values(2, lambda e: (e.score, float(e.issues_found))),
    "shortage_reported": _Values(1, lambda e: (_SHORTAGE_CODES[e.item],)),
    "school_closed": _Values(1, lambda e: (_CLOSURE_CODES[e.reason],)),
    "enrolment_updated": _Values(3, lambda e: (e.primary, e.upper_primary, e.secondary)),
    "funds_allocated": _Values(3, lambda e: (e.year, e.centre_inr, e.state_inr)),
    "stock_transferred": _Values(4, lambda e: (e.rice_kg, e.pulses_kg, e.oil_kg, e.eggs)),
    "depot_stock_received": _Values(4, lambda e: (e.rice_kg, e.pulses_kg, e.oil_kg, e.eggs)),
}
_EPOCH_ORDINAL = EPOCH.toordinal()


def _school_key(e: ev.Event) -> int:
    school_id = getattr(e, "school_id", None)
    return int(school_id) if school_id is not None else -1


def _transfer_source(e: ev.StockTransferred, school: int, directory: Directory) -> tuple[int, str | None]:
    """(source school index or -1 for a depot, None) or (-1, why not): a source school must be in
    the receiver's district, since one district's shard folds both ends in one step."""
    if e.from_school_id is None:
        return -1, None
    source = int(directory.lookup(np.array([int(e.from_school_id)], np.int64))[0])
    if source < 0:
        return -1, f"{UNKNOWN_SCHOOL} {e.from_school_id}"
    if directory.school_district[source] != directory.school_district[school]:
        return -1, f"school {e.from_school_id} is not in the district of school {e.school_id}"
    return source, None


def _place(e: ev.Event, school: int, directory: Directory) -> tuple[int, int, int]:
    """(district, block, school) indices of an event's target; KeyError naming what is unknown."""
    school_id = getattr(e, "school_id", None)
    if school_id is not None:
        if school < 0:
            raise KeyError(f"{UNKNOWN_SCHOOL} {school_id}")
        district = int(directory.school_district[school])
        named = getattr(e, "district", None)
        if named is not None and _district(named) != district:
            raise KeyError(f"school {school_id} is not in district {named}")
        return district, int(directory.school_block[school]), school
    district = _district(e.district)
    block = -1
    if getattr(e, "block", None) is not None:
        try:
            block = directory.blocks.index(district, e.block)
        except KeyError:
            raise KeyError(f"unknown block {e.block!r} in district {e.district}") from None
    return district, block, -1


def _district(name: str) -> int:
    try:
        return geography.district_index(name)
    except KeyError:
        raise KeyError(f"unknown district {name!r}") from None
