"""`mealtwin bench streams`: what publishing a folded batch's changes, and a snapshot, cost a shard.

A shard of every school of the state (43,000 by default) folds batches of 5,000 events of one
school day (attendance, deliveries, shortages, closures), first without a publisher (the baseline),
then with a `ShardPublisher`. Reported, as medians over the runs: the fold without and with the
publisher (what ingest waits for), the part of publishing done under the fold lock (copying the
changed schools' columns), and the background part (building the messages and handing them to the
broker: the in-memory one, and Redis when `--redis` is given). Then a snapshot round of every
district: the copy taken under the fold lock, and the encoding done in the background.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time

import numpy as np

from actors.broker import MemoryBroker
from actors.district_shard import DistrictShard
from actors.shard_publisher import ShardPublisher
from twin import snapshot
from twin.batch import EventBatch
from twin.directory import BlockTable, Directory
from twin.events import EventKind
from twin.norms import day_number

BATCH = 5_000


class _LogNotRead:
    """The shard reads its log only after a gap or on recovery; batches here follow each other."""

    async def read(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        raise AssertionError("the benchmark's batches are contiguous: the log is never read")

    async def max_seq(self) -> int:
        return 0


def _directory(schools: int, seed: int) -> tuple[Directory, np.ndarray]:
    rng = np.random.default_rng(seed)
    blocks = BlockTable.from_geography()
    block = np.sort(rng.integers(0, len(blocks), schools)).astype(np.int32)
    ids = 33_000_000_000 + np.arange(schools, dtype=np.int64)
    enrolment = rng.integers(5, 80, size=(schools, 3)).astype(np.int32)
    return Directory(ids, blocks.district[block].astype(np.int16), block, blocks), enrolment


def _opening_stock(directory: Directory, day: int) -> EventBatch:
    """A delivery of 500 kg of rice to every school, so that the timed batches do not all raise
    low-stock alerts (a twin that has just started from nothing would)."""
    n = len(directory)
    b = EventBatch.empty(n)
    b.seq[:] = np.arange(1, n + 1)
    b.kind[:] = EventKind.STOCK_DELIVERED
    b.school[:] = np.arange(n)
    b.block[:], b.district[:] = directory.school_block, directory.school_district
    b.day[:] = b.day_end[:] = day
    b.values[:, 0] = 500.0
    return b


def _day_batch(directory: Directory, first_seq: int, day: int, rng: np.random.Generator) -> EventBatch:
    b = EventBatch.empty(BATCH)
    b.seq[:] = np.arange(first_seq, first_seq + BATCH)
    school = rng.choice(len(directory), BATCH, replace=False).astype(np.int32)
    kind = rng.choice([EventKind.ATTENDANCE_REPORTED, EventKind.STOCK_DELIVERED, EventKind.SHORTAGE_REPORTED,
                       EventKind.SCHOOL_CLOSED], BATCH, p=[0.9, 0.08, 0.01, 0.01]).astype(np.int8)
    b.kind[:], b.school[:] = kind, school
    b.block[:], b.district[:] = directory.school_block[school], directory.school_district[school]
    b.day[:] = b.day_end[:] = day
    present = rng.integers(20, 150, BATCH)
    att = kind == EventKind.ATTENDANCE_REPORTED
    b.values[att, 0], b.values[att, 1] = present[att], present[att] * 0.9 // 1
    b.values[kind == EventKind.STOCK_DELIVERED, 0] = 200.0
    b.values[kind == EventKind.SHORTAGE_REPORTED, 0] = 1
    b.values[kind == EventKind.SCHOOL_CLOSED, 0] = 1
    return b


async def run(schools: int = 43_000, runs: int = 7, redis_url: str | None = None, seed: int = 0) -> dict:
    directory, enrolment = _directory(schools, seed)
    districts = list(range(len(directory.district_names())))
    rng = np.random.default_rng(seed)
    day0 = day_number(dt.date(2025, 7, 1))
    brokers = {"memory": MemoryBroker(10_000)}
    if redis_url:
        from adapters.redis_broker import RedisBroker, delete_keys

        prefix = f"mealtwin_bench:{time.time_ns()}:"
        brokers["redis"] = RedisBroker(redis_url, 10_000, prefix=prefix)

    opening = _opening_stock(directory, day0)
    base = len(opening)  # the timed batches' seqs follow the opening stock's
    plain = DistrictShard(districts, directory, enrolment, _LogNotRead(), None, 10**9, 10**9)
    await plain.apply(opening, 0, base)
    fold_plain = []
    for k in range(runs):
        batch = _day_batch(directory, base + k * BATCH + 1, day0 + k, rng)
        started = time.perf_counter()
        await plain.apply(batch, base + k * BATCH, base + (k + 1) * BATCH)
        fold_plain.append(time.perf_counter() - started)

    result: dict = {"schools": schools, "batch_events": BATCH, "runs": runs,
                    "fold_ms_without_publisher": _ms(fold_plain), **_snapshot_round(plain, runs)}
    for name, broker in brokers.items():
        publisher = ShardPublisher(broker, directory)
        locked: list[float] = []

        def timed(*args, publisher=publisher, locked=locked) -> None:  # noqa: ANN002
            started = time.perf_counter()
            publisher.on_applied(*args)
            locked.append(time.perf_counter() - started)

        shard = DistrictShard(districts, directory, enrolment, _LogNotRead(), None, 10**9, 10**9, on_applied=timed)
        await shard.apply(opening, 0, base)
        await publisher.flush()
        locked.clear()
        fold, build, publish = [], [], []
        for k in range(runs):
            batch = _day_batch(directory, base + k * BATCH + 1, day0 + k, rng)
            started = time.perf_counter()
            await shard.apply(batch, base + k * BATCH, base + (k + 1) * BATCH)
            fold.append(time.perf_counter() - started)
            await publisher.flush()
            build.append(publisher.last_build_s)
            publish.append(publisher.last_publish_s)
        result[name] = {"fold_ms_with_publisher": _ms(fold), "under_fold_lock_ms": _ms(locked),
                        "build_messages_ms": _ms(build), "publish_ms": _ms(publish),
                        "messages_per_batch": publisher.last_messages}
        await broker.close()
    if redis_url:
        await delete_keys(redis_url, prefix)
    return result


def _snapshot_round(shard: DistrictShard, runs: int) -> dict:
    """A snapshot of every district the shard hosts, as `DistrictShard` takes one: the copy (under
    the fold lock) and the encoding (in the background), medians of `runs` rounds."""
    copy, encode = [], []
    for _ in range(runs):
        started = time.perf_counter()
        parts = shard.state.district_parts(shard.applied_seq)
        copied = time.perf_counter()
        encoded = [snapshot.dumps(part) for part in parts]
        copy.append(copied - started)
        encode.append(time.perf_counter() - copied)
    return {"snapshot_copy_ms": _ms(copy), "snapshot_encode_ms": _ms(encode),
            "snapshot_columns_mib": round(sum(a.nbytes for part in parts for a in part.values()) / 2**20, 1),
            "snapshot_mib": round(sum(map(len, encoded)) / 2**20, 2)}


def _ms(seconds: list[float]) -> float:
    return round(statistics.median(seconds) * 1000, 2)
