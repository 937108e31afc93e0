"""`mealtwin bench load`: the Locust suite (`benchmarks/locustfile.py`) headless against a twin
this starts, with the live feed running, and per-endpoint percentiles and failures as JSON.

Locust runs in a process of its own (gevent must not meet Ray's threads), with tokens made here
in advance for every user's role and area; the live feed is `mealtwin feed` in another process,
as it is beside `mealtwin up`.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.credentials import bench_settings
from benchmarks.ingest import _free_port, _fresh_postgres
from benchmarks.workdir import bench_workdir
from configs import Settings

LOCUSTFILE = Path(__file__).with_name("locustfile.py")


async def run(users: int = 1_000, seconds: float = 90.0, schools: int = 43_000, spawn_rate: float = 50.0,
              postgres: bool = False, say: Callable[[str], None] = print) -> dict:
    from startup.runtime import start_twin, stop_twin

    workdir = Path(bench_workdir("mealtwin-bench-load-"))
    database_url = f"sqlite+aiosqlite:///{workdir}/bench.db"
    if postgres:  # a fresh `mealtwin_bench` database, as `bench ingest --postgres` makes
        database_url = await _fresh_postgres(os.environ.get("MEALTWIN_BENCH_POSTGRES_URL",
                                                            "postgresql://postgres@127.0.0.1:5432/postgres"))
    settings = bench_settings(database_url=database_url, schools=schools,
                              port=_free_port(), haproxy_stats_port=_free_port(),
                              haproxy_metrics_port=_free_port(), data_dir=str(workdir), access_log=False)
    twin = await start_twin(settings, say)
    feed = None
    try:
        say("live feed: starting, waiting for its first school day")
        feed = _start_feed(settings, twin.base_url, workdir)
        day = await _first_day(twin.base_url, settings)
        plan = await write_plan(settings, workdir / "plan.json", day, twin.base_url)
        say(f"Locust: {users} users (spawned at {spawn_rate:.0f}/s) for {seconds:.0f}s against {twin.base_url}")
        stats = await asyncio.to_thread(_locust, twin.base_url, workdir, users, seconds, spawn_rate)
        feed_alive = feed.poll() is None
    finally:
        if feed is not None:
            feed.terminate()
            try:
                feed.wait(30)
            except subprocess.TimeoutExpired:
                feed.kill()
        await stop_twin(twin)
    return {"users": users, "seconds": seconds, "schools": schools, "database": "postgresql" if postgres else "sqlite",
            **stats, "feed_running": feed_alive,
            "forecasts_served": plan["forecasts"], "serve_replicas": settings.serve_replicas}


def _start_feed(settings: Settings, base_url: str, workdir: Path) -> subprocess.Popen:
    env = {**os.environ, "MEALTWIN_DATABASE_URL": settings.database_url, "MEALTWIN_DATA_DIR": str(workdir),
           "MEALTWIN_LIMITS__KEY_REQUESTS_PER_MINUTE": "1000000", "MEALTWIN_LIMITS__INGEST_PER_MINUTE": "1000000"}
    log = open(workdir / "feed.log", "w")  # noqa: SIM115 - the child writes it for as long as it runs
    return subprocess.Popen([sys.executable, "-c", "from cli.main import app; app()", "feed", "--url", base_url],
                            env=env, stdout=log, stderr=subprocess.STDOUT)


async def _first_day(base_url: str, settings: Settings, timeout_s: float = 300.0) -> str:
    """The twin's day once the feed has sent one (the day users report for)."""
    import httpx

    from benchmarks.credentials import bench_token

    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(base_url=base_url, timeout=30,
                                 headers={"Authorization": f"Bearer {bench_token(settings)}"}) as client:
        while time.monotonic() < deadline:
            state = (await client.get("/api/v1/twin/state")).json().get("data") or {}
            if state.get("today"):
                return state["today"]
            await asyncio.sleep(2)
    raise TimeoutError("the live feed sent no school day")


