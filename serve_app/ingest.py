"""The ingest service: validate a batch at the edge, make it durable, fold it into the shards, and
answer with one result per event. One bad event never costs a good one its place."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import numpy as np
import orjson
from pydantic import ValidationError

from actors.router import ShardRouter
from twin.area import STATE, Area
from twin.batch import EventBatch
from twin.directory import Directory
from twin.encoding import encode
from twin.errors import InvalidInput
from twin.events import event_adapter, event_list_adapter
from twin.outcomes import CORRECTION, TOO_OLD
from twin.ports import EventLog, LogRow

log = logging.getLogger(__name__)


class IngestService:
    def __init__(self, event_log: EventLog, directory: Directory, router: ShardRouter,
                 max_events: int, apply_timeout_s: float = 30.0,
                 refresh_directory: Callable[[], Awaitable[bool]] | None = None) -> None:
        self._log = event_log
        self._directory = directory
        self._refresh_directory = refresh_directory  # grows `directory` with schools registered elsewhere
        self._router = router
        self._max_events = max_events
        self._apply_timeout_s = apply_timeout_s

    async def ingest(self, body: bytes, all_results: bool = True, area: Area = STATE) -> dict:
        """Ingest `{"events": [...]}` from a caller who may write inside `area`. Returns counts and
        per-event results (all of them, or only those not plainly accepted when `all_results` is
        false). An event about a school outside the area is rejected as if the school did not exist."""
        clock = _Stopwatch()
        # one trip to a worker thread for all the CPU work, so the event loop stays free
        items, events, rejections, batch, keep, logged, rows, unknown = await asyncio.to_thread(self._prepare, body, area)
        if self._refresh_directory is not None and unknown and await self._refresh_directory():
            # another replica registered a school since our directory was loaded: encode again
            items, events, rejections, batch, keep, logged, rows, _ = await asyncio.to_thread(self._prepare, body, area)
        clock.lap("prepare")
        appended = await self._log.append(rows)
        clock.lap("log")

        seqs = np.array(appended.seqs, np.int64)
        batch = batch.take(np.array(keep, np.int64))
        batch.seq[:] = seqs
        fresh = seqs > 0
        outcome = np.zeros(len(batch), np.int8)
        applied = True
        if fresh.any():
            try:
                outcome[fresh] = await self._router.apply(batch.take(fresh), appended.after_seq, appended.upto_seq,
                                                          self._apply_timeout_s)
            except (TimeoutError, asyncio.TimeoutError):
                applied = False  # durable; the shard catches up from the log
                log.warning("shards did not confirm seq %d..%d in time", appended.after_seq + 1, appended.upto_seq)
        clock.lap("apply")

        status = np.full(len(items), _REJECTED, np.int8)
        status[logged] = np.select([~fresh, outcome == TOO_OLD, outcome == CORRECTION], [_DUPLICATE, _TOO_OLD, _CORRECTION],
                                   _ACCEPTED)
        item_seq = np.zeros(len(items), np.int64)
        item_seq[logged] = seqs
        counts = np.bincount(status, minlength=len(_STATUS))
        shown = range(len(items)) if all_results else np.flatnonzero(status != _ACCEPTED).tolist()
        results = [self._result(i, events, rejections, int(status[i]), int(item_seq[i]), not all_results)
                   for i in shown]
        funds = [events[i] for i in logged if events[i].type in _FUND_EVENTS and status[i] in (_ACCEPTED, _CORRECTION)]
        return {"received": len(items), "accepted": int(counts[_ACCEPTED]), "corrections": int(counts[_CORRECTION]),
                "duplicates": int(counts[_DUPLICATE]), "rejected": int(counts[_REJECTED] + counts[_TOO_OLD]),
                "applied": applied, "results": results, "timings_ms": clock.laps_ms, "fund_events": funds}

    @staticmethod
    def _result(i: int, events: list, rejections: list, status: int, seq: int, with_index: bool) -> dict:
        if status == _REJECTED:
            result = rejections[i]
        elif status == _TOO_OLD:
            result = {"event_id": events[i].event_id, "status": "rejected", "seq": seq, "error": {
                "code": "TOO_OLD",
                "message": "attendance for a date older than the twin's correction window; logged but not applied"}}
        else:
            result = {"event_id": events[i].event_id, "status": _STATUS[status]}
            if status != _DUPLICATE:
                result["seq"] = seq
        return {**result, "index": i} if with_index else result

    def _prepare(self, body: bytes, area: Area) -> tuple:
        """Parse, validate and encode a body's items: events (None where invalid), rejections (None where valid),
        the encoded batch of the valid ones, which of those go to the log (`keep`, indices into
        the batch; `logged`, indices into `items`), their log rows, and whether a school was unknown."""
        items = _parse_body(body, self._max_events)
        events, rejections = self._validate(items)
        valid = [i for i, e in enumerate(events) if e is not None]
        batch, errors = encode([events[i] for i in valid], self._directory)
        unknown = any(err is not None and err.startswith("unknown school_id") for err in errors)
        if not area.is_state:
            for j in np.flatnonzero(~_inside(area, batch, self._directory)):
                if errors[j] is None:
                    school = getattr(events[valid[j]], "school_id", None)
                    errors[j] = f"unknown school_id {school}" if school else f"outside your area ({area.label()})"
        keep = [j for j, err in enumerate(errors) if err is None]
        for j, err in enumerate(errors):
            if err is not None:
                rejections[valid[j]] = _rejected(items[valid[j]], "UNKNOWN_REFERENCE", err)
        logged = [valid[j] for j in keep]
        district = batch.district.tolist()
        rows = [LogRow(events[i].event_id, events[i].type, district[j], getattr(events[i], "school_id", None),
                       events[i].date, orjson.dumps(items[i]).decode()) for i, j in zip(logged, keep)]
        return items, events, rejections, batch, keep, logged, rows, unknown

    def _validate(self, items: list) -> tuple[list, list]:
        """Validated events (None where invalid) and, per item, its rejection (None if valid)."""
        rejections: list = [None] * len(items)
        try:
            return list(event_list_adapter.validate_python(items)), rejections
        except ValidationError:
            pass  # at least one is bad: find which, one by one
        events: list = []
        for i, item in enumerate(items):
            try:
                events.append(event_adapter.validate_python(item))
            except ValidationError as exc:
                events.append(None)
                rejections[i] = _rejected(item, "VALIDATION_ERROR", _describe(exc), _fields(exc))
        return events, rejections


class _Stopwatch:
    """Milliseconds spent in each stage, for the `Server-Timing` header."""

    def __init__(self) -> None:
        self._last = time.perf_counter()
        self.laps_ms: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps_ms[name] = round((now - self._last) * 1000, 1)
        self._last = now


_FUND_EVENTS = ("funds_released", "funds_utilised")  # money moved: the audit log records them

# Per-event status codes while a batch is summarised; TOO_OLD is reported as a rejection.
_ACCEPTED, _CORRECTION, _DUPLICATE, _REJECTED, _TOO_OLD = range(5)
_STATUS = ("accepted", "correction", "duplicate", "rejected", "rejected")


def _parse_body(body: bytes, max_events: int) -> list:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"body is not valid JSON: {exc}") from None
    items = data.get("events") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise InvalidInput('body must be an object with a list "events"', {"fields": [{"field": "events"}]})
    if not items:
        raise InvalidInput("events is empty: send at least one", {"fields": [{"field": "events"}]})
    if len(items) > max_events:
        raise InvalidInput(f"too many events in one batch: {len(items)} > {max_events}; split it",
                           {"limit": max_events})
    return items


def _inside(area: Area, batch: EventBatch, directory: Directory) -> np.ndarray:
    """bool per batch row: its school, block or district lies inside `area` (an event about a whole
    block or district must be about one the area covers entirely)."""
    d = area.district_index()
    inside = batch.district == d
    if area.block is not None:
        inside &= batch.block == directory.blocks.index(d, area.block)  # type: ignore[arg-type]
    if area.school_id is not None:
        inside &= batch.school == directory.index(area.school_id)
    return inside


def _fields(exc: ValidationError) -> list[dict]:
    return [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]


def _describe(exc: ValidationError) -> str:
    return "; ".join(f"{f['field'] or 'event'}: {f['message']}" for f in _fields(exc))


def _rejected(item: object, code: str, message: str, fields: list | None = None) -> dict:
    event_id = item.get("event_id") if isinstance(item, dict) else None
    err = {"code": code, "message": message}
    if fields:
        err["fields"] = fields
    return {"event_id": event_id, "status": "rejected", "error": err}
