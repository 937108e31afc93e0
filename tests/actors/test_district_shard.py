"""A shard folds durable batches exactly once, whatever the delivery, and recovers from snapshot
and log to the same state."""

import asyncio

import numpy as np
import orjson

from actors.district_shard import DistrictShard
from startup.actor_ports import open_shard_ports
from tests.fixtures.events import random_events
from twin.encoding import encode
from twin.events import event_adapter
from twin.ports import LogRow


async def _append(ports, items):
    """Make events durable and return (batch, after_seq, upto_seq) as the ingest path would."""
    events = [event_adapter.validate_python(x) for x in items]
    batch, errors = encode(events, ports.directory)
    assert not any(errors)
    rows = [LogRow(e.event_id, e.type, int(batch.district[j]), getattr(e, "school_id", None), e.date,
                   orjson.dumps(items[j]).decode()) for j, e in enumerate(events)]
    result = await ports.event_log.append(rows)
    batch.seq[:] = result.seqs
    return batch, result.after_seq, result.upto_seq


def _shard(ports, **kw):
    return DistrictShard([0, 1, 2], ports.directory, ports.enrolment, ports.event_log, ports.snapshots, **kw)


def assert_same(a: DistrictShard, b: DistrictShard) -> None:
    for name in a.state.__dataclass_fields__:
        np.testing.assert_allclose(getattr(a.state, name), getattr(b.state, name), err_msg=name, atol=1e-6)


async def _two_batches_folded_in_order(ports):
    """Two appended batches, and a shard that folded them in log order (the reference)."""
    first = await _append(ports, random_events(ports.directory, 300, seed=1))
    second = await _append(ports, random_events(ports.directory, 300, seed=2))
    in_order = _shard(ports)
    await in_order.apply(*first)
    await in_order.apply(*second)
    return first, second, in_order


async def test_late_and_repeated_delivery_folds_each_event_once(seeded_url):
    ports = await open_shard_ports(seeded_url)
    first, second, in_order = await _two_batches_folded_in_order(ports)

    shuffled = _shard(ports, gap_wait_s=0.01)
    await shuffled.apply(*second)  # arrives first, and the first never comes: the gap is read from the log
    skipped = await shuffled.apply(*first)  # arrives late: already folded
    again = await shuffled.apply(*second)  # arrives twice
    assert not skipped.any() and not again.any()
    assert shuffled.applied_seq == in_order.applied_seq == second[2]
    assert_same(in_order, shuffled)
    await ports.close()


async def test_a_batch_overtaken_in_flight_is_awaited_not_read_from_the_log(seeded_url):
    ports = await open_shard_ports(seeded_url)
    first, second, in_order = await _two_batches_folded_in_order(ports)

    class CountingLog:
        reads = 0

        def __getattr__(self, name):
            return getattr(ports.event_log, name)

        async def read(self, *args, **kw):
            CountingLog.reads += 1
            return await ports.event_log.read(*args, **kw)

    overtaken = DistrictShard([0, 1, 2], ports.directory, ports.enrolment, CountingLog(), ports.snapshots)
    late = asyncio.create_task(overtaken.apply(*second))
    await asyncio.sleep(0.05)
    early = await overtaken.apply(*first)
    assert (await late).any() and early.any()  # both folded their own events
    assert CountingLog.reads == 0
    assert_same(in_order, overtaken)
    await ports.close()


async def test_recovery_from_snapshot_and_log_rebuilds_the_same_state(seeded_url):
    ports = await open_shard_ports(seeded_url)
    live = _shard(ports, snapshot_every_events=10**9)
    for seed in range(3):
        await live.apply(*await _append(ports, random_events(ports.directory, 200, seed=seed)))
    await live.snapshot_now()
    for seed in range(3, 5):
        await live.apply(*await _append(ports, random_events(ports.directory, 200, seed=seed)))

    restarted = _shard(ports)
    replayed = await restarted.recover()
    assert replayed == 400  # only the events after the snapshot
    assert restarted.applied_seq == live.applied_seq
    assert_same(live, restarted)

    from_log_only = DistrictShard([0, 1, 2], ports.directory, ports.enrolment, ports.event_log,
                                  _NoSnapshots())
    assert await from_log_only.recover() == 1000
    assert_same(live, from_log_only)
    await ports.close()


