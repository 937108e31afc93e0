"""`mealtwin bench api`: the same FastAPI app and route (a school's twin, read from its shard actor)
through Ray Serve and through plain uvicorn, under the same load in the same run.

The load generator runs in its own process so it does not share a GIL with either server; the
uvicorn baseline runs in a thread of the benchmark's own process (already a Ray driver, so its
app reaches the same shard actors), idle while Serve is measured.
"""

from __future__ import annotations

import asyncio
import functools
import json
import sys
import threading
import time
from collections.abc import Callable

from benchmarks.credentials import bench_settings, bench_token
from benchmarks.ingest import _free_port
from benchmarks.workdir import bench_workdir
from configs import Settings
from configs.settings import ray_process_env

ROUTE_RATE_PER_S = 100  # the latency target's load
WS_SCHOOLS = 100  # schools the WebSocket clients follow, clients spread evenly over them
WS_ROUNDS = 10  # one event per followed school per round, a round a second


def _load(port: int, path: str, mode: str, seconds: float, connections: int, token: str) -> dict:
    """Run the load generator in a child process; returns its JSON."""
    import subprocess

    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.api", "load", str(port), path, mode, str(seconds), str(connections), token],
        capture_output=True, text=True, check=True, timeout=seconds * 4 + 60)
    return json.loads(out.stdout)


def _start_uvicorn(settings: Settings, port: int):  # noqa: ANN202
    import uvicorn

    from serve_app.app import create_api
    from startup.deployment import open_replica_services

    # the app exactly as a Serve replica builds it
    app = create_api(functools.partial(open_replica_services, settings), settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.1)
    return server, thread


async def run(schools: int = 43_000, seconds: float = 10.0, connections: int = 32, proxy: str = "auto",
              ws_clients: int = 1_000, say: Callable[[str], None] = print) -> dict:
    from startup.runtime import start_twin, stop_twin

    workdir = bench_workdir("mealtwin-bench-api-")
    settings = bench_settings(database_url=f"sqlite+aiosqlite:///{workdir}/bench.db", schools=schools,
                              port=_free_port(), haproxy_stats_port=_free_port(),
                              haproxy_metrics_port=_free_port(), data_dir=workdir, access_log=False, serve_proxy=proxy)
    twin = await start_twin(settings, say)
    token = bench_token(settings)
    try:
        from db.engine import create_engine
        from db.school_repository import SchoolRepository

        engine = create_engine(settings.database_url)
        directory, _ = await SchoolRepository(engine).load_directory()
        await engine.dispose()
        path = f"/api/v1/twin/schools/{int(directory.school_ids[len(directory) // 2]):011d}"

        ws = {}
        if ws_clients:
            say(f"{ws_clients} WebSocket clients on {WS_SCHOOLS} school streams, {WS_ROUNDS} rounds of changes")
            ws = await _ws_fanout(settings, directory, ws_clients, token)

        say(f"Serve: {connections} connections for {seconds:.0f}s, then {ROUTE_RATE_PER_S} requests/s")
        await asyncio.to_thread(_load, settings.port, path, "max", 2, connections, token)  # warm-up
        serve_max = await asyncio.to_thread(_load, settings.port, path, "max", seconds, connections, token)
        serve_rate = await asyncio.to_thread(_load, settings.port, path, "rate", seconds, 16, token)

        say("plain uvicorn, same app and route")
        uv_port = _free_port()
        server, thread = await asyncio.to_thread(_start_uvicorn, settings, uv_port)
        try:
            await asyncio.to_thread(_load, uv_port, path, "max", 2, connections, token)
            uv_max = await asyncio.to_thread(_load, uv_port, path, "max", seconds, connections, token)
            uv_rate = await asyncio.to_thread(_load, uv_port, path, "rate", seconds, 16, token)
        finally:
            server.should_exit = True
            await asyncio.to_thread(thread.join, 10)
    finally:
        await stop_twin(twin)
    return {
        "route": "GET /api/v1/twin/schools/{id}",
        "serve_rps": serve_max["rps"],
        "uvicorn_rps": uv_max["rps"],
        "serve_to_uvicorn": round(serve_max["rps"] / uv_max["rps"], 3) if uv_max["rps"] else None,
        "serve_p50_ms": serve_rate["p50_ms"],
        "serve_p99_ms": serve_rate["p99_ms"],
        "uvicorn_p50_ms": uv_rate["p50_ms"],
        "uvicorn_p99_ms": uv_rate["p99_ms"],
        "latency_load_rps": ROUTE_RATE_PER_S,
        "serve_max_p99_ms": serve_max["p99_ms"],
        **ws,
        "errors": serve_max["errors"] + serve_rate["errors"] + uv_max["errors"] + uv_rate["errors"],
        "connections": connections,
        "serve_replicas": settings.serve_replicas,
        "max_ongoing_requests": settings.max_ongoing_requests,
        "ray_env": ray_process_env(settings),
    }


