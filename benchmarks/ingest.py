"""`mealtwin bench ingest`: a full Tamil Nadu school day through the real path (HTTP batch in,
validated, durable in the log, folded by the shard actors), with the database's own insert rate
measured in the same run as the floor, then a shard killed with SIGKILL and timed back: after the
day, or with `--kill-mid-day` once the shard has folded half of it while the feed goes on (what
it then replays is what it folded since its last snapshot, and what came while it was down). With
`--schools 1080000`, the same at India scale (a school day is then about a million events).

The schools are generated before the twin starts, so `startup_s` is a start from an existing
database (`generate_s` is the generation's own time)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import signal
import socket
import statistics
import sys
import time
from collections.abc import Callable

import httpx
import orjson
from sqlalchemy import MetaData, text

from benchmarks.credentials import bench_settings, bench_token
from benchmarks.process_costs import cpu_seconds, cpu_spent, memory_mib
from benchmarks.workdir import bench_workdir
from configs import Settings
from db.engine import create_engine, is_sqlite, writing
from db.event_log import write_rows
from db.tables import events as events_table

BATCH = 5_000
CONCURRENCY = 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _fresh_postgres(admin_url: str, name: str = "mealtwin_bench") -> str:
    import asyncpg

    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + f"/{name}"


def _school_day(settings: Settings, table) -> tuple[list[dict], list[dict]]:  # noqa: ANN001
    """The world's opening events (stock and funds), and at least one full school day after them
    (an event for every school: a day without school, a Sunday, does not count as one)."""
    from simulation.world import World

    world = World(table, seed=settings.feed.seed, start=dt.date.fromisoformat(settings.feed.start_date))
    opening = world.opening_events()
    day: list[dict] = []
    while len(day) < len(table):
        day.extend(world.step_day())
    return opening, day


async def _post_all(client: httpx.AsyncClient, events: list[dict]) -> tuple[dict, list[float], dict]:
    """POST `events` in batches, CONCURRENCY at a time, as a field gateway would: bodies are
    encoded before the clock starts. Returns the totals, each batch's latency and the server's
    median time per stage (from `Server-Timing`)."""
    bodies = [orjson.dumps({"events": events[k : k + BATCH]}) for k in range(0, len(events), BATCH)]
    totals = {"accepted": 0, "corrections": 0, "duplicates": 0, "rejected": 0}
    latencies: list[float] = []
    stages: dict[str, list[float]] = {}
    queue = list(reversed(bodies))

    async def worker() -> None:
        while queue:
            body = queue.pop()
            t = time.perf_counter()
            response = await client.post("/api/v1/events", params={"results": "problems"}, content=body,
                                         headers={"content-type": "application/json"})
            latencies.append(time.perf_counter() - t)
            data = response.json()["data"]
            for key in totals:
                totals[key] += data[key]
            for stage in response.headers.get("server-timing", "").split(","):
                name, _, duration = stage.strip().partition(";dur=")
                if duration:
                    stages.setdefault(name, []).append(float(duration))

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return totals, latencies, {k: round(statistics.median(v), 1) for k, v in stages.items()}


async def _db_floor(database_url: str, rows: list[tuple]) -> float:
    """Rows/s of the raw durable insert of the same rows, in the same batches, into a scratch copy
    of the events table (same columns and indexes), with the same bulk path the log uses, in write
    transactions as the log's (BEGIN IMMEDIATE on SQLite: a deferred one that has read fails at once
    if a shard's background snapshot committed meanwhile)."""
    engine = create_engine(database_url)
    scratch = events_table.to_metadata(MetaData(), name="events_floor")
    for item in (*scratch.indexes, *scratch.constraints):  # index names are database-wide
        if item.name:
            item.name = f"{item.name}_floor"
    sqlite = is_sqlite(engine)
    async with writing(engine) as conn:
        await conn.run_sync(scratch.drop, checkfirst=True)
        await conn.run_sync(scratch.create)
    started = time.perf_counter()
    for k in range(0, len(rows), BATCH):
        async with writing(engine) as conn:
            await write_rows(conn, "events_floor", rows[k : k + BATCH], sqlite=sqlite)
    elapsed = time.perf_counter() - started
    async with writing(engine) as conn:
        await conn.run_sync(scratch.drop)
    await engine.dispose()
    return len(rows) / elapsed