async def test_snapshots_are_per_district_so_a_new_placement_recovers_too(seeded_url):
    ports = await open_shard_ports(seeded_url)
    live = _shard(ports, snapshot_every_events=250)  # snapshots taken on the way
    for seed in range(4):
        await live.apply(*await _append(ports, random_events(ports.directory, 200, seed=seed)))
    alone = DistrictShard([1], ports.directory, ports.enrolment, ports.event_log, ports.snapshots)
    await alone.recover()
    assert alone.district(1) == live.district(1)
    some_school = int(np.flatnonzero(ports.directory.school_district == 1)[0])
    assert alone.school(some_school) == live.school(some_school)
    await live.close()
    await ports.close()


class _NoSnapshots:
    async def latest(self, district):
        return None

    async def save_all(self, seq, parts):
        raise AssertionError("not expected")


async def test_a_block_or_district_view_reads_its_own_schools_to_the_same_figures_as_the_whole_roll_up(seeded_url):
    # one view computes from its own schools only; the roll-up of the whole shard is the reference
    from twin.views import block_rollup, block_view, district_rollup

    ports = await open_shard_ports(seeded_url)
    *_, shard = await _two_batches_folded_in_order(ports)
    blocks = block_rollup(shard.state)
    districts = district_rollup(shard.state, blocks)
    assert blocks[:, 0].sum() > 0  # schools counted
    for b, global_block in enumerate(shard.state.block_global):
        view = shard.block(int(global_block))
        assert {**view, "as_of_seq": None} == {**block_view(shard.state, b, ports.directory.blocks.names, blocks[b]),
                                                "as_of_seq": None}
    rows = shard.district_rows()
    assert np.array_equal(rows["rows"], districts)
    for d, district in enumerate(shard.districts):
        assert {**shard.district(int(district)), "as_of_seq": None} == {**rows["views"][d], "as_of_seq": None}


async def test_events_folded_by_a_catch_up_are_told_as_a_delivered_batchs_are(seeded_url):
    """A batch lost on its way (never delivered) is read from the log by the next batch's catch-up,
    or by `sync`: what it changed is told to `on_applied` all the same, so its deltas and alerts
    reach the streams."""
    ports = await open_shard_ports(seeded_url)
    told: list[tuple[np.ndarray, int]] = []
    shard = _shard(ports, gap_wait_s=0.01,
                   on_applied=lambda state, batch, outcome, seq: told.append((batch.seq[outcome != 0].copy(), seq)))
    await shard.recover()
    lost = await _append(ports, random_events(ports.directory, 200, seed=5))
    second = await _append(ports, random_events(ports.directory, 200, seed=6))
    await shard.apply(*second)  # the lost batch is folded first, from the log
    folded = np.concatenate([seqs for seqs, _ in told])
    assert set(lost[0].seq[lost[0].district >= 0].tolist()) <= set(folded.tolist())
    assert set(second[0].seq.tolist()) & set(folded.tolist())  # and the delivered one, as ever
    assert [seq for _, seq in told] == sorted(seq for _, seq in told)  # in log order

    told.clear()
    third = await _append(ports, random_events(ports.directory, 200, seed=7))  # never delivered either
    assert await shard.sync() == third[2]
    assert told and told[-1][1] == third[2]
    await ports.close()


class _SlowSnapshots:
    """Snapshots stored only once `release` is set: a store slower than the events arrive."""

    def __init__(self, inner):
        self.inner, self.release, self.saved = inner, asyncio.Event(), []

    async def latest(self, district):
        return await self.inner.latest(district)

    async def save_all(self, seq, parts):
        await self.release.wait()
        self.saved.append(seq)
        await self.inner.save_all(seq, parts)


async def test_a_snapshot_waits_for_the_one_being_stored_instead_of_queueing_another_copy(seeded_url):
    ports = await open_shard_ports(seeded_url)
    slow = _SlowSnapshots(ports.snapshots)
    live = DistrictShard([0, 1, 2], ports.directory, ports.enrolment, ports.event_log, slow, snapshot_every_events=100)
    await live.recover()
    first = live._snapshot_task
    for seed in range(5):  # each batch alone is over every_events: five snapshots due, one copy taken
        await live.apply(*await _append(ports, random_events(ports.directory, 150, seed=seed)))
    assert live._snapshot_task is not None and live._snapshot_task is not first
    in_flight = live._snapshot_task
    assert not in_flight.done()
    slow.release.set()
    await asyncio.gather(in_flight)
    assert len(slow.saved) == 1  # the one copy, every district of it in one store
    await live.apply(*await _append(ports, random_events(ports.directory, 150, seed=9)))
    assert live._snapshot_task is not in_flight  # the next is taken once the store is free
    await live.close()
    await ports.close()
    # and what was stored recovers: a fresh shard from it and the log equals the live one
    ports = await open_shard_ports(seeded_url)
    again = DistrictShard([0, 1, 2], ports.directory, ports.enrolment, ports.event_log, ports.snapshots)
    await again.recover()
    np.testing.assert_allclose(again.district_rows()["rows"], live.district_rows()["rows"])
    await ports.close()


