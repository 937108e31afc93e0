"""A school's daily history over a date range, derived from the event log (the shards keep only
the last few weeks of reports), and a school's events as the log received them."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Protocol

import orjson

from db.times import iso

from serve_app.shared.read_cache import CachedReads
from twin import geography
from twin.directory import Directory
from twin.errors import InvalidInput, NotFound
from twin.norms import EPOCH
from twin.ports import EventHistory

MAX_RANGE_DAYS = 366


class SchoolEventLog(EventHistory, Protocol):
    async def for_school(self, school_id: str, limit: int = 100, before_seq: int | None = None) -> list[dict]:
        """A school's logged events, newest first: rows with `seq`, `received_at` and `payload`."""
        ...


class SchoolHistoryService:
    def __init__(self, event_log: SchoolEventLog, directory: Directory, cache: CachedReads | None = None) -> None:
        self._log = event_log
        self._directory = directory
        self._cache = cache

    async def history(self, school_id: str, first: dt.date, last: dt.date) -> dict:
        _check_range(first, last)
        i = self._directory.index(school_id) if school_id.isdigit() else -1
        if i < 0 or not self._directory.school_active[i]:
            raise NotFound(f"no school {school_id}", {"school_id": school_id})
        if self._cache is None:
            return await self._fold(school_id, i, first, last)
        # the school's newest event is part of the key: a new event (or correction) is a new key
        newest = await self._log.for_school(school_id, 1)
        key = f"history:{school_id}:{first}:{last}:{newest[0]['seq'] if newest else 0}"
        return await self._cache.get_or_compute(key, lambda: self._fold(school_id, i, first, last))

    async def _fold(self, school_id: str, i: int, first: dt.date, last: dt.date) -> dict:
        district, block = int(self._directory.school_district[i]), int(self._directory.school_block[i])
        rows = await self._log.school_log(school_id)
        from twin.history import school_history  # replays with the numba fold: loaded when first asked

        days = await asyncio.to_thread(school_history, int(school_id), district, block, rows, first, last)
        return {"school_id": school_id, "district": geography.district_names()[district],
                "block": self._directory.blocks.names[block], "from": first.isoformat(), "to": last.isoformat(),
                "days": days}

    async def events(self, school_id: str, limit: int, before_seq: int | None = None) -> dict:
        """A page of the school's events, newest first, each as received with its log position."""
        rows = await self._log.for_school(school_id, limit, before_seq)
        events = [{"seq": row["seq"], "received_at": iso(row["received_at"]), **orjson.loads(row["payload"])}
                  for row in rows]
        return {"events": events, "next_before_seq": events[-1]["seq"] if len(events) == limit else None}


def _check_range(first: dt.date, last: dt.date) -> None:
    if first > last:
        raise _invalid("to", f"to ({last}) is before from ({first})")
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        raise _invalid("to", f"the range spans {(last - first).days + 1} days; at most {MAX_RANGE_DAYS}")
    if first < EPOCH:
        raise _invalid("from", f"the twin's days begin on {EPOCH}")


def _invalid(field: str, message: str) -> InvalidInput:
    # the same shape as a request that fails FastAPI's own validation
    return InvalidInput(f"The request is not valid: {field}: {message}", {"fields": [{"field": field, "message": message}]})
