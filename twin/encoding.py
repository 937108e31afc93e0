"""Turn validated events into an `EventBatch` the kernels can apply, resolving ids to indices.

Value slots by kind (`EventBatch.values[:, k]`):
  attendance_reported  0 present, 1-3 meals served (primary, upper primary, secondary), 4 no-meal reason code
  stock_delivered      0 rice kg, 1 pulses kg, 2 oil kg, 3 eggs
  stock_adjusted       0-3 as above (signed), 4 adjustment reason code
  funds_released       0 amount INR (recipient: school if `school` >= 0, else block if `block` >= 0, else district)
  funds_utilised       0 amount INR
  inspection_done      0 score, 1 issues found (0/1)
  shortage_reported    0 item code
  school_closed        0 reason code (scope as for funds_released); `day_end` is the last closed day
  enrolment_updated    0-2 children by band
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from twin import events as ev
from twin import geography
from twin.batch import EventBatch
from twin.directory import Directory
from twin.norms import day_number

_ADJUST_CODES = {r: i for i, r in enumerate(ev.StockAdjustmentReason, start=1)}
_CLOSURE_CODES = {r: i for i, r in enumerate(ev.ClosureReason, start=1)}
_SHORTAGE_CODES = {r: i for i, r in enumerate(ev.ShortageItem, start=1)}
SHORTAGE_ITEMS = {i: r for r, i in _SHORTAGE_CODES.items()}
NO_MEAL_REASONS = {i: r for r, i in ev.NO_MEAL_REASON_CODES.items()}


def encode(events: Sequence[ev.Event], directory: Directory) -> tuple[EventBatch, list[str | None]]:
    """Encode `events` in order. Returns the batch (one row per event) and, per event, None or the
    reason it cannot be applied (an unknown school, district or block); such rows have kind 0."""
    n = len(events)
    batch = EventBatch.empty(n)
    errors: list[str | None] = [None] * n
    school_ids = np.array([_school_key(e) for e in events], dtype=np.int64)
    school_idx = directory.lookup(school_ids) if n else np.zeros(0, np.int32)
    v = batch.values
    for i, e in enumerate(events):
        try:
            district, block, school = _place(e, int(school_idx[i]), directory)
        except KeyError as exc:
            errors[i] = str(exc.args[0])
            continue
        batch.kind[i] = ev.EVENT_KINDS[e.type]
        batch.school[i], batch.block[i], batch.district[i] = school, block, district
        batch.day[i] = batch.day_end[i] = day_number(e.date)
        match e:
            case ev.AttendanceReported():
                m = e.meals_served
                v[i, :5] = (e.present, m.primary, m.upper_primary, m.secondary,
                            ev.NO_MEAL_REASON_CODES[e.no_meal_reason] if e.no_meal_reason else 0)
            case ev.StockDelivered():
                v[i, :4] = (e.rice_kg, e.pulses_kg, e.oil_kg, e.eggs)
            case ev.StockAdjusted():
                v[i, :5] = (e.rice_kg, e.pulses_kg, e.oil_kg, e.eggs, _ADJUST_CODES[e.reason])
            case ev.FundsReleased() | ev.FundsUtilised():
                v[i, 0] = e.amount_inr
            case ev.InspectionDone():
                v[i, :2] = (e.score, float(e.issues_found))
            case ev.ShortageReported():
                v[i, 0] = _SHORTAGE_CODES[e.item]
            case ev.SchoolClosed():
                v[i, 0] = _CLOSURE_CODES[e.reason]
                batch.day_end[i] = day_number(e.date_to)
            case ev.EnrolmentUpdated():
                v[i, :3] = (e.primary, e.upper_primary, e.secondary)
    return batch, errors


def _school_key(e: ev.Event) -> int:
    school_id = getattr(e, "school_id", None)
    return int(school_id) if school_id is not None else -1


def _place(e: ev.Event, school: int, directory: Directory) -> tuple[int, int, int]:
    """(district, block, school) indices of an event's target; KeyError naming what is unknown."""
    school_id = getattr(e, "school_id", None)
    if school_id is not None:
        if school < 0:
            raise KeyError(f"unknown school_id {school_id}")
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