def test_a_large_shard_snapshots_after_as_many_events_as_it_has_schools():
    from types import SimpleNamespace

    shard = DistrictShard.__new__(DistrictShard)
    shard._snapshot_task, shard._every_events, shard._every_seconds = None, 50_000, 3600.0
    shard._deltas = None  # whole snapshots only
    shard._last_snapshot = __import__("time").monotonic()
    shard.state = SimpleNamespace(n_schools=1_080_000)
    shard._since_snapshot = 60_000
    assert not shard._snapshot_due()  # Tamil Nadu's every_events, but 1.08 M schools to copy
    shard._since_snapshot = 1_080_000
    assert shard._snapshot_due()
    shard.state = SimpleNamespace(n_schools=43_000)
    shard._since_snapshot = 50_000
    assert shard._snapshot_due()  # Tamil Nadu: every_events as before
    shard.state, shard._deltas = SimpleNamespace(n_schools=1_080_000), object()
    assert shard._snapshot_due()  # with a delta store, every_events at India scale too


async def test_a_shard_larger_than_every_events_snapshots_once_the_feed_pauses(seeded_url):
    """More schools than `every_events`: not due by count until as many events as schools, but a
    pause of `quiet_snapshot_s` after `every_events` or more takes the snapshot (each batch puts it
    off), so a recovery after the pause replays nothing."""
    ports = await open_shard_ports(seeded_url)
    live = DistrictShard([0, 1, 2], ports.directory, ports.enrolment, ports.event_log, ports.snapshots,
                         snapshot_every_events=10, snapshot_every_seconds=3600.0, quiet_snapshot_s=0.3)
    await live.recover()
    assert live.state.n_schools > 15
    for seed in range(3):  # 3 x 5 events: 15, over every_events, under the shard's schools
        await live.apply(*await _append(ports, random_events(ports.directory, 5, seed=seed)))
        await asyncio.sleep(0.1)  # less than the pause: put off again
    assert live._snapshot_task is None and live._since_snapshot == 15
    await asyncio.sleep(0.6)
    assert live._since_snapshot == 0 and live._snapshot_task is not None
    await live._snapshot_task
    again = DistrictShard([0, 1, 2], ports.directory, ports.enrolment, ports.event_log, ports.snapshots)
    assert await again.recover() == 0  # from the quiet snapshot: nothing to replay
    np.testing.assert_allclose(again.district_rows()["rows"], live.district_rows()["rows"])
    await live.apply(*await _append(ports, random_events(ports.directory, 5, seed=7)))
    await live.close()  # under every_events: nothing armed; and close leaves no timer behind
    assert live._quiet is None
    await ports.close()


def _assert_same_columns(a: DistrictShard, b: DistrictShard) -> None:
    """As `assert_same`, but a district's applied seq may be a snapshot's (at or after its last event)."""
    for name in a.state.__dataclass_fields__:
        if name != "district_applied_seq":
            np.testing.assert_allclose(getattr(a.state, name), getattr(b.state, name), err_msg=name, atol=1e-6)


async def _fold_snapshotting(shard: DistrictShard, ports, seeds) -> None:
    for seed in seeds:
        await shard.apply(*await _append(ports, random_events(ports.directory, 6, seed=seed)))
        if shard._snapshot_task is not None:
            await shard._snapshot_task  # stored before the next batch: each one due is taken


def _delta_shard(ports, deltas, **kw) -> DistrictShard:
    return _shard(ports, snapshot_every_events=5, snapshot_every_seconds=3600.0, quiet_snapshot_s=3600.0,
                  snapshot_deltas=deltas, **kw)


