"""`mealtwin bench streams --clients N`: N WebSocket viewers held on a live twin while its feed runs.

The benchmark starts a twin of the state (as `mealtwin up` does: shards, replicas behind HAProxy,
the live feed of every school in a process of its own), then N viewers in `processes` asyncio
processes (`benchmarks/ws_viewers.py`): 70% follow one school each (`/ws/schools/{id}`, distinct
schools spread over every district), 20% a dashboard scope (the state, each district, each block,
in turn), 10% a district's alerts. With all of them connected it sends `rounds` probes through the
API, one every `round_interval_s`: an attendance report for every followed school and a shortage
report in every district. A viewer's latency for a round is from the POST's acknowledgement to the
first message that holds the probe (a school delta or dashboard view at or past the probe's log
seq, the probe's own alert); a (viewer, round) that never gets it, and a viewer the server closed,
are drops. Memory per 1,000 viewers is the growth of the twin's processes (replicas, HAProxy,
broker, shards, the driver) from before the viewers connect to after, per 1,000 connected.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, unquote

import numpy as np
import psutil

from benchmarks.credentials import bench_settings, bench_token
from benchmarks.ingest import _free_port
from benchmarks.load import _first_day, _start_feed
from benchmarks.process_costs import cpu_seconds, cpu_spent, memory_mib, twin_processes
from benchmarks.workdir import bench_workdir
from benchmarks.ws_viewers import KINDS
from startup.open_files import allow_open_files

SHARES = {"school": 0.7, "dashboard": 0.2, "alerts": 0.1}
API = "/api/v1"


async def run(clients: int = 10_000, schools: int = 43_000, processes: int = 2, rounds: int = 15,
              round_interval_s: float = 2.0, connect_per_s: float = 200.0, replicas: int | None = None,
              max_ongoing_requests: int | None = None, compression: bool = True,
              say: Callable[[str], None] = print) -> dict:
    from startup.runtime import start_twin, stop_twin

    # Ray's processes (replicas, HAProxy) inherit this process's limit: each viewer holds a socket
    # in a replica and two in HAProxy
    fd_limit = allow_open_files(4 * clients + 4096)
    workdir = Path(bench_workdir("mealtwin-bench-streams-"))
    overrides = {k: v for k, v in (("serve_replicas", replicas), ("max_ongoing_requests", max_ongoing_requests))
                 if v is not None}
    settings = bench_settings(database_url=f"sqlite+aiosqlite:///{workdir}/bench.db", schools=schools,
                              port=_free_port(), haproxy_stats_port=_free_port(), haproxy_metrics_port=_free_port(),
                              serve_fallback_port=_free_port(), data_dir=str(workdir), access_log=False, **overrides)
    twin = await start_twin(settings, say)
    maxconn = twin.settings.haproxy_maxconn  # lowered by the twin if open files are limited
    feed = None
    viewers: list[asyncio.subprocess.Process] = []
    try:
        say("live feed: starting, waiting for its first school day")
        feed = _start_feed(settings, twin.base_url, workdir)
        day = await _first_day(twin.base_url, settings)
        directory = await _directory(settings)
        token = bench_token(settings)
        paths, kinds, followed = _mix(directory, clients)
        rss_before = memory_mib({feed.pid})[0]

        ingress, bases = _ingress(clients, maxconn, settings.port)
        say(f"{clients} viewers in {processes} processes, {connect_per_s:.0f} connections/s, through {ingress}")
        started = time.monotonic()
        viewers, outs = await _start_viewers(workdir, bases, token, paths, kinds, processes, connect_per_s,
                                             compression)
        connected = 0
        for proc in viewers:
            line = (await proc.stdout.readline()).decode().split()
            connected += int(line[1]) if line[:1] == ["connected"] else 0
        connect_s = time.monotonic() - started
        exclude = {feed.pid, *(p.pid for p in viewers)}
        say(f"{connected} connected in {connect_s:.0f}s; {rounds} probe rounds, one every {round_interval_s:.0f}s")

        cpu_before = cpu_seconds(exclude)
        held_started = time.monotonic()
        acks = await _probe(twin.base_url, token, day, directory, followed, rounds, round_interval_s)
        await asyncio.sleep(5.0)  # stragglers
        held_s = time.monotonic() - held_started
        cpu = cpu_spent(cpu_before, cpu_seconds(exclude))
        rss_held = memory_mib(exclude)[0]

        client_costs = []
        for proc in viewers:
            proc.stdin.write(b"stop\n")
            await proc.stdin.drain()
            client_costs.append(json.loads((await proc.stdout.readline()).decode()))
            await proc.wait()
        feed_alive = feed.poll() is None
    finally:
        for proc in viewers:
            if proc.returncode is None:
                proc.kill()
        if feed is not None:
            feed.terminate()
            feed.wait(30)
        await stop_twin(twin)

    seen = [_arrays(out) for out in outs]
    result = _latencies(seen, kinds, paths, followed, acks, directory)
    grown = sum(rss_held.values()) - sum(rss_before.values())
    per_k = max(connected, 1) / 1000
    return {
        "schools": schools, "ws_clients": connected, **result,
        "rss_mib_per_1000_clients": round(grown / per_k, 1),
        "rss_mib_growth_by_process": {k: round((rss_held.get(k, 0) - rss_before.get(k, 0)) / per_k, 1)
                                      for k in rss_held if abs(rss_held.get(k, 0) - rss_before.get(k, 0)) >= per_k},
        "rss_mib_twin_before": round(sum(rss_before.values())),
        "rss_mib_twin_held": round(sum(rss_held.values())),
        "connect_s": round(connect_s, 1),
        "held_s": round(held_s, 1),
        "twin_cpu_s_while_held": round(sum(cpu.values()), 1),
        "twin_cpu_by_process": cpu,
        "viewer_processes": client_costs,
        "viewer_rss_mib_per_1000_clients": round(sum(c["max_rss_mib"] for c in client_costs) / per_k, 1),
        "mix": {k: kinds.count(k) for k in SHARES},
        "rounds": rounds, "round_interval_s": round_interval_s,
        "serve_replicas": settings.serve_replicas, "max_ongoing_requests": settings.max_ongoing_requests,
        "haproxy_maxconn": maxconn, "client_queue": settings.streams.client_queue,
        "ingress": ingress, "fd_limit": fd_limit, "feed_running": feed_alive,
        "viewers_offer_compression": compression,
    }


async def _directory(settings):
    from db.engine import create_engine
    from db.school_repository import SchoolRepository

    engine = create_engine(settings.database_url)
    directory, _ = await SchoolRepository(engine).load_directory()
    await engine.dispose()
    return directory


def _arrays(path: Path) -> dict[str, np.ndarray]:
    """What a viewers' process saw, read once (an `NpzFile` reads an array again on every access)."""
    with np.load(path) as saved:
        return {name: saved[name] for name in saved.files}


