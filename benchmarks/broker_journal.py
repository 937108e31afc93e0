"""What journaling costs the embedded broker: `MemoryBroker.publish_many` of one batch's school
deltas (a message per district, each the JSON columns of `schools` schools) without and with a
journal (`actors.broker_journal`), median of `calls` calls, in alternating rounds; and the time a
broker started on the journal takes to take that history back. Run with
`python -m benchmarks.broker_journal [--json]`."""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time

from actors.broker import MemoryBroker


async def _median_ms(journal: bool, messages: list, calls: int, restores: list[float]) -> float:
    """The median publish; with a journal, also how long a broker started on it takes (to `restores`)."""
    with tempfile.TemporaryDirectory(prefix="mealtwin-bench-journal-") as folder:
        broker = MemoryBroker(10_000, 300.0, journal_dir=os.path.join(folder, "broker") if journal else None)
        times = []
        for _ in range(calls):
            started = time.perf_counter()
            await broker.publish_many(messages)
            times.append(time.perf_counter() - started)
        await broker.close()
        if journal:
            started = time.perf_counter()
            MemoryBroker(10_000, 300.0, journal_dir=os.path.join(folder, "broker"))
            restores.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


async def run(districts: int = 38, schools: int = 1_500, calls: int = 400, rounds: int = 3) -> dict:
    delta = b'{"seq":1,"school_ids":[' + b",".join(b'"33020600100"' for _ in range(schools)) + b"]}"
    messages = [(f"schools:{d}", delta) for d in range(districts)]
    without, with_journal, restores = [], [], []
    for _ in range(rounds):
        without.append(await _median_ms(False, messages, calls, restores))
        with_journal.append(await _median_ms(True, messages, calls, restores))
    return {"messages_per_call": districts, "bytes_per_call": districts * len(delta), "calls": calls,
            "publish_ms_without_journal": round(statistics.median(without), 3),
            "publish_ms_with_journal": round(statistics.median(with_journal), 3),
            "restore_s": round(statistics.median(restores), 3),  # the history of `calls` calls, from disk
            "history_mib": round(calls * districts * len(delta) / 2**20, 1)}


if __name__ == "__main__":
    result = asyncio.run(run())
    print(json.dumps(result) if "--json" in sys.argv else "\n".join(f"{k}: {v}" for k, v in result.items()))