async def test_a_shard_larger_than_every_events_recovers_from_a_snapshot_and_its_deltas(seeded_url):
    """More schools than `every_events`: a whole snapshot, then every `every_events` events a delta
    of the rows changed; a new shard restores both and replays only what came after the last delta,
    to the same state as the live shard and as a fold of the whole log."""
    ports = await open_shard_ports(seeded_url)
    live = _delta_shard(ports, ports.snapshot_deltas)
    await live.recover()
    assert live.state.n_schools > 5 * 4  # several deltas fit before their rows add up to a whole copy
    await _fold_snapshotting(live, ports, range(5))
    base = live._base_seq
    assert base is not None and live.applied_seq > base
    chain = await ports.snapshot_deltas.deltas(0, base)
    assert len(chain) >= 2 and chain[-1][0] == live.applied_seq
    assert (await ports.snapshots.latest(0))[0] == base  # the deltas, not whole copies
    await live.apply(*await _append(ports, random_events(ports.directory, 3, seed=50)))  # not snapshotted

    restarted = _delta_shard(ports, ports.snapshot_deltas)
    assert await restarted.recover() == 3
    assert restarted.applied_seq == live.applied_seq
    _assert_same_columns(live, restarted)
    from_log_only = DistrictShard([0, 1, 2], ports.directory, ports.enrolment, ports.event_log, _NoSnapshots())
    await from_log_only.recover()
    _assert_same_columns(live, from_log_only)
    await live.close()
    await restarted.close()
    await ports.close()


class _FailingDeltas:
    """A delta store that fails while `failing` is set."""

    def __init__(self, inner):
        self.inner, self.failing = inner, False

    async def save_deltas(self, base_seq, seq, parts):
        if self.failing:
            raise OSError("the database went away")
        await self.inner.save_deltas(base_seq, seq, parts)

    async def deltas(self, district, base_seq):
        return await self.inner.deltas(district, base_seq)


async def test_after_a_delta_fails_to_store_the_next_snapshot_is_whole_and_recovery_stays_exact(seeded_url):
    ports = await open_shard_ports(seeded_url)
    flaky = _FailingDeltas(ports.snapshot_deltas)
    live = _delta_shard(ports, flaky)
    await live.recover()
    await _fold_snapshotting(live, ports, range(3))
    first_base = live._base_seq
    flaky.failing = True
    await _fold_snapshotting(live, ports, range(3, 4))  # this delta is lost: its chain would have a hole
    assert live._base_seq is None
    flaky.failing = False
    await _fold_snapshotting(live, ports, range(4, 6))
    assert live._base_seq is not None and live._base_seq > first_base  # a whole snapshot started a new chain
    assert (await ports.snapshots.latest(0))[0] == live._base_seq

    restarted = _delta_shard(ports, ports.snapshot_deltas)
    assert await restarted.recover() == 0
    _assert_same_columns(live, restarted)
    await live.close()
    await ports.close()


async def test_tamil_nadu_sized_shards_snapshot_whole_with_a_delta_store_too(seeded_url):
    ports = await open_shard_ports(seeded_url)
    live = _shard(ports, snapshot_every_events=1_000, snapshot_deltas=ports.snapshot_deltas)
    await live.recover()
    assert live.state.n_schools < 1_000
    for seed in range(2):
        await live.apply(*await _append(ports, random_events(ports.directory, 600, seed=seed)))
    await live._snapshot_task
    seq = (await ports.snapshots.latest(0))[0]
    assert seq > 0 and await ports.snapshot_deltas.deltas(0, seq) == []
    await live.close()
    await ports.close()


async def test_a_chain_of_deltas_runs_to_one_copys_rows_then_a_whole_copy_starts_the_next(seeded_url):
    ports = await open_shard_ports(seeded_url)
    live = _delta_shard(ports, ports.snapshot_deltas)
    await live.recover()
    await _fold_snapshotting(live, ports, range(2))
    base, n = live._base_seq, live.state.n_schools
    live._rows_since_base = n // 2  # half a copy's rows in the chain already
    await _fold_snapshotting(live, ports, range(2, 3))
    assert live._base_seq == base  # still a delta
    live._rows_since_base = n  # a whole copy's rows: a recovery would decompress two copies
    await _fold_snapshotting(live, ports, range(4, 5))
    assert live._base_seq == live.applied_seq != base  # the next chain starts from a whole copy
    again = _delta_shard(ports, ports.snapshot_deltas)
    assert await again.recover() == 0
    _assert_same_columns(live, again)
    await live.close()
    await ports.close()
