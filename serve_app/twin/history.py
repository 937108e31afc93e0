"""A school's daily history over a date range, derived from the event log (the shards keep only
the last few weeks of reports)."""

from __future__ import annotations

import asyncio
import datetime as dt

from twin import geography
from twin.directory import Directory
from twin.errors import InvalidInput, NotFound
from twin.norms import EPOCH
from twin.ports import EventHistory

MAX_RANGE_DAYS = 366


class SchoolHistoryService:
    def __init__(self, event_log: EventHistory, directory: Directory) -> None:
        self._log = event_log
        self._directory = directory

    async def history(self, school_id: str, first: dt.date, last: dt.date) -> dict:
        _check_range(first, last)
        i = self._directory.index(school_id) if school_id.isdigit() else -1
        if i < 0 or not self._directory.school_active[i]:
            raise NotFound(f"no school {school_id}", {"school_id": school_id})
        district, block = int(self._directory.school_district[i]), int(self._directory.school_block[i])
        rows = await self._log.school_log(school_id)
        from twin.history import school_history  # replays with the numba fold: loaded when first asked

        days = await asyncio.to_thread(school_history, int(school_id), district, block, rows, first, last)
        return {"school_id": school_id, "district": geography.district_names()[district],
                "block": self._directory.blocks.names[block], "from": first.isoformat(), "to": last.isoformat(),
                "days": days}


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