async def _snapshot_bytes(database_url: str) -> int:
    """Bytes of the latest snapshot of every district (what a recovery of the whole twin reads)."""
    engine = create_engine(database_url)
    async with engine.connect() as conn:
        total = await conn.scalar(text(
            "SELECT SUM(LENGTH(s.data)) FROM snapshots s JOIN (SELECT district, MAX(seq) AS seq FROM snapshots "
            "GROUP BY district) latest ON s.district = latest.district AND s.seq = latest.seq"))
    await engine.dispose()
    return int(total or 0)


async def _log_rows(database_url: str) -> list[tuple]:
    engine = create_engine(database_url)
    async with engine.connect() as conn:
        result = await conn.execute(text(
            "SELECT seq, event_id, type, district, school_id, event_date, payload, received_at FROM events ORDER BY seq"))
        rows = [tuple(r) for r in result.all()]
    await engine.dispose()
    return rows


async def _largest_shard(twin) -> dict:
    return max(await twin.cluster.check(), key=lambda s: s["schools"])


async def _recovery(twin, victim: dict | None = None) -> dict:
    """SIGKILL `victim` (default: the largest shard), and time until it answers again, caught up
    with the log."""
    victim = victim or await _largest_shard(twin)
    shard = twin.cluster.shards[victim["shard"]]
    killed = time.perf_counter()
    os.kill(victim["pid"], signal.SIGKILL)
    while True:
        try:
            status = await asyncio.wait_for(shard.status.remote(), 30)
            if status["pid"] != victim["pid"]:
                break
        except Exception:  # noqa: BLE001 - restarting
            await asyncio.sleep(0.05)
    return {"recovery_s": round(time.perf_counter() - killed, 3), "replayed": status["replayed"],
            "in_shard_s": status["recovery_s"],
            "caught_up": status["applied_seq"] >= victim["applied_seq"], "schools": victim["schools"]}


async def _recovery_mid_day(twin, events: int) -> dict:
    """Once the largest shard has folded `events` more (half a school day), kill it and time it
    back while the feed goes on."""
    first = await _largest_shard(twin)
    shard = twin.cluster.shards[first["shard"]]
    while (await shard.status.remote())["applied_seq"] < first["applied_seq"] + events:
        await asyncio.sleep(0.1)
    return await _recovery(twin, await _largest_shard(twin))