async def _ws_fanout(settings: Settings, directory, n_clients: int, token: str) -> dict:  # noqa: ANN001
    """`n_clients` WebSocket clients through Serve, spread over the streams of `WS_SCHOOLS`
    schools; each round changes every followed school with one event, and each client's latency
    is from the POST's acknowledgement to the arrival of a delta at or past that event's log seq
    (a client that gets a later delta instead, conflated, counts as served; one that gets none
    by the end is a drop)."""
    import httpx
    import orjson
    import websockets

    schools = [f"{int(s):011d}" for s in directory.school_ids[:: max(1, len(directory) // WS_SCHOOLS)][:WS_SCHOOLS]]
    base = f"127.0.0.1:{settings.port}"
    arrivals: list[list[tuple[int, float]]] = [[] for _ in range(n_clients)]  # (log seq, time) per client
    ready = [asyncio.Event() for _ in range(n_clients)]
    stop = asyncio.Event()

    async def client(k: int) -> None:
        async with websockets.connect(f"ws://{base}/api/v1/ws/schools/{schools[k % len(schools)]}?access_token={token}",
                                      max_queue=None, open_timeout=120) as ws:
            while not stop.is_set():
                try:
                    raw = await asyncio.wait_for(ws.recv(), 0.5)
                except TimeoutError:
                    continue
                message = orjson.loads(raw)
                if message["type"] == "snapshot":
                    ready[k].set()
                elif message["type"] == "delta":
                    arrivals[k].append((message["data"]["seq"], time.perf_counter()))

    tasks = []
    for k in range(n_clients):  # connect in waves: a thousand handshakes at once would time out
        tasks.append(asyncio.create_task(client(k)))
        if k % 50 == 49:
            await asyncio.sleep(0.2)
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in ready)), 180)
    connected = sum(e.is_set() for e in ready)

    acks: list[tuple[dict[str, int], float]] = []  # per round: log seq by school, ack time
    date = settings.feed.start_date
    async with httpx.AsyncClient(base_url=f"http://{base}", timeout=60, headers={"Authorization": f"Bearer {token}"}) as http:
        for r in range(WS_ROUNDS):
            events = [{"type": "attendance_reported", "event_id": f"ws-{r}-{school}", "date": date,
                       "school_id": school, "present": 40 + r, "meals_served": {"primary": 30 + r}}
                      for school in schools]
            response = await http.post("/api/v1/events", json={"events": events})
            acked = time.perf_counter()
            results = response.json()["data"]["results"]
            acks.append(({e["school_id"]: res["seq"] for e, res in zip(events, results)}, acked))
            await asyncio.sleep(1.0)
    await asyncio.sleep(3.0)  # stragglers
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)

    latencies, dropped, round_max = [], 0, [0.0] * len(acks)
    for k in range(n_clients):
        school = schools[k % len(schools)]
        for r, (seqs, acked) in enumerate(acks):
            arrived = next((t for seq, t in arrivals[k] if seq >= seqs[school]), None)
            if arrived is None:
                dropped += 1
            else:
                latencies.append(max(0.0, arrived - acked))
                round_max[r] = max(round_max[r], latencies[-1])
    latencies.sort()

    def pct(p: float) -> float:
        return round(1000 * latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))], 1) if latencies else None

    return {"ws_clients": connected, "ws_deliveries": len(latencies), "ws_p50_ms": pct(50), "ws_p99_ms": pct(99),
            "ws_dropped": dropped, "ws_round_max_ms": [round(1000 * t) for t in round_max]}


def _load_main(argv: list[str]) -> None:
    from benchmarks.http_load import at_rate, max_rate

    port, path, mode, seconds, connections = int(argv[0]), argv[1], argv[2], float(argv[3]), int(argv[4])
    headers = f"Authorization: Bearer {argv[5]}\r\n"
    if mode == "max":
        result = asyncio.run(max_rate("127.0.0.1", port, path, connections, seconds, headers))
    else:
        result = asyncio.run(at_rate("127.0.0.1", port, path, ROUTE_RATE_PER_S, seconds, connections, headers))
    print(json.dumps({"rps": round(result.rps), "p50_ms": round(result.percentile_ms(50), 2),
                      "p99_ms": round(result.percentile_ms(99), 2), "errors": result.errors}))


if __name__ == "__main__" and sys.argv[1:2] == ["load"]:
    _load_main(sys.argv[2:])
