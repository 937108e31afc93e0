"""What reading the past needs from the database: a bounded history of snapshots per district,
and the log position of a moment."""

import asyncio
import datetime as dt

from sqlalchemy import select

from db.engine import create_engine
from db.event_log import SqlEventLog
from db.snapshot_store import KEEP, KEEP_DAILY_DAYS, SqlSnapshotStore
from db.tables import snapshots
from twin.ports import LogRow

T0 = dt.datetime(2026, 1, 1, 6, tzinfo=dt.UTC)


async def test_snapshots_keep_the_latest_few_and_the_newest_of_each_recent_day(database_url):
    engine = create_engine(database_url)
    clock = {"now": T0}
    store = SqlSnapshotStore(engine, clock=lambda: clock["now"])
    per_day, days = 4, KEEP_DAILY_DAYS + 9
    seq = 0
    for day in range(days):
        for k in range(per_day):
            seq += 10
            clock["now"] = T0 + dt.timedelta(days=day, hours=3 * k)
            await store.save_all(seq, [(7, f"d7@{seq}".encode())])
    await store.save_all(5, [(8, b"other district")])
    async with engine.connect() as conn:
        kept = sorted(s for (s,) in (await conn.execute(select(snapshots.c.seq).where(snapshots.c.district == 7))).all())
    last_of_day = [(day + 1) * per_day * 10 for day in range(days)]
    expected = set(last_of_day[-KEEP_DAILY_DAYS:]) | {seq - 10 * j for j in range(KEEP)}
    assert kept == sorted(expected)
    assert await store.latest(7) == (seq, f"d7@{seq}".encode())
    assert (await store.at_or_before(7, 2_000))[0] == max(s for s in expected if s <= 2_000)
    assert await store.at_or_before(7, last_of_day[-KEEP_DAILY_DAYS] - 1) is None  # older ones are pruned
    assert await store.at_or_before(8, 4) is None and (await store.at_or_before(8, 5))[1] == b"other district"
    await engine.dispose()


async def test_the_log_position_of_a_moment_is_the_last_event_received_by_then(database_url):
    engine = create_engine(database_url)
    log = SqlEventLog(engine)
    assert await log.last_seq_received_by(dt.datetime.now(dt.UTC)) == 0
    moments = [dt.datetime.now(dt.UTC)]
    upto = []
    for batch in range(5):
        rows = [LogRow(f"e{batch}-{k}", "inspection_done", 0, "33010100100", dt.date(2025, 7, 1), "{}")
                for k in range(batch + 2)]
        upto.append((await log.append(rows)).upto_seq)
        await asyncio.sleep(0.02)
        moments.append(dt.datetime.now(dt.UTC))
        await asyncio.sleep(0.02)
    assert [await log.last_seq_received_by(m) for m in moments] == [0, *upto]
    ist = dt.timezone(dt.timedelta(hours=5, minutes=30))
    assert await log.last_seq_received_by(moments[3].astimezone(ist)) == upto[2]  # any zone names the same moment
    await engine.dispose()
