"""The ingest service: validate a batch at the edge, make it durable, fold it into the shards, and
answer with one result per event. One bad event never costs a good one its place."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import numpy as np
import orjson
from pydantic import ValidationError

from actors.router import ShardRouter
from twin.directory import Directory
from twin.encoding import encode
from twin.errors import InvalidInput
from twin.events import event_adapter, event_list_adapter
from twin.kernels import CORRECTION, TOO_OLD
from twin.ports import EventLog, LogRow

log = logging.getLogger(__name__)


@dataclass
class IngestCounts:
    received: int = 0
    accepted: int = 0
    corrections: int = 0
    duplicates: int = 0
    rejected: int = 0


class IngestService:
    def __init__(self, event_log: EventLog, directory: Directory, router: ShardRouter,
                 max_events: int, apply_timeout_s: float = 30.0) -> None:
        self._log = event_log
        self._directory = directory
        self._router = router
        self._max_events = max_events
        self._apply_timeout_s = apply_timeout_s

    async def ingest(self, body: bytes, all_results: bool = True) -> dict:
        """Ingest `{"events": [...]}`. Returns counts and per-event results (all of them, or only
        those not plainly accepted when `all_results` is false)."""
        items = _parse_body(body, self._max_events)
        events, results = await asyncio.to_thread(self._validate, items)
        valid = [i for i, e in enumerate(events) if e is not None]
        batch, errors = await asyncio.to_thread(encode, [events[i] for i in valid], self._directory)
        rows, keep = [], []
        for j, i in enumerate(valid):
            if errors[j]:
                results[i] = _rejected(items[i], "UNKNOWN_REFERENCE", errors[j])
                continue
            keep.append(j)
            e = events[i]
            rows.append(LogRow(e.event_id, e.type, int(batch.district[j]), getattr(e, "school_id", None), e.date,
                               orjson.dumps(items[i]).decode()))
        appended = await self._log.append(rows)
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
        for j, k in enumerate(keep):
            i = valid[k]
            event_id = events[i].event_id
            if seqs[j] == 0:
                results[i] = {"event_id": event_id, "status": "duplicate"}
            elif outcome[j] == TOO_OLD:
                results[i] = {"event_id": event_id, "status": "rejected", "seq": int(seqs[j]), "error": {
                    "code": "TOO_OLD", "message": "attendance for a date older than the twin's correction window; "
                                                  "logged but not applied"}}
            else:
                status = "correction" if outcome[j] == CORRECTION else "accepted"
                results[i] = {"event_id": event_id, "status": status, "seq": int(seqs[j])}
        counts = IngestCounts(received=len(items))
        for r in results:
            setattr(counts, _COUNTER[r["status"]], getattr(counts, _COUNTER[r["status"]]) + 1)
        shown = results if all_results else [dict(r, index=i) for i, r in enumerate(results)
                                             if r["status"] != "accepted"]
        return {**counts.__dict__, "applied": applied, "results": shown}

    def _validate(self, items: list) -> tuple[list, list]:
        """Validated events (None where invalid) and results holding the rejections so far."""
        results: list = [None] * len(items)
        try:
            return list(event_list_adapter.validate_python(items)), results
        except ValidationError:
            pass  # at least one is bad: find which, one by one
        events: list = []
        for i, item in enumerate(items):
            try:
                events.append(event_adapter.validate_python(item))
            except ValidationError as exc:
                events.append(None)
                results[i] = _rejected(item, "VALIDATION_ERROR", _describe(exc), _fields(exc))
        return events, results


_COUNTER = {"accepted": "accepted", "correction": "corrections", "duplicate": "duplicates", "rejected": "rejected"}


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
