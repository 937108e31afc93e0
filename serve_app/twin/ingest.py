"""The ingest service: validate a batch at the edge, make it durable, fold it into the shards, and
answer with one result per event. One bad event never costs a good one its place."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import orjson
from pydantic import ValidationError

from actors.router import ShardRouter
from twin.area import STATE, Area
from twin.batch import EventBatch
from twin.directory import Directory
from twin.attendance_reader import TYPE as ATTENDANCE
from twin.attendance_reader import read_attendance
from twin.encoding import UNKNOWN_SCHOOL, encode, encode_attendance
from twin.errors import InvalidInput
from twin.events import event_adapter, event_list_adapter
from twin.outcomes import CORRECTION, TOO_OLD
from twin.ports import EventLog, LogRow

if TYPE_CHECKING:
    from serve_app.auth.principal import Caller
    from serve_app.auth.principal import Principal

log = logging.getLogger(__name__)
# record(principal, caller, action, **fields): an audit entry (`Accounts.record`)
AuditRecord = Callable[..., Awaitable[None]]


class IngestService:
    def __init__(self, event_log: EventLog, directory: Directory, router: ShardRouter,
                 max_events: int, apply_timeout_s: float = 30.0,
                 refresh_directory: Callable[[], Awaitable[bool]] | None = None,
                 audit: AuditRecord | None = None) -> None:
        self._log = event_log
        self._audit = audit
        self._directory = directory
        self._refresh_directory = refresh_directory  # grows `directory` with schools registered elsewhere
        self._router = router
        self._max_events = max_events
        self._apply_timeout_s = apply_timeout_s

    async def ingest(self, body: bytes, all_results: bool = True, principal: Principal | None = None,
                     caller: Caller | None = None) -> dict:
        """Ingest `{"events": [...]}` from `principal` (None: the whole state, no audit). Returns
        counts and per-event results (all of them, or only those not plainly accepted when
        `all_results` is false). An event about a school outside the principal's area is rejected
        as if the school did not exist. Money moved is written to the audit log, one entry a batch."""
        area = principal.area if principal is not None else STATE
        clock = _Stopwatch()
        # one trip to a worker thread for all the CPU work, so the event loop stays free
        prepared = await asyncio.to_thread(self._prepare, body, area)
        if self._refresh_directory is not None and prepared.unknown and await self._refresh_directory():
            # another replica registered a school since our directory was loaded: encode again
            prepared = await asyncio.to_thread(self._prepare, body, area)
        clock.lap("prepare")
        appended = await self._log.append(prepared.rows)
        clock.lap("log")

        seqs = np.array(appended.seqs, np.int64)
        encoded = prepared.encoded
        encoded.seq[:] = seqs
        fresh = seqs > 0
        outcome = np.zeros(len(encoded), np.int8)
        applied = True
        if fresh.any():
            try:
                outcome[fresh] = await self._router.apply(encoded.take(fresh), appended.after_seq, appended.upto_seq,
                                                          self._apply_timeout_s)
            except (TimeoutError, asyncio.TimeoutError):
                applied = False  # durable; the shard catches up from the log
                log.warning("shards did not confirm seq %d..%d in time", appended.after_seq + 1, appended.upto_seq)
        clock.lap("apply")

        status = np.full(prepared.received, _REJECTED, np.int8)
        status[prepared.logged] = np.select([~fresh, outcome == TOO_OLD, outcome == CORRECTION],
                                            [_DUPLICATE, _TOO_OLD, _CORRECTION], _ACCEPTED)
        item_seq = np.zeros(prepared.received, np.int64)
        item_seq[prepared.logged] = seqs
        event_ids: list = [None] * prepared.received
        for i, row in zip(prepared.logged, prepared.rows):
            event_ids[i] = row.event_id
        counts = np.bincount(status, minlength=len(_STATUS))
        shown = range(prepared.received) if all_results else np.flatnonzero(status != _ACCEPTED).tolist()
        results = [_result(i, event_ids[i], prepared.rejections.get(i), int(status[i]), int(item_seq[i]),
                           not all_results) for i in shown]
        funds = [event for i, event in prepared.fund_events if status[i] in (_ACCEPTED, _CORRECTION)]
        if funds and principal is not None and self._audit is not None:
            await self._audit_funds(principal, caller, funds)
        return {"received": prepared.received, "accepted": int(counts[_ACCEPTED]),
                "corrections": int(counts[_CORRECTION]), "duplicates": int(counts[_DUPLICATE]),
                "rejected": int(counts[_REJECTED] + counts[_TOO_OLD]), "applied": applied, "results": results,
                "timings_ms": clock.laps_ms}

    async def _audit_funds(self, principal: Principal, caller: Caller | None, events: list) -> None:
        """Money moved: one audit entry per batch, naming every fund event in it (the first 1,000)."""
        after = {"events": [{"event_id": e.event_id, "type": e.type, "amount_inr": float(e.amount_inr),
                             "school_id": e.school_id, "district": getattr(e, "district", None),
                             "block": getattr(e, "block", None)} for e in events[:1000]],
                 "count": len(events), "total_inr": round(sum(float(e.amount_inr) for e in events), 2)}
        await self._audit(principal, caller, "funds.events", district=principal.area.district, after=after)

    def _prepare(self, body: bytes, area: Area) -> _Prepared:
        """Parse, validate and encode a body's events, in their order. Plain attendance reports (most
        of a day) are read column by column; the rest are validated by the event models."""
        items = _parse_body(body, self._max_events)
        reports = read_attendance(items)
        rest = np.ones(len(items), bool)
        rest[reports.items] = False
        others = np.flatnonzero(rest).tolist()
        events, rejections = self._validate([items[i] for i in others])
        valid = [k for k, e in enumerate(events) if e is not None]
        modelled, model_errors = encode([events[k] for k in valid], self._directory)
        read, read_errors = encode_attendance(reports, self._directory)

        item_of_row = np.array(reports.items + [others[k] for k in valid], np.int64)
        order = np.argsort(item_of_row, kind="stable")  # back into the body's order, the log's order
        encoded = EventBatch.concat([read, modelled]).take(order)
        item_of_row = item_of_row[order]
        order = order.tolist()
        errors = read_errors + model_errors
        errors = [errors[j] for j in order]
        heads = [*zip(reports.event_id, itertools.repeat(ATTENDANCE), reports.school_id, reports.date),
                 *((events[k].event_id, events[k].type, getattr(events[k], "school_id", None), events[k].date)
                   for k in valid)]
        heads = [heads[j] for j in order]

        unknown = any(err is not None and err.startswith(UNKNOWN_SCHOOL) for err in errors)
        if not area.is_state:
            for j in np.flatnonzero(~_inside(area, encoded, self._directory)):
                if errors[j] is None:
                    school = heads[j][2]
                    errors[j] = f"{UNKNOWN_SCHOOL} {school}" if school else f"outside your area ({area.label()})"
        refused = {others[k]: r for k, r in enumerate(rejections) if r is not None}
        for j, err in enumerate(errors):
            if err is not None:
                i = int(item_of_row[j])
                refused[i] = _rejected(items[i], "UNKNOWN_REFERENCE", err)
        keep = [j for j, err in enumerate(errors) if err is None]
        logged = item_of_row[keep].tolist()
        district = encoded.district.tolist()
        rows = [LogRow(*heads[j][:2], district[j], *heads[j][2:], orjson.dumps(items[i]).decode())
                for i, j in zip(logged, keep)]
        funds = [(others[k], events[k]) for k in valid if events[k].type in _FUND_EVENTS]
        return _Prepared(len(items), encoded.take(np.array(keep, np.int64)), logged, rows, refused, funds, unknown)

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


@dataclass
class _Prepared:
    """A body made ready for the log: `encoded` and `rows` hold the events that can be applied, in the
    body's order (`logged`: their indices in the body); `rejections` the others, by index."""

    received: int
    encoded: EventBatch
    logged: list[int]
    rows: list[LogRow]
    rejections: dict[int, dict]
    fund_events: list[tuple[int, object]]  # (index in the body, event): money moved, for the audit log
    unknown: bool  # some school was unknown to this replica's directory


def _result(i: int, event_id: str | None, rejection: dict | None, status: int, seq: int, with_index: bool) -> dict:
    if status == _REJECTED:
        result = rejection
    elif status == _TOO_OLD:
        result = {"event_id": event_id, "status": "rejected", "seq": seq, "error": {
            "code": "TOO_OLD",
            "message": "attendance for a date older than the twin's correction window; logged but not applied"}}
    else:
        result = {"event_id": event_id, "status": _STATUS[status]}
        if status != _DUPLICATE:
            result["seq"] = seq
    return {**result, "index": i} if with_index else result


class _Stopwatch:
    """Milliseconds spent in each stage, for the `Server-Timing` header."""

    def __init__(self) -> None:
        self._last = time.perf_counter()
        self.laps_ms: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps_ms[name] = round((now - self._last) * 1000, 1)
        self._last = now


# money moved or planned: the audit log records them
_FUND_EVENTS = ("funds_released", "funds_utilised", "funds_allocated")

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
