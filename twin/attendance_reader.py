"""Read plain attendance reports straight into columns, without building a model per report.

Attendance is about 99% of a school day's events, and pydantic validates one in about 6 µs: the
largest cost of ingest after the insert itself. Most reports are plain: exact JSON types, in-range
numbers, an ISO date. Those are read here in about a microsecond each. Anything else (a number sent
as text, a missing or unknown field, a rule broken) is left to the models in `twin.events`, which
remain the reference: a report read here is one the models accept, with the same values (the tests
hold this module to that), so the fast path changes the cost of ingest, never its answers.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import numpy as np

from twin.events import EVENT_ID_CHARS, EVENT_ID_MAX, MAX_COUNT, NO_MEAL_REASON_CODES
from twin.norms import day_number

TYPE = "attendance_reported"
_FIELDS = frozenset({"type", "event_id", "date", "school_id", "present", "meals_served", "no_meal_reason"})
_BANDS = frozenset({"primary", "upper_primary", "secondary"})
_EVENT_ID = re.compile(f"{EVENT_ID_CHARS}{{1,{EVENT_ID_MAX}}}")  # `twin.events.EventId`, whole
_REASONS = {str(r): code for r, code in NO_MEAL_REASON_CODES.items()}


@dataclass
class AttendanceColumns:
    """The reports read, one entry per report, in the order of `items` (indices into the input)."""

    items: list[int]
    event_id: list[str]
    school_id: list[str]
    date: list[dt.date]
    day: np.ndarray  # int32 day number of `date`
    values: np.ndarray  # float64 [n, 5]: present, meals by band, no-meal reason code (`twin.encoding`)

    def __len__(self) -> int:
        return len(self.items)


def read_attendance(items: list) -> AttendanceColumns:
    """The plain attendance reports among `items` (decoded JSON values, one per event)."""
    taken: list[int] = []
    read: list[tuple] = []
    dates: dict[str, tuple[dt.date, int] | None] = {}  # a batch holds few distinct dates
    for i, item in enumerate(items):
        report = _read(item, dates)
        if report is not None:
            taken.append(i)
            read.append(report)
    ids, schools, when, days, *values = zip(*read) if read else ((),) * 9
    return AttendanceColumns(taken, list(ids), list(schools), list(when), np.array(days, np.int32),
                             np.array(values, np.float64).T)


def _read(item: object, dates: dict) -> tuple | None:
    """(event_id, school_id, date, day number, present, meals by band, reason code) of a plain report;
    None if `item` is anything else. Types are checked exactly (`type(x) is int`: a bool is an int
    to Python, and the models would take 5.0 or "5" for 5; such reports go to the models)."""
    if type(item) is not dict or item.get("type") != TYPE or not item.keys() <= _FIELDS:
        return None
    event_id, school, date, present = item.get("event_id"), item.get("school_id"), item.get("date"), item.get("present")
    if not (type(event_id) is str and _EVENT_ID.fullmatch(event_id)
            and type(school) is str and len(school) == 11 and school.isascii() and school.isdigit()
            and type(present) is int and 0 <= present <= MAX_COUNT and type(date) is str):
        return None
    if date not in dates:
        dates[date] = _iso_date(date)
    served = item.get("meals_served", _NONE_SERVED)
    if dates[date] is None or type(served) is not dict or not served.keys() <= _BANDS:
        return None
    primary, upper, secondary = served.get("primary", 0), served.get("upper_primary", 0), served.get("secondary", 0)
    if not (type(primary) is int and type(upper) is int and type(secondary) is int
            and 0 <= primary <= MAX_COUNT and 0 <= upper <= MAX_COUNT and 0 <= secondary <= MAX_COUNT):
        return None
    meals = primary + upper + secondary
    reason = item.get("no_meal_reason")
    code = 0 if reason is None else _REASONS.get(reason) if type(reason) is str else None
    if code is None or meals > present or (code and meals):
        return None
    return event_id, school, *dates[date], present, primary, upper, secondary, code


_NONE_SERVED: dict = {}


def _iso_date(text: str) -> tuple[dt.date, int] | None:
    """(date, day number) of a `YYYY-MM-DD` string; None for any other form (left to the models)."""
    if len(text) != 10 or not text.isascii() or text[4] != "-" or text[7] != "-" \
            or not (text[:4] + text[5:7] + text[8:]).isdigit():
        return None
    try:
        date = dt.date.fromisoformat(text)
    except ValueError:
        return None
    return date, day_number(date)
