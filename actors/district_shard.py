"""`DistrictShard`: the twins of every school and block of one or more districts.

It folds event batches into its `ShardState` with the numba kernels, in log order. Each batch
arrives with the log position it follows (`after_seq`) and the one it reaches (`upto_seq`): a
batch that follows a gap makes the shard read the missing events from the log first, and one it
has already folded is skipped, so delivery may be late, repeated or out of order without an event
being lost or applied twice. Snapshots plus the log tail rebuild it after a crash.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Sequence

import numpy as np

from twin import snapshot
from twin.batch import EventBatch
from twin.changed_rows import mark_changed_schools
from twin.directory import Directory
from twin.district_copy import districts_copy
from twin.encoding import decode_logged
from twin.funds_columns import FundsColumns, funds_columns
from twin.funds_range import RANGE_EVENT_TYPES, funds_in_range
from twin.kernels import apply_events, rollup
from twin.ports import EventLog, SnapshotDeltaStore, SnapshotStore
from twin.pushed_columns import BlockTotals, risk_features
from twin.range_funds import RangeFunds
from twin.state import ShardState
from twin.views import block_view, district_view, school_view

log = logging.getLogger(__name__)

_REPLAY_PAGE = 20_000
GAP_WAIT_S = 2.0  # how long a batch after a gap waits for the batch before it
# a shard larger than `every_events` schools snapshots what it folded since its last snapshot once no
# batch has come for this long, if that is `every_events` or more (`DistrictShard._arm_quiet_snapshot`)
QUIET_SNAPSHOT_S = 5.0


class DistrictShard:
    def __init__(
        self,
        districts: list[int],
        directory: Directory,
        enrolment: np.ndarray,
        event_log: EventLog,
        snapshots: SnapshotStore,
        snapshot_every_events: int = 50_000,
        snapshot_every_seconds: float = 60.0,
        gap_wait_s: float = GAP_WAIT_S,
        on_applied: Callable[[ShardState, EventBatch, np.ndarray, int], None] | None = None,
        quiet_snapshot_s: float = QUIET_SNAPSHOT_S,
        snapshot_deltas: SnapshotDeltaStore | None = None,
    ) -> None:
        self.districts = sorted(districts)
        self.directory = directory
        self.state = ShardState.for_districts(directory, enrolment, self.districts)
        self.applied_seq = 0  # every log event at or below this is folded in (or not ours)
        self._log = event_log
        self._snapshots = snapshots
        self._every_events = snapshot_every_events
        self._every_seconds = snapshot_every_seconds
        self._since_snapshot = 0
        self._last_snapshot = time.monotonic()
        self._snapshot_task: asyncio.Task | None = None
        self._quiet_s = quiet_snapshot_s
        self._quiet: asyncio.TimerHandle | None = None  # the snapshot due once the feed pauses
        self._quiet_task: asyncio.Task | None = None
        # A shard of more schools than every_events (India scale) with a delta store snapshots every
        # every_events events as a delta: the rows changed since the snapshot or delta before
        # (`_changed`, marked at each fold), chained from the last whole snapshot (`_base_seq`;
        # None: the next is a whole one). A whole copy is taken again once the chain's rows add up
        # to the shard's schools: a recovery decompresses at most two copies' rows (the whole copy
        # and its chain) to restore one.
        self._deltas = snapshot_deltas
        self._changed: np.ndarray | None = None
        self._base_seq: int | None = None
        self._rows_since_base = 0
        self._closed = False
        self._gap_wait_s = gap_wait_s
        self._turn = asyncio.Condition()  # one fold at a time, in log order
        # told (state, folded rows, their outcomes, upto_seq) under the fold lock: must be quick
        self._on_applied = on_applied
        self.events_applied = 0
        # what the views, `district_rows` and `changed_risk_features` read, kept between their calls;
        # each is called in a thread (a read or a push), so one refresh of each at a time
        self._block_totals = BlockTotals()
        self._features, self._features_lock = risk_features(), threading.Lock()
        self._sent_features: np.ndarray | None = None  # risk features as last handed out

    # -- recovery ---------------------------------------------------------------------------------
    async def recover(self, progress: Callable[[int], None] | None = None, upto_seq: int | None = None,
                      publish_after: int | None = None) -> int:
        """Load each district's latest snapshot, then replay the log after the oldest of them, up to
        `upto_seq` (default: the log's end; a rebuild of the past passes its position, with a
        snapshot store that answers no later snapshot). Returns the number of log events replayed.

        With `publish_after`, the replayed events after that seq go to `on_applied` as a delivered
        batch's do: a restarted shard's earlier incarnation published up to there, and the events
        appended while it was down were never published. Those up to it are replayed quietly."""
        async with self._turn:
            start = None
            school_order = None  # sorted once for every part restored (`ShardState.school_order`)
            for d_local, d in enumerate(self.districts):
                found = await self._snapshots.latest(d)
                seq = 0
                if found:
                    seq, data = found
                    later = await self._deltas.deltas(d, seq) if self._deltas else []
                    chain = [(seq, data), *((s, x) for s, x in later if upto_seq is None or s <= upto_seq)]
                    if school_order is None:
                        school_order = await asyncio.to_thread(self.state.school_order)
                    await asyncio.to_thread(self._restore, d_local, [data for _, data in chain], school_order)
                    seq = chain[-1][0]
                start = seq if start is None else min(start, seq)
            self.applied_seq = start or 0
            if publish_after is None:
                replayed = await self._catch_up(upto_seq, progress)
            else:
                end = await self._log.max_seq() if upto_seq is None else upto_seq
                replayed = await self._catch_up(min(publish_after, end), progress) if publish_after > self.applied_seq else 0
                replayed += await self._catch_up(end, progress, publish=True)
            self._since_snapshot = replayed
            self._invalidate_columns()  # the restored rows were not folded here
            return replayed

    def _restore(self, d_local: int, chain: list[bytes], school_order: tuple[np.ndarray, np.ndarray]) -> None:
        """Restore a district's snapshot and the deltas after it, each school row from the newest."""
        self.state.restore_district_chain(d_local, [snapshot.loads(data) for data in chain], school_order)

    async def _catch_up(self, upto_seq: int | None, progress: Callable[[int], None] | None = None,
                        publish: bool = False) -> int:
        """Fold the log's events of our districts after `applied_seq` up to `upto_seq` (default: the
        log's end, read first so that an event committed meanwhile is left for the next batch).
        With `publish`, what each page changed goes to `on_applied` as a delivered batch's does: a
        live catch-up folds events no one was told of. Recovery publishes only past what the
        shard's earlier incarnation published (`recover`): the rest repeats alerts already sent."""
        if upto_seq is None:
            upto_seq = await self._log.max_seq()
        done = 0
        while True:
            rows = await self._log.read(self.applied_seq, self.districts, upto_seq, limit=_REPLAY_PAGE)
            if not rows:
                break
            batch = await asyncio.to_thread(self._decode, rows)
            outcome = await asyncio.to_thread(self._fold, batch)
            self.applied_seq = rows[-1][0]
            if publish and self._on_applied is not None:
                self._on_applied(self.state, batch, outcome, self.applied_seq)
            done += len(rows)
            self.events_applied += len(rows)
            if progress:
                progress(done)
            if len(rows) < _REPLAY_PAGE:
                break
        self.applied_seq = max(self.applied_seq, upto_seq)
        return done

    def _fold(self, batch: EventBatch) -> np.ndarray:
        """`apply_events`, and the rows it may have written marked for the next delta and for the
        pushed columns."""
        outcome = apply_events(self.state, batch)
        written = np.zeros(self.state.n_schools, bool)
        mark_changed_schools(self.state, batch, written)
        self._block_totals.mark(written)
        self._features.mark(written)
        if self._changed is not None and len(self._changed) == self.state.n_schools:
            self._changed |= written
        return outcome

    def _decode(self, rows: list[tuple[int, str]]) -> EventBatch:
        batch = decode_logged(rows, self.directory)
        # a school our directory knows but our state does not host yet (the directory object is
        # shared in-process and may have been extended first): leave it to `sync_schools`
        batch.district[batch.school >= len(self.state.school_local)] = -1
        return batch

    # -- the write path ---------------------------------------------------------------------------
    async def apply(self, batch: EventBatch, after_seq: int, upto_seq: int) -> np.ndarray:
        """Fold a durable batch whose events lie in (after_seq, upto_seq]. Returns int8 outcomes
        (`twin.kernels`), SKIPPED for events folded before.

        Concurrent ingests append one after another but their batches may arrive here out of
        order: a batch that follows a gap first waits briefly for the batch before it, which is
        usually in flight, and reads the gap from the log only if that does not come."""
        async with self._turn:
            if after_seq > self.applied_seq:
                try:
                    await asyncio.wait_for(self._turn.wait_for(lambda: self.applied_seq >= after_seq),
                                           self._gap_wait_s)
                except TimeoutError:
                    log.info("gap before seq %d not delivered in %.1fs: reading the log", after_seq + 1, self._gap_wait_s)
            outcome = np.zeros(len(batch), np.int8)
            if upto_seq <= self.applied_seq:
                return outcome
            if after_seq > self.applied_seq:
                await self._catch_up(after_seq, publish=True)
            # a school index beyond our directory: registered elsewhere and not yet synced here
            fresh = (batch.seq > self.applied_seq) & (batch.school < len(self.state.school_local))
            folded = batch.take(fresh)
            outcome[fresh] = await asyncio.to_thread(self._fold, folded)
            self.applied_seq = upto_seq
            if self._on_applied is not None and len(folded):
                self._on_applied(self.state, folded, outcome[fresh], upto_seq)
            self.events_applied += int(np.count_nonzero(outcome))
            self._since_snapshot += len(batch)
            if self._snapshot_due():
                await self._write_snapshot()
            elif self._since_snapshot >= self._quiet_after():
                self._arm_quiet_snapshot()
            self._turn.notify_all()
            return outcome

    def _snapshot_due(self) -> bool:
        """Due after `every_events` events, or at least as many as the shard has schools (a copy of
        1.08 M schools' columns is ~1 GiB: at India scale, one a school day rather than one every
        few seconds) unless it keeps deltas, or after `every_seconds` with any; never while the
        previous one is still being stored. Each holds a copy of the state until stored, and copies
        queued behind a slow store (a busy machine, a large shard) grew a shard past 7 GiB until it
        was killed for memory."""
        if self._snapshot_task is not None and not self._snapshot_task.done():
            return False
        every = self._every_events if self._keeps_deltas() else max(self._every_events, self.state.n_schools)
        if self._since_snapshot >= every:
            return True
        return self._since_snapshot > 0 and time.monotonic() - self._last_snapshot >= self._every_seconds

    def _keeps_deltas(self) -> bool:
        """Deltas pay only where a whole copy costs more than `every_events` events' rows: Tamil
        Nadu's shards (fewer schools than every_events) snapshot whole, as before."""
        return self._deltas is not None and self.state.n_schools > self._every_events

    def _quiet_after(self) -> int:
        """Events folded since the last snapshot from which a pause in the feed takes one: any,
        with deltas (cheap); else `every_events` (a whole copy)."""
        return 1 if self._keeps_deltas() else self._every_events

    def _arm_quiet_snapshot(self) -> None:
        """Snapshot once no batch has come for `quiet_s` (each batch puts it off again). A shard of
        more schools than `every_events` snapshots only after as many events as it has schools
        (or `every_seconds`, `_snapshot_due`): at India scale a killed shard replayed up to ~1 M events.
        A pause in the feed is when a copy costs ingest nothing, and a recovery then replays only
        what came after it."""
        if self._quiet is not None:
            self._quiet.cancel()
        self._quiet = asyncio.get_running_loop().call_later(self._quiet_s, self._on_quiet)

    def _on_quiet(self) -> None:
        self._quiet = None
        self._quiet_task = asyncio.ensure_future(self._snapshot_if_quiet())

    async def _snapshot_if_quiet(self) -> None:
        async with self._turn:
            if self._closed or self._since_snapshot < self._quiet_after():
                return
            if self._snapshot_task is not None and not self._snapshot_task.done():
                self._arm_quiet_snapshot()  # the one being stored first
                return
            await self._write_snapshot()

    async def _write_snapshot(self) -> None:
        """A delta when the chain can take one (its rows with this delta's add up to fewer than the
        shard's schools), else a whole snapshot."""
        changed = self._changed
        if (self._keeps_deltas() and self._base_seq is not None and changed is not None
                and len(changed) == self.state.n_schools
                and self._rows_since_base + int(np.count_nonzero(changed)) < self.state.n_schools):
            self._write_deltas()
        else:
            await self._write_snapshots()

    async def _write_snapshots(self) -> None:
        """Copy every hosted district's columns now (cheap, under the fold lock) and compress and
        store them in the background, so ingest does not wait for a snapshot."""
        seq = self.applied_seq
        parts = list(zip(self.districts, self.state.district_parts(seq)))
        if self._keeps_deltas():  # a new chain starts from this copy
            self._changed = np.zeros(self.state.n_schools, bool)
            self._base_seq, self._rows_since_base = seq, 0
        self._since_snapshot = 0
        self._last_snapshot = time.monotonic()
        previous = self._snapshot_task
        self._snapshot_task = asyncio.create_task(self._store_snapshots(parts, seq, previous))

    def _write_deltas(self) -> None:
        """Copy the rows changed since the last snapshot or delta of every hosted district (under
        the fold lock; ~1/20 of a whole copy at India scale's every_events) and store them as one
        delta in the background."""
        seq, changed = self.applied_seq, self._changed
        parts = list(zip(self.districts, self.state.district_parts(seq, changed)))
        self._rows_since_base += int(np.count_nonzero(changed))
        self._changed = np.zeros(self.state.n_schools, bool)
        self._since_snapshot = 0
        self._last_snapshot = time.monotonic()
        previous = self._snapshot_task
        self._snapshot_task = asyncio.create_task(self._store_deltas(parts, self._base_seq, seq, previous))

    async def _store_snapshots(self, parts: list, seq: int, previous: asyncio.Task | None) -> bool:
        """Compress every district's copy, then store them in one transaction: the deltas after
        them wait for it, and a store per district, each behind ingest's writes, held them back
        for half a day's events at India scale."""
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)  # snapshots land in seq order
        try:
            data = await asyncio.to_thread(lambda: [(d, snapshot.dumps(part)) for d, part in parts])
            await self._snapshots.save_all(seq, data)
        except Exception:  # noqa: BLE001 - the log still holds everything; the next snapshot retries
            log.exception("snapshot at seq %d failed", seq)
            self._give_up_chain(seq)
            return False
        return True

    async def _store_deltas(self, parts: list, base_seq: int, seq: int, previous: asyncio.Task | None) -> bool:
        """Store a delta once the snapshot or delta before it is stored; if that failed, not at all:
        a chain with a hole would restore wrong, where one that stops early only replays more."""
        if previous is not None and (await asyncio.gather(previous, return_exceptions=True))[0] is not True:
            self._give_up_chain(base_seq)
            return False
        try:
            data = await asyncio.to_thread(lambda: [(d, snapshot.dumps(part)) for d, part in parts])
            await self._deltas.save_deltas(base_seq, seq, data)
        except Exception:  # the log still holds everything; the next snapshot is whole
            log.exception("snapshot delta at seq %d failed", seq)
            self._give_up_chain(base_seq)
            return False
        return True

    def _give_up_chain(self, base_seq: int) -> None:
        """A store of the chain from `base_seq` failed: the next snapshot is a whole one."""
        if self._base_seq == base_seq:
            self._base_seq = None

    async def snapshot_now(self) -> int:
        """Write every hosted district's snapshot at the current position; returns that seq once stored."""
        async with self._turn:
            await self._write_snapshots()
            task = self._snapshot_task
        await task
        return self.applied_seq

    async def close(self) -> None:
        """Let a snapshot being stored finish: its writes would otherwise open database connections
        after the caller has closed the shard's engine."""
        self._closed = True
        if self._quiet is not None:
            self._quiet.cancel()
        if self._quiet_task is not None:
            await asyncio.gather(self._quiet_task, return_exceptions=True)
        if self._snapshot_task is not None:
            await asyncio.gather(self._snapshot_task, return_exceptions=True)

    async def sync(self) -> int:
        """Fold whatever the log holds beyond `applied_seq` (e.g. after a lost delivery)."""
        async with self._turn:
            await self._catch_up(None, publish=True)
            self._turn.notify_all()
            return self.applied_seq

    # -- the school register ----------------------------------------------------------------------
    async def sync_schools(self, changes: list[tuple[int, int, int, int, bool]], later: Directory | None = None) -> dict:
        """Reflect changed rows of the schools table: (UDISE code, enrolment by band x3, active).

        `later`, a fresh load of the directory, brings schools registered since ours was loaded:
        they are appended (indices never shift; see `Directory.extend`), and those of our
        districts get fresh rows. Schools are then found by UDISE code; changes to schools we do
        not host are counted in `unknown`. Changed enrolment goes into a snapshot at once so a
        restart keeps it; `active` is read from the table on every load."""
        async with self._turn:
            if later is not None and not self.directory.extend(later):
                log.error("the schools table no longer starts with this shard's directory: new schools not taken")
            ids = np.array([c[0] for c in changes], np.int64)
            enrolled = np.array([c[1:4] for c in changes], np.int32).reshape(-1, 3)
            glob = self.directory.lookup(ids)
            if len(self.directory) > len(self.state.school_local):
                enrolment = np.zeros((len(self.directory), 3), np.int32)
                enrolment[glob[glob >= 0]] = enrolled[glob >= 0]
                self.state = await asyncio.to_thread(self.state.grown, self.directory, enrolment)
            local = np.where(glob >= 0, self.state.school_local[np.maximum(glob, 0)], -1)
            hit = local >= 0
            rows = local[hit]
            active = np.array([bool(c[4]) for c in changes], bool)[hit]
            self.state.enrolment[rows] = enrolled[hit]
            self.state.active[rows] = active
            self.directory.school_active[glob[hit]] = active
            self._invalidate_columns()
            if hit.any():
                await self._write_snapshots()
            return {"synced": int(hit.sum()), "unknown": [f"{int(x):011d}" for x in ids[~hit]]}

    # -- reads ------------------------------------------------------------------------------------
    def school(self, global_index: int) -> dict | None:
        """The twin of one school; None if not hosted here or deactivated."""
        i = int(self.state.school_local[global_index]) if 0 <= global_index < len(self.state.school_local) else -1
        return school_view(self.state, i) if i >= 0 and self.state.active[i] else None

    def block(self, global_block: int) -> dict | None:
        return self.views((), (global_block,))[1][0]

    def district(self, district: int) -> dict | None:
        return self.views((district,), ())[0][0]

    def views(self, districts: Sequence[int], blocks: Sequence[int]) -> tuple[list[dict | None], list[dict | None]]:
        """The views of many districts and blocks (global indices; None for one not hosted here),
        each with `as_of_seq` the applied seq read before any of them: reads run in threads, and a
        fold finishing meanwhile must not make a view claim events it may not hold."""
        seq = self.applied_seq
        state = self.state
        blocks_totals = self._block_totals.refresh(state)
        districts_totals = rollup(state.block_district, blocks_totals, len(state.district_global)) if districts else None

        def block(global_block: int) -> dict | None:
            b = int(state.block_local[global_block]) if 0 <= global_block < len(state.block_local) else -1
            if b < 0:
                return None
            return {**block_view(state, b, self.directory.blocks.names, blocks_totals[b]), "as_of_seq": seq}

        def district(global_district: int) -> dict | None:
            d = int(state.district_local[global_district]) if 0 <= global_district < len(state.district_local) else -1
            if d < 0:
                return None
            return {**district_view(state, d, districts_totals[d]), "as_of_seq": seq}

        return [district(int(d)) for d in districts], [block(int(b)) for b in blocks]

    def district_rows(self) -> dict:
        """Roll-ups of every hosted district: what the state actor aggregates. They hold at least
        every event up to the `applied_seq` they name (read first: a fold may finish meanwhile)."""
        applied_seq = self.applied_seq
        blocks = self._block_totals.refresh(self.state)
        rows = rollup(self.state.block_district, blocks, len(self.state.district_global))
        return {
            "districts": [int(d) for d in self.districts],
            "rows": rows,
            "views": [district_view(self.state, i, rows[i]) for i in range(len(self.districts))],
            "today": int(self.state.today[0]),
            "applied_seq": applied_seq,
        }

    async def funds_columns(self, year: int, district: int | None = None, block: int | None = None,
                            school: int | None = None) -> FundsColumns:
        """The money columns of the hosted schools (`twin.funds_columns`), between folds, so that
        what reached a school and what its block passed down always agree."""
        async with self._turn:
            return await asyncio.to_thread(funds_columns, self.state, year, int(self.state.today[0]), district,
                                           block, school)

    async def funds_in_range(self, districts: Sequence[int], first: dt.date, last: dt.date,
                             school_id: str | None = None) -> RangeFunds:
        """The funds moved from `first` to `last` in the hosted ones of `districts`, folded from the
        log with this shard's kernel and directory (`twin.funds_range`): here, so that an API
        replica never loads the kernels to answer a range of dates."""
        hosted = sorted(set(self.districts) & {int(d) for d in districts})
        rows = await self._log.dated_since(hosted, RANGE_EVENT_TYPES, first, school_id) if hosted else []
        return await asyncio.to_thread(funds_in_range, rows, self.directory, hosted, first, last)

    async def state_copy(self, districts: Sequence[int] | None = None) -> ShardState:
        """A copy of the whole state between folds: a consistent fork for what-if runs; with
        `districts` (global indices), of only the hosted ones of them (a district's report)."""
        async with self._turn:
            if districts is None:
                return await asyncio.to_thread(copy.deepcopy, self.state)
            return await asyncio.to_thread(districts_copy, self.state, [int(d) for d in districts])

    def changed_risk_features(self) -> tuple[np.ndarray, np.ndarray]:
        """(global school indices int64 [k], `twin.risk` features then `twin.school_features.AREA_FUNDS`
        [k, F + A]) of the schools whose risk features or money changed since the last call (all of
        them on the first call)."""
        with self._features_lock:
            return self._changed_risk_features()

    def _changed_risk_features(self) -> tuple[np.ndarray, np.ndarray]:
        state = self.state
        recomputed = self._features.refresh(state)  # None: every row
        features = self._features.values  # the money columns after, for the area funds alerts
        before = self._sent_features
        if before is None or before.shape != features.shape:
            changed = np.ones(len(features), bool)
            self._sent_features = features.copy()
        else:
            # only rows recomputed now can differ from what was handed out
            rows = np.arange(len(features)) if recomputed is None else recomputed
            now, then = features[rows], before[rows]
            changed = np.zeros(len(features), bool)
            changed[rows] = ~((now == then) | (np.isnan(now) & np.isnan(then))).all(axis=1)
            before[rows] = now
        hosted = np.flatnonzero(state.school_local >= 0)
        global_of_local = np.empty(state.n_schools, np.int64)
        global_of_local[state.school_local[hosted]] = hosted
        rows = np.flatnonzero(changed)
        return global_of_local[rows], features[rows]

    def _invalidate_columns(self) -> None:
        self._block_totals.invalidate()
        self._features.invalidate()

    def forget_sent_features(self) -> None:
        """The next `changed_risk_features` hands out every school (its receiver lost them)."""
        self._sent_features = None

    def status(self) -> dict:
        return {
            "districts": self.districts,
            "schools": self.state.n_schools,
            "applied_seq": self.applied_seq,
            "events_applied": self.events_applied,
            "today": int(self.state.today[0]),
            "district_seqs": self.state.district_applied_seq.tolist(),
        }
