"""The embedded broker's journal: a broker started again on its directory comes back with the
history it kept and numbers on from it; one whose journal was cut short starts empty, above."""

import asyncio
import os

import pytest

from actors import broker as broker_module
from actors.broker import MemoryBroker


async def _publish(broker, topic, n, start=0):
    return await broker.publish_many([(topic, {"n": k}) for k in range(start, start + n)])


async def test_a_broker_started_again_on_its_journal_keeps_its_history_and_numbering(tmp_path):
    first = MemoryBroker(5, 300.0, journal_dir=str(tmp_path))
    seqs = await _publish(first, "a", 8) + await _publish(first, "b", 2)
    assert await first.read({"a": seqs[0]}, 0)  # a read decodes kept messages: the journal keeps their JSON
    # no close: as a killed process, whose writes the operating system already has

    again = MemoryBroker(5, 300.0, journal_dir=str(tmp_path))
    assert await again.restored_messages() == 7  # the ring keeps the latest 5 of "a", and "b"'s 2
    assert await again.bounds("a") == (seqs[3], seqs[7])
    assert [p["n"] for _, _, p in await again.read({"a": seqs[5]}, 0)] == [6, 7]
    assert await again.publish("a", {"n": 8}) == seqs[7] + 1  # numbered on: followers see no jump
    assert await again.bounds("b") == (seqs[8], seqs[9])


async def test_a_rewritten_journal_holds_what_is_kept_and_what_came_after(tmp_path, monkeypatch):
    monkeypatch.setattr(broker_module, "REWRITE_AFTER_BYTES", 200)  # a rewrite every few messages
    broker = MemoryBroker(50, 300.0, journal_dir=str(tmp_path))
    seqs = []
    for k in range(40):
        seqs += await broker.publish("t", {"n": k, "pad": "x" * 40}),
    await broker.close()  # lets the last rewrite finish
    assert len(os.listdir(tmp_path)) <= 4  # the snapshot and the segments after it, not one per rewrite

    again = MemoryBroker(50, 300.0, journal_dir=str(tmp_path))
    assert await again.bounds("t") == (seqs[0], seqs[-1])
    assert [p["n"] for _, _, p in await again.read({"t": seqs[0] - 1}, 0)] == list(range(40))


async def test_history_older_than_the_brokers_limit_is_not_brought_back(tmp_path):
    wall = [1_000.0]
    first = MemoryBroker(100, 60.0, journal_dir=str(tmp_path), wall_clock=lambda: wall[0])
    old = await _publish(first, "t", 3)
    wall[0] += 50
    new = await _publish(first, "t", 1, start=3)
    wall[0] += 30  # the first three are 80 s old now, past the 60 s kept
    again = MemoryBroker(100, 60.0, journal_dir=str(tmp_path), wall_clock=lambda: wall[0])
    assert await again.bounds("t") == (new[0], new[0])
    assert old[-1] + 1 == new[0]


@pytest.mark.parametrize("cut", [1, 7])
async def test_a_journal_cut_mid_record_starts_the_broker_empty_and_numbering_above(tmp_path, cut):
    first = MemoryBroker(100, 300.0, journal_dir=str(tmp_path))
    seqs = await _publish(first, "t", 3)
    segment = next(tmp_path.glob("broker.*.journal"))
    segment.write_bytes(segment.read_bytes()[:-cut])  # the machine stopped mid-write
    await asyncio.sleep(0.01)  # a restart takes longer than the millisecond `first_seq_now` numbers by

    again = MemoryBroker(100, 300.0, journal_dir=str(tmp_path))
    assert await again.bounds("t") == (1, 0)  # nothing kept: a follower is told the messages were lost
    later = await again.publish("t", {"n": 3})
    assert later > seqs[-1] + 1  # above everything given out before, not reusing seqs
    third = MemoryBroker(100, 300.0, journal_dir=str(tmp_path))  # the cut files are gone with the restart
    assert await third.bounds("t") == (later, later)


async def test_a_folder_it_cannot_write_leaves_a_broker_without_a_journal(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("")
    broker = MemoryBroker(10, 300.0, journal_dir=str(blocked / "broker"))
    seq = await broker.publish("t", {"n": 1})
    assert await broker.bounds("t") == (seq, seq)


async def test_a_journal_that_cannot_be_written_is_removed_not_left_behind(tmp_path):
    broker = MemoryBroker(100, 300.0, journal_dir=str(tmp_path))
    await broker.publish("t", {"n": 0})

    def full(records):
        raise OSError(28, "No space left on device")

    broker._journal.append = full  # the disk filled up
    later = await broker.publish("t", {"n": 1})  # still published, in memory
    assert await broker.bounds("t") == (later - 1, later)
    assert list(tmp_path.iterdir()) == []  # a restart then starts empty, never reusing seqs