async def run(schools: int = 43_000, database_url: str | None = None, postgres: bool = False,
              say: Callable[[str], None] = print, kill_mid_day: bool = False) -> dict:
    from startup.runtime import prepare_database, start_twin, stop_twin

    workdir = bench_workdir("mealtwin-bench-")
    if postgres:
        database_url = await _fresh_postgres(os.environ.get("MEALTWIN_BENCH_POSTGRES_URL",
                                                            "postgresql://postgres@127.0.0.1:5432/postgres"))
    database_url = database_url or f"sqlite+aiosqlite:///{workdir}/bench.db"
    settings = bench_settings(database_url=database_url, schools=schools, port=_free_port(),
                              haproxy_stats_port=_free_port(), haproxy_metrics_port=_free_port(), data_dir=workdir)
    started = time.perf_counter()
    await prepare_database(settings, say)
    generate_s = time.perf_counter() - started
    say(f"starting the twin on {database_url.split('://')[0]} with {schools:,} schools")
    twin = await start_twin(settings, say)
    try:
        # The client (world model, events, HTTP) runs in a process of its own: it is not part of
        # the twin, so it must not share the driver's GIL nor count in the twin's memory.
        ids_file = os.path.join(workdir, "sent_ids.json")
        client = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "benchmarks.ingest", "client", twin.base_url, database_url, ids_file,
            bench_token(settings),
            stdout=asyncio.subprocess.PIPE)
        say(f"warm-up, then a school day: batches of {BATCH:,}, {CONCURRENCY} at a time")
        assert (await client.stdout.readline()).strip() == b"timed"
        cpu_before = cpu_seconds({client.pid})
        if kill_mid_day:  # a school day has an event for every school: half of one is as many as half of them
            say("killing the largest shard with SIGKILL once it has folded half the day")
            recovery = await _recovery_mid_day(twin, schools // 2)
        timed = json.loads(await client.stdout.readline())
        cpu = cpu_spent(cpu_before, cpu_seconds({client.pid}))
        rss, pss = memory_mib({client.pid})
        resend = json.loads(await client.stdout.readline())
        reads_ms = json.loads(await client.stdout.readline())
        paths_once = json.loads(await client.stdout.readline())
        await client.wait()
        with open(ids_file) as f:
            sent_ids = set(json.load(f))
        log_rows = await _log_rows(database_url)
        logged_ids = {r[1] for r in log_rows}
        lost = len(sent_ids - logged_ids)
        duplicated = len(log_rows) - len(logged_ids) + resend["accepted"] + resend["corrections"]
        floor_rows = log_rows[-timed["events"]:]
        say("measuring the database's raw insert rate on the same rows")
        db_rows_per_s = await _db_floor(database_url, floor_rows)
        if not kill_mid_day:
            say("killing the largest shard with SIGKILL")
            recovery = await _recovery(twin)
        state_ok = await _state_matches_log(twin, database_url)
        await asyncio.gather(*(shard.snapshot_now.remote() for shard in twin.cluster.shards))
        snapshot_bytes = await _snapshot_bytes(database_url)
    finally:
        await stop_twin(twin)
    events_per_s = timed["events"] / timed["elapsed_s"]
    return {
        "database": database_url.split("+")[0].split(":")[0],
        "schools": schools,
        "events": timed["events"],
        "events_per_s": round(events_per_s),
        "db_insert_rows_per_s": round(db_rows_per_s),
        "ratio_to_db_floor": round(events_per_s / db_rows_per_s, 3),
        "batch_size": BATCH,
        "batch_latency_median_s": timed["batch_latency_median_s"],
        "server_stage_median_ms": timed["stages"],
        "cpu_s_during_ingest": cpu,
        # every process of the twin (driver, Ray's own, shards, state actor, replicas, proxy), not the load's
        "cpu_us_per_event": round(sum(cpu.values()) / timed["events"] * 1e6, 1),
        "accepted": timed["accepted"], "corrections": timed["corrections"], "rejected": timed["rejected"],
        "applied_seq_min": timed["applied_seq_min"],
        "kill": "mid_day" if kill_mid_day else "after_day",
        "recovery_s": recovery["recovery_s"],
        "recovery_replayed_events": recovery["replayed"],
        "recovery_shard_schools": recovery["schools"],
        # of recovery_s, the new process's own: reading the directory, snapshots and the log (the rest is Ray
        # noticing the death and starting a process)
        "recovery_in_shard_s": recovery["in_shard_s"],
        "snapshot_mib": round(snapshot_bytes / 2**20, 1),
        "lost": lost,
        "duplicated": duplicated,
        "state_matches_log": state_ok,
        "rss_mib_total": round(sum(rss.values())),
        "rss_mib_by_process": {name: round(mib) for name, mib in rss.items()},
        "pss_mib_total": round(pss),
        "generate_s": round(generate_s, 2),
        "startup_s": round(twin.timings["startup_s"], 2),
        "startup_breakdown_s": {k: round(v, 2) for k, v in twin.timings.items() if k != "startup_s"},
        "shards": len(twin.cluster.shards),
        "read_median_ms": reads_ms,
        "paths_once": paths_once,
    }


async def _client(base_url: str, database_url: str, ids_file: str, token: str) -> None:
    """The load: the world's opening events (warm-up), then a school day, timed; then the day's
    first batch again (all must come back duplicates), then the reads of READS timed. Prints
    "timed", the timed result (JSON), the resend's totals (JSON) and the reads' medians (JSON), a
    line each; writes every event id sent to `ids_file`."""
    from db.school_repository import SchoolRepository
    from serve_app.schools.rows import from_rows

    engine = create_engine(database_url)
    table = from_rows(await SchoolRepository(engine).all())
    await engine.dispose()
    opening, day = await asyncio.to_thread(_school_day, Settings(), table)
    with open(ids_file, "w") as f:
        json.dump([e["event_id"] for e in opening + day], f)
    async with httpx.AsyncClient(base_url=base_url, timeout=300, headers={"Authorization": f"Bearer {token}"}) as client:
        await _post_all(client, opening)
        print("timed", flush=True)
        started = time.perf_counter()
        totals, latencies, stages = await _post_all(client, day)
        ready = (await client.get("/ready")).json()["data"]  # ingest answers once every shard folded
        elapsed = time.perf_counter() - started
        print(json.dumps({**totals, "events": len(day), "elapsed_s": elapsed, "stages": stages,
                          "batch_latency_median_s": round(statistics.median(latencies), 3),
                          "applied_seq_min": ready["shards"]["applied_seq_min"]}), flush=True)
        resend, _, _ = await _post_all(client, day[:BATCH])
        print(json.dumps(resend), flush=True)
        print(json.dumps(await _reads(client)), flush=True)
        print(json.dumps(await _paths_once(client, f"{int(table.udise[0]):011d}")), flush=True)


READS = {  # the reads that took seconds at India scale before their fixes
    "schools_first_page": "/api/v1/schools?page_size=200",
    "schools_page_500": "/api/v1/schools?page=500&page_size=200",
    "schools_in_chennai": "/api/v1/schools?district=Chennai&page_size=200",
    "search": "/api/v1/schools/search?q=Ariyalur",
    "district_chennai": "/api/v1/twin/districts/Chennai",
    "state": "/api/v1/twin/state",
}


async def _reads(client: httpx.AsyncClient, repeats: int = 5) -> dict[str, float]:
    """Median milliseconds of each of READS, one at a time, on the twin as the school day left it."""
    out = {}
    for name, path in READS.items():
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            (await client.get(path)).raise_for_status()
            times.append((time.perf_counter() - started) * 1000)
        out[name] = round(statistics.median(times), 1)
    return out


# Paths timed once each on the twin the day left (the per-school cost table in benchmarks/README.md):
# each either answers within PATH_TIMEOUT_S or is reported as what it did (a status, or a timeout).
PATHS_ONCE = {
    "school_forecast": "/api/v1/predictions/forecast/{school}",
    "school_risk": "/api/v1/predictions/risk/{school}",
    "district_cascade": "/api/v1/predictions/cascade/districts/Chennai",
    "district_report_pdf": "/api/v1/reports/export/pdf?level=district&name=Chennai",
    "district_report_csv": "/api/v1/reports/export/csv?kind=schools&district=Chennai",
    "district_schools_export": "/api/v1/schools/export?district=Chennai",
}
PATH_TIMEOUT_S = 120.0


async def _paths_once(client: httpx.AsyncClient, school_id: str) -> dict[str, dict]:
    """One request each of PATHS_ONCE: its status, milliseconds and bytes, or that it timed out."""
    out = {}
    for name, path in PATHS_ONCE.items():
        started = time.perf_counter()
        try:
            response = await client.get(path.format(school=school_id), timeout=PATH_TIMEOUT_S)
            out[name] = {"status": response.status_code, "ms": round((time.perf_counter() - started) * 1000),
                         "bytes": len(response.content)}
            if response.status_code >= 400:
                out[name]["error"] = response.text[:300]
        except httpx.TimeoutException:
            out[name] = {"status": "timeout", "ms": round(PATH_TIMEOUT_S * 1000)}
    return out


async def _state_matches_log(twin, database_url: str) -> bool:  # noqa: ANN001
    """The live shards' district roll-ups equal a fresh in-process fold of the whole log."""
    import numpy as np

    from actors.district_shard import DistrictShard
    from startup.actor_ports import open_shard_ports

    ports = await open_shard_ports(database_url)

    class _NoSnapshots:
        async def latest(self, district: int) -> None:
            return None

    try:
        for k, districts in enumerate(twin.cluster.placement):
            live = await twin.cluster.shards[k].district_rows.remote()
            reference = DistrictShard(districts, ports.directory, ports.enrolment, ports.event_log, _NoSnapshots())
            await reference.recover()
            if not np.allclose(live["rows"], reference.district_rows()["rows"]):
                return False
        return True
    finally:
        await ports.close()


if __name__ == "__main__" and sys.argv[1:2] == ["client"]:
    asyncio.run(_client(*sys.argv[2:6]))
