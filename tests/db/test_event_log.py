"""The event log on SQLite and PostgreSQL: numbering, duplicates, ordering under concurrency."""

import asyncio
import datetime as dt

from db.engine import create_engine
from db.event_log import SqlEventLog
from twin.ports import LogRow


def rows(ids, district=0):
    return [LogRow(i, "inspection_done", district, "33010100100", dt.date(2025, 7, 1), '{"x": 1}') for i in ids]


async def test_append_numbers_rows_after_the_last_seq(database_url):
    engine = create_engine(database_url)
    log = SqlEventLog(engine)
    first = await log.append(rows(["a", "b", "c"]))
    assert (first.after_seq, first.upto_seq, first.seqs) == (0, 3, [1, 2, 3])
    second = await log.append(rows(["d", "e"], district=5))
    assert (second.after_seq, second.upto_seq, second.seqs) == (3, 5, [4, 5])
    assert [s for s, _ in await log.read(0, [0])] == [1, 2, 3]
    assert [s for s, _ in await log.read(1, [0, 5], upto_seq=4)] == [2, 3, 4]
    await engine.dispose()


async def test_repeated_ids_are_written_once(database_url):
    engine = create_engine(database_url)
    log = SqlEventLog(engine)
    await log.append(rows(["a", "b"]))
    again = await log.append(rows(["b", "c", "c", "a"]))
    assert again.seqs == [0, 3, 0, 0]
    assert await log.count() == 3
    nothing = await log.append(rows(["a"]))
    assert nothing.seqs == [0] and nothing.upto_seq == nothing.after_seq
    # a logged id after new ones: only the new ones are written, numbered without a gap
    late = await log.append(rows(["n1", "n2", "a"]))
    assert late.seqs == [4, 5, 0] and await log.count() == 5
    assert [s for s, _ in await log.read(0, [0])] == [1, 2, 3, 4, 5]
    await engine.dispose()


async def test_concurrent_appends_commit_in_seq_order(database_url):
    engine = create_engine(database_url)
    log = SqlEventLog(engine)
    results = await asyncio.gather(*(log.append(rows([f"{k}-{i}" for i in range(50)])) for k in range(8)))
    spans = sorted((r.after_seq, r.seqs[0], r.upto_seq) for r in results)
    # each append starts right after the previous one ends: no seq is shared or skipped
    previous_end = 0
    for after, first, last in spans:
        assert after == previous_end and first == after + 1 and last == after + 50
        previous_end = last
    await engine.dispose()


async def test_concurrent_appends_of_one_id_write_it_once_and_one_failure_fails_no_other(database_url):
    engine = create_engine(database_url)
    log = SqlEventLog(engine)
    first, second = await asyncio.gather(log.append(rows(["x", "y"])), log.append(rows(["y", "z"])))
    assert first.seqs == [1, 2] and second.seqs == [0, 3] and await log.count() == 3

    too_long = LogRow("w" * 65, "inspection_done", 0, "33010100100", dt.date(2025, 7, 1), "{}")  # id column: 64
    good, bad = await asyncio.gather(log.append(rows(["p"])), log.append([too_long]), return_exceptions=True)
    assert good.seqs == [4]
    if not database_url.startswith("sqlite"):  # SQLite does not enforce VARCHAR lengths
        assert isinstance(bad, Exception) and await log.count() == 4
    assert (await log.append(rows(["q"]))).seqs[0] > 4  # the log still works after a failed group
    await engine.dispose()


async def test_small_appends_are_not_grouped_behind_a_large_batch(database_url):
    """A school's single report waiting beside a feed's large batch commits in a group of its
    own, first; everything is still numbered without gaps in commit order."""
    engine = create_engine(database_url)
    log = SqlEventLog(engine)
    groups: list[list[int]] = []
    real = log._append_group

    async def recording(batches):  # noqa: ANN001, ANN202
        groups.append([len(b) for b in batches])
        return await real(batches)

    log._append_group = recording
    try:
        first = asyncio.ensure_future(log.append(rows(["first"])))  # starts the writer alone
        await asyncio.sleep(0)
        large = asyncio.ensure_future(log.append(rows([f"big-{i}" for i in range(2_000)])))
        small = [asyncio.ensure_future(log.append(rows([f"small-{i}"]))) for i in range(3)]
        results = await asyncio.gather(first, large, *small)
    finally:
        await engine.dispose()
    assert groups == [[1], [1, 1, 1], [2_000]]
    assert results[2].seqs[0] < results[1].seqs[0]  # the small ones committed first
    seqs = sorted(seq for r in results for seq in r.seqs)
    assert seqs == list(range(1, 2_005))