def _mix(directory, clients: int) -> tuple[list[str], list[str], np.ndarray]:
    """Each viewer's path and kind, and the followed schools' indexes."""
    from twin import geography

    n_school = int(clients * SHARES["school"])
    n_dashboard = int(clients * SHARES["dashboard"])
    n_alerts = clients - n_school - n_dashboard
    followed = np.linspace(0, len(directory) - 1, min(n_school, len(directory))).astype(np.int64)
    followed = np.resize(followed, n_school)  # more viewers than schools: several per school
    names = geography.district_names()
    blocks = directory.blocks
    scopes = ["state", *(f"district:{d}" for d in names),
              *(f"block:{names[int(blocks.district[b])]}/{blocks.names[b]}" for b in range(len(blocks)))]
    paths = [f"{API}/ws/schools/{int(directory.school_ids[i]):011d}" for i in followed]
    paths += [f"{API}/ws/dashboard?scope={quote(scopes[k % len(scopes)], safe=':/')}" for k in range(n_dashboard)]
    paths += [f"{API}/ws/alerts?district={quote(names[k % len(names)])}" for k in range(n_alerts)]
    kinds = ["school"] * n_school + ["dashboard"] * n_dashboard + ["alerts"] * n_alerts
    return paths, kinds, followed


def _ingress(clients: int, maxconn: int, port: int) -> tuple[str, list[str]]:
    """Where the viewers connect: Serve's HAProxy, as browsers do, when it can hold them all (with
    room for the probes' requests); otherwise straight to the replicas' own HTTP ports, spread over
    them as a load balancer in front of the replicas would: HAProxy holds two sockets a connection,
    so where a process may not open more than 20,000 files, one HAProxy cannot hold 10,000 viewers."""
    if maxconn >= clients + 256:
        return "haproxy", [f"ws://127.0.0.1:{port}"]
    ports = sorted(_replica_ports())
    if not ports:
        raise RuntimeError(f"HAProxy holds {maxconn:,} connections, fewer than {clients:,} viewers, and no "
                           "replica listens on a port of its own")
    return "replicas", [f"ws://127.0.0.1:{p}" for p in ports]


