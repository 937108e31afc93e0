"""`ShardPublisher`: tells the stream broker what a folded batch changed.

`on_applied` is called by the shard under its fold lock right after a batch is folded: it only
copies the changed schools' few columns (`twin.deltas.capture`) and the batch's alert events, and
queues them. A background task turns them into messages and publishes them, in batch order, so
ingest never waits for the broker and a slow or absent broker costs the twin nothing but deltas.

Per district touched, one message on `schools:<district index>`: the changed schools as columns
(`twin.deltas.to_columns`).
Per alert, one message on `alerts:<district index>`: shortage reported, rice stock falling below
`low_stock_days` days, or a school (block, district) closed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

import numpy as np

from twin import geography
from twin.batch import EventBatch
from twin.deltas import SchoolCapture, capture, low_stock, to_columns
from twin.directory import Directory
from twin.encoding import SHORTAGE_ITEMS
from twin.events import ClosureReason, EventKind
from twin.outcomes import SKIPPED
from twin.norms import day_date
from twin.ports import StreamBroker
from twin.state import ShardState

log = logging.getLogger(__name__)

_CLOSURE_REASONS = {i: r.value for i, r in enumerate(ClosureReason, start=1)}
MAX_PENDING = 64  # batches waiting to be published; beyond this the oldest deltas are dropped
# A broker that fails (Redis restarting) is retried this long before a batch's deltas are given up:
# a short outage then costs the streams nothing, and a long one cannot hold a shutdown's flush forever.
RETRY_FOR_S = 60.0
_RETRY_FIRST_S, _RETRY_MAX_S = 0.2, 5.0


def schools_topic(district: int) -> str:
    return f"schools:{district}"


def alerts_topic(district: int) -> str:
    return f"alerts:{district}"


@dataclass
class _Folded:
    seq: int
    schools: SchoolCapture
    alerts: EventBatch  # shortage and closure events of the batch


class ShardPublisher:
    def __init__(self, broker: StreamBroker, directory: Directory, low_stock_days: float = 3.0) -> None:
        self._broker = broker
        self._directory = directory
        self._low_stock_days = low_stock_days
        self._low = np.zeros(len(directory), bool)  # schools already alerted for low stock
        self._pending: asyncio.Queue[_Folded] = asyncio.Queue(MAX_PENDING)
        self._worker: asyncio.Task | None = None
        self.published = 0  # messages
        self.last_build_s = self.last_publish_s = 0.0  # the background work of the latest batch
        self.last_messages = 0

    def on_applied(self, state: ShardState, batch: EventBatch, outcome: np.ndarray, seq: int) -> None:
        """Called under the shard's fold lock with the folded rows and their outcomes: copy, queue, return."""
        done = batch.take(outcome != SKIPPED)
        if not len(done):
            return
        touched = [done.school[done.school >= 0]]
        moved = done.values[done.kind == EventKind.STOCK_TRANSFERRED, 4]  # a transfer changes its source too
        touched.append(moved[moved >= 0].astype(np.int64))
        closing = done.take((done.kind == EventKind.SCHOOL_CLOSED) & (done.school < 0))
        for block, district in zip(closing.block.tolist(), closing.district.tolist()):
            rows = self._directory.school_block == block if block >= 0 else self._directory.school_district == district
            touched.append(np.flatnonzero(rows))
        changed = np.zeros(len(state.school_local), bool)  # a mask, not np.unique: a few times faster
        index = np.concatenate(touched)
        changed[index[index < len(changed)]] = True
        schools = np.flatnonzero(changed & (state.school_local >= 0))
        alerts = done.take((done.kind == EventKind.SHORTAGE_REPORTED) | (done.kind == EventKind.SCHOOL_CLOSED))
        folded = _Folded(seq, capture(state, schools), alerts)
        if self._pending.full():  # the broker is not keeping up: keep the twin going, lose deltas
            self._pending.get_nowait()
            log.warning("stream publishing is behind: dropped the deltas of one batch")
        self._pending.put_nowait(folded)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        while not self._pending.empty():
            folded = self._pending.get_nowait()
            try:
                started = time.perf_counter()
                messages = await asyncio.to_thread(self.messages, folded)
                built = time.perf_counter()
                await self._publish_retrying(messages, folded.seq)
                self.published += len(messages)
                self.last_build_s, self.last_publish_s = built - started, time.perf_counter() - built
                self.last_messages = len(messages)
            except Exception:  # noqa: BLE001 - a broker failure must not reach the twin
                log.exception("publishing the changes up to seq %d failed; its deltas are dropped", folded.seq)
            finally:
                self._pending.task_done()

    async def _publish_retrying(self, messages: list, seq: int) -> None:
        """Publish, retrying a failing broker with backoff for up to `RETRY_FOR_S` (then raise).
        Later batches wait in the queue meanwhile, so the streams keep their order."""
        deadline, pause = time.monotonic() + RETRY_FOR_S, _RETRY_FIRST_S
        while True:
            try:
                await self._broker.publish_many(messages)
                return
            except Exception as exc:  # noqa: BLE001 - whatever the broker's client raises
                if time.monotonic() + pause > deadline:
                    raise
                log.warning("the stream broker did not take the changes up to seq %d (%s); retrying", seq, exc)
                await asyncio.sleep(pause)
                pause = min(pause * 2, _RETRY_MAX_S)

    async def published_upto(self, districts: list[int]) -> int | None:
        """The log seq up to which the changes of `districts` reached the broker: the seq of the
        latest school delta it holds of any of them (each carries its batch's seq). None when it
        holds none (nothing published since the broker started, or a broker that lost its state)."""
        found = None
        for d in districts:
            first, last = await self._broker.bounds(schools_topic(d))
            if last < first:
                continue
            newest = await self._broker.read({schools_topic(d): last - 1}, 0)
            if newest:
                found = max(found or 0, int(newest[-1][2]["seq"]))
        return found

    async def flush(self) -> None:
        """Wait until everything queued so far is published (tests, shutdown)."""
        await self._pending.join()

    def messages(self, folded: _Folded) -> list[tuple[str, dict | bytes]]:
        """The broker messages of one folded batch (the school deltas encoded already: they are
        large, and this runs in a worker thread)."""
        cap = folded.schools
        district = self._directory.school_district[cap.school_global]
        out = []
        for d in np.unique(district).tolist():
            rows = np.flatnonzero(district == d)
            out.append((schools_topic(d), to_columns(cap, folded.seq, rows)))
        if len(self._low) < len(self._directory):  # schools registered since we started
            self._low = np.concatenate([self._low, np.zeros(len(self._directory) - len(self._low), bool)])
        low = low_stock(cap, self._low_stock_days) & ~cap.closed_today  # a closed school serves no meals
        newly = low & ~self._low[cap.school_global]
        self._low[cap.school_global] = low
        names = geography.district_names()
        for r in np.flatnonzero(newly).tolist():
            d = int(district[r])
            out.append((alerts_topic(d), {
                "kind": "low_stock", "seq": folded.seq, "district": names[d],
                "school_id": f"{int(cap.school_ids[r]):011d}", "stock_days": round(float(cap.stock_days[r]), 1),
                "rice_kg": round(float(cap.stock_kg[r, 0]), 2), "below_days": self._low_stock_days}))
        out.extend(self._event_alerts(folded.alerts))
        return out

    def _event_alerts(self, events: EventBatch) -> list[tuple[str, dict]]:
        names, blocks = geography.district_names(), self._directory.blocks.names
        out = []
        for e in range(len(events)):
            d, school, block = int(events.district[e]), int(events.school[e]), int(events.block[e])
            alert = {"seq": int(events.seq[e]), "district": names[d], "date": day_date(int(events.day[e])).isoformat()}
            if school >= 0:
                alert["school_id"] = f"{int(self._directory.school_ids[school]):011d}"
            if block >= 0:
                alert["block"] = blocks[block]
            if events.kind[e] == EventKind.SHORTAGE_REPORTED:
                alert |= {"kind": "shortage_reported", "item": SHORTAGE_ITEMS[int(events.values[e, 0])].value}
            else:
                alert |= {"kind": "school_closed", "to": day_date(int(events.day_end[e])).isoformat(),
                          "reason": _CLOSURE_REASONS.get(int(events.values[e, 0])),
                          "scope": "school" if school >= 0 else "block" if block >= 0 else "district"}
            out.append((alerts_topic(d), alert))
        return out