async def write_plan(settings: Settings, path: Path, day: str, base_url: str) -> dict:
    """Every simulated user's token and places, and the day they report for, for the locustfile."""
    import httpx

    from benchmarks.credentials import bench_token
    from db.engine import create_engine
    from db.school_repository import SchoolRepository
    from startup.access_control import token_issuer
    from twin import geography

    engine = create_engine(settings.database_url)
    directory, _ = await SchoolRepository(engine).load_directory()
    await engine.dispose()
    issuer = token_issuer(settings)
    names = geography.district_names()
    ids = [f"{int(s):011d}" for s in directory.school_ids]
    by_block: dict[int, list[str]] = {}
    for i, school in enumerate(ids):
        by_block.setdefault(int(directory.school_block[i]), []).append(school)

    def token(subject: str, role: str, district: str | None = None, block: str | None = None,
              school: str | None = None) -> str:
        return issuer.issue_access(f"user:{subject}", role, district, block, school)[0]

    blocks = sorted(by_block)
    block_officers = []
    for b in blocks:
        district, block = names[int(directory.blocks.district[b])], directory.blocks.names[b]
        block_officers.append({"token": token(f"load-bo-{b}", "block_officer", district, block),
                               "district": district, "block": block, "schools": by_block[b][:50]})
    step = max(1, len(ids) // 1_000)
    school_admins = []
    for i in range(0, len(ids), step):
        b = int(directory.school_block[i])
        district, block = names[int(directory.blocks.district[b])], directory.blocks.names[b]
        school_admins.append({"token": token(f"load-sa-{i}", "school_admin", district, block, ids[i]),
                              "school_id": ids[i]})
    district_schools: dict[str, list[str]] = {}
    for i, school in enumerate(ids):
        district_schools.setdefault(names[int(directory.school_district[i])], []).append(school)
    plan = {
        "day": day,
        "district_officers": [{"token": token(f"load-do-{d}", "district_officer", name), "district": name}
                              for d, name in enumerate(names)],
        "block_officers": block_officers,
        "school_admins": school_admins,
        "integrations": [{"token": token(f"load-int-{d}", "district_officer", name),
                          "schools": district_schools[name][:2_000]} for d, name in enumerate(names)],
        "api_clients": [{"token": token(f"load-client-{k}", "state_admin"), "schools": ids[k::50][:500]}
                        for k in range(50)],
        "stages_path": str(path.with_name("stages.json")),
    }
    # forecasts are asked for only if a model serves them (the benchmark's twin trains none)
    async with httpx.AsyncClient(base_url=base_url, timeout=30,
                                 headers={"Authorization": f"Bearer {bench_token(settings)}"}) as client:
        probe = await client.get(f"/api/v1/predictions/forecast/{ids[0]}")
    plan["forecasts"] = probe.status_code == 200
    path.write_text(json.dumps(plan))
    return plan


def _locust(base_url: str, workdir: Path, users: int, seconds: float, spawn_rate: float) -> dict:
    prefix = workdir / "locust"
    env = {**os.environ, "MEALTWIN_LOAD_PLAN": str(workdir / "plan.json")}
    subprocess.run([sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", base_url,
                    "-u", str(users), "-r", str(spawn_rate), "-t", f"{int(seconds)}s", "--csv", str(prefix),
                    "--only-summary", "--stop-timeout", "10", "--exit-code-on-error", "0"],
                   env=env, check=True, capture_output=True, timeout=seconds + 300)
    return {**_summary(prefix), "ingest_stages": _stages(workdir / "stages.json")}


def _stages(path: Path) -> dict:
    """Median and p95 of each stage of an accepted POST /events (its Server-Timing): where ingest
    waits under the load, by request kind."""
    import numpy as np

    if not path.exists():
        return {}
    def percentiles(ms: list[float]) -> dict:
        return {"p50_ms": round(float(np.percentile(ms, 50)), 1), "p95_ms": round(float(np.percentile(ms, 95)), 1)}

    return {name: {stage: percentiles(ms) for stage, ms in stages.items()}
            for name, stages in json.loads(path.read_text()).items()}


def _summary(prefix: Path) -> dict:
    """Locust's CSV statistics as the benchmark's keys: the whole run and each endpoint."""
    rows = list(csv.DictReader(open(f"{prefix}_stats.csv")))  # noqa: SIM115
    failures = list(csv.DictReader(open(f"{prefix}_failures.csv")))  # noqa: SIM115

    def figures(row: dict) -> dict:
        return {"requests": int(row["Request Count"]), "failures": int(row["Failure Count"]),
                "rps": round(float(row["Requests/s"]), 1), "p50_ms": _ms(row["50%"]), "p95_ms": _ms(row["95%"]),
                "p99_ms": _ms(row["99%"]), "max_ms": _ms(row["Max Response Time"])}

    total = next(r for r in rows if r["Name"] == "Aggregated")
    http_5xx = sum(int(f["Occurrences"]) for f in failures if "HTTPError('5" in f["Error"] or " 50" in f["Error"])
    return {**figures(total), "http_5xx": http_5xx,
            "by_endpoint": {f"{r['Type']} {r['Name']}": figures(r) for r in rows if r["Name"] != "Aggregated"},
            "failure_kinds": {f"{f['Method']} {f['Name']}: {f['Error'][:160]}": int(f["Occurrences"])
                              for f in failures}}


def _ms(value: str) -> float | None:
    return None if value in ("", "N/A") else round(float(value), 1)