def _replica_ports() -> set[int]:
    """The HTTP ports the API replicas listen on themselves (Serve's direct ingress, 30000-31000)."""
    ports = set()
    for p in twin_processes():
        try:
            if "ServeReplica" not in p.name() and "ServeReplica" not in " ".join(p.cmdline()):
                continue
            ports |= {c.laddr.port for c in p.net_connections("tcp")
                      if c.status == psutil.CONN_LISTEN and 30000 <= c.laddr.port <= 31000}
        except psutil.Error:
            pass
    return ports


async def _start_viewers(workdir: Path, bases: list[str], token: str, paths: list[str], kinds: list[str], processes: int,
                         connect_per_s: float, compression: bool = True,
                         ) -> tuple[list[asyncio.subprocess.Process], list[Path]]:
    procs, outs = [], []
    for p in range(processes):
        plan = workdir / f"viewers-{p}.json"
        # interleaved, so that each process holds the same mix
        plan.write_text(json.dumps({"bases": bases, "token": token, "paths": paths[p::processes],
                                    "kinds": kinds[p::processes], "connect_per_s": connect_per_s / processes,
                                    "compression": compression}))
        outs.append(workdir / f"viewers-{p}.npz")
        procs.append(await asyncio.create_subprocess_exec(
            sys.executable, "-m", "benchmarks.ws_viewers", str(plan), str(outs[-1]),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=2**20))
    return procs, outs


async def _probe(base_url: str, token: str, day: str, directory, followed: np.ndarray, rounds: int,
                 interval_s: float) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """Per round: the acknowledgement's time, each followed school's probe seq, and each
    district's shortage probe seq (its alert)."""
    import httpx

    schools = np.unique(followed)
    ids = [f"{int(directory.school_ids[i]):011d}" for i in schools]
    by_district: dict[int, int] = {}
    for i in schools:
        by_district.setdefault(int(directory.school_district[i]), int(i))
    acks = []
    async with httpx.AsyncClient(base_url=base_url, timeout=60, headers={"Authorization": f"Bearer {token}"}) as http:
        for r in range(rounds):
            tag = time.time_ns()
            events = [{"type": "attendance_reported", "event_id": f"viewers-{tag}-{s}", "date": day, "school_id": s,
                       "present": 40 + r, "meals_served": {"primary": 30 + r}} for s in ids]
            events += [{"type": "shortage_reported", "event_id": f"viewers-{tag}-shortage-{d}", "date": day,
                        "school_id": f"{int(directory.school_ids[i]):011d}", "item": "oil"}
                       for d, i in sorted(by_district.items())]
            next_round = time.monotonic() + interval_s
            response = await http.post(f"{API}/events", json={"events": events})
            acked = time.time()
            response.raise_for_status()
            seqs = np.array([res["seq"] for res in response.json()["data"]["results"]], np.int64)
            school_seq = np.zeros(len(directory), np.int64)
            school_seq[schools] = seqs[:len(ids)]
            shortage = np.zeros(max(by_district) + 1, np.int64)
            shortage[sorted(by_district)] = seqs[len(ids):]
            acks.append((acked, school_seq, shortage))
            await asyncio.sleep(max(0.0, next_round - time.monotonic()))
    return acks


