"""Snapshot deltas in the database: a chain per district and snapshot, read in seq order; writing
one drops the chains of older snapshots and any delta a given-up chain left at or after it."""

from db.engine import create_engine
from db.snapshot_deltas import SqlSnapshotDeltas


async def test_a_chain_is_read_in_seq_order_for_its_snapshot_only(database_url):
    engine = create_engine(database_url)
    store = SqlSnapshotDeltas(engine)
    await store.save_deltas(100, 120, [(3, b"d3@120"), (4, b"d4@120")])
    await store.save_deltas(100, 150, [(3, b"d3@150"), (4, b"d4@150")])
    await store.save_deltas(100, 130, [(5, b"d5@130")])
    assert await store.deltas(3, 100) == [(120, b"d3@120"), (150, b"d3@150")]
    assert await store.deltas(5, 100) == [(130, b"d5@130")]
    assert await store.deltas(3, 90) == []  # another snapshot's chain: none

    await store.save_deltas(200, 220, [(3, b"d3@220")])  # a chain from a newer snapshot of district 3
    assert await store.deltas(3, 100) == []  # the older chain is dropped
    assert await store.deltas(3, 200) == [(220, b"d3@220")]
    assert await store.deltas(4, 100) == [(120, b"d4@120"), (150, b"d4@150")]  # other districts keep theirs
    await engine.dispose()


async def test_a_delta_replaces_what_a_given_up_chain_left_at_or_after_it(database_url):
    engine = create_engine(database_url)
    store = SqlSnapshotDeltas(engine)
    await store.save_deltas(100, 120, [(3, b"old@120")])
    await store.save_deltas(100, 140, [(3, b"old@140")])
    await store.save_deltas(100, 120, [(3, b"new@120")])  # the same snapshot's chain taken again from 120
    assert await store.deltas(3, 100) == [(120, b"new@120")]
    await store.save_deltas(100, 130, [])  # nothing to store: nothing changes
    assert await store.deltas(3, 100) == [(120, b"new@120")]
    await engine.dispose()