def _latencies(seen: list, kinds: list[str], paths: list[str], followed: np.ndarray,
               acks: list[tuple[float, np.ndarray, np.ndarray]], directory) -> dict:
    """Per (viewer, round): when the probe reached the viewer; and what the viewers were told."""
    from twin import geography

    names = geography.district_names()
    targets: dict[str, np.ndarray] = {}  # a dashboard scope's followed schools
    latencies: dict[str, list[float]] = {k: [] for k in KINDS}
    missed = {k: 0 for k in KINDS}
    closed = fell_behind = conflated_viewers = failed = 0
    k = 0
    per_process = len(seen)
    for p, arrays in enumerate(seen):
        for j in range(len(arrays["kind"])):
            k = p + j * per_process  # the viewer's index in `paths` (interleaved over processes)
            kind = kinds[k]
            closed += int(arrays["closed_early"][j] != 0)
            failed += int(arrays["failed"][j] != 0 and arrays["connected_at"][j] == 0)
            fell_behind += int(arrays["fell_behind"][j])
            conflated_viewers += int(arrays["fell_behind"][j] > 0)
            if arrays["connected_at"][j] == 0:
                continue  # never connected: counted by ws_clients, not as drops of rounds
            lo, hi = arrays["offsets"][j], arrays["offsets"][j + 1]
            seqs, times = arrays["seqs"][lo:hi], arrays["times"][lo:hi]
            for acked, school_seq, shortage in acks:
                if kind == "school":
                    hit = seqs >= school_seq[followed[k]]
                elif kind == "alerts":
                    district = names.index(unquote(paths[k].rsplit("=", 1)[1]))
                    hit = seqs == shortage[district]
                else:
                    scope = unquote(paths[k].split("scope=", 1)[1])
                    if scope not in targets:
                        targets[scope] = _schools_in(scope, followed, directory)
                    if not len(targets[scope]):
                        continue  # no probe in this scope
                    # the view holds the round's probes once it is at or past the largest of them
                    hit = seqs >= school_seq[targets[scope]].max()
                if hit.any():
                    latencies[kind].append(max(0.0, float(times[np.argmax(hit)] - acked)))
                else:
                    missed[kind] += 1
    every = sorted(t for ts in latencies.values() for t in ts)

    def pct(values: list[float], q: float) -> float | None:
        values = sorted(values)
        return round(1000 * values[min(len(values) - 1, int(q / 100 * len(values)))], 1) if values else None

    return {"ws_p50_ms": pct(every, 50), "ws_p99_ms": pct(every, 99), "ws_max_ms": pct(every, 100),
            "ws_dropped": sum(missed.values()) + closed,
            "ws_deliveries": len(every),
            "ws_by_kind": {kind: {"p50_ms": pct(ts, 50), "p99_ms": pct(ts, 99), "deliveries": len(ts),
                                  "missed": missed[kind]} for kind, ts in latencies.items()},
            "ws_closed_by_server": closed, "ws_connect_failed": failed,
            "ws_fell_behind_notices": fell_behind, "ws_conflated_clients": conflated_viewers}


def _schools_in(scope: str, followed: np.ndarray, directory) -> np.ndarray:
    """The followed schools inside a dashboard scope."""
    from twin import geography

    names = geography.district_names()
    schools = np.unique(followed)
    kind, _, rest = scope.partition(":")
    if kind == "state":
        return schools
    if kind == "district":
        return schools[directory.school_district[schools] == names.index(rest)]
    district, block = rest.split("/", 1)
    d = names.index(district)
    b = next(b for b in range(len(directory.blocks))
             if directory.blocks.names[b] == block and int(directory.blocks.district[b]) == d)
    return schools[directory.school_block[schools] == b]
