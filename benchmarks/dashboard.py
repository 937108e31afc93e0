"""mealtwin bench dashboard: the web page in headless Chromium (Debian's, driven by Playwright)
against a twin of the state on Ray Serve, as `mealtwin up` runs it.

- `schools_drawn`, `first_render_s`: from a page load with a session in the tab (sign-in done) to
  every school drawn; `bytes_first_load`: what that load transferred (page, modules, map, views).
- `event_to_pixel_p50_ms` / `_p95_ms`: an event batch's acknowledgement to the page having applied
  the dashboard view that holds it (the page marks the seq and the moment, `#figures[data-seq]`);
  split in two where the time goes: `event_to_send_*` to the twin sending that view (the frame's
  own timestamp), `send_to_pixel_*` from there to the page having applied it. The batches are 50
  schools' reports of one school day, as the day's feed brings them; `event_to_pixel_new_day_*`
  times a few batches that each open a new day (every school's figures and risk move then).
- `frame_ms_p95`: a redraw of the whole map while every school's level changes once a second.
- `viewers`, `ws_dropped`: dashboard streams held open while event batches arrive every second,
  and how many of them the twin dropped."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Callable

import httpx

from benchmarks.credentials import bench_settings, bench_token
from benchmarks.ingest import _free_port
from benchmarks.workdir import bench_workdir

CHROMIUM = "/usr/bin/chromium"
TARGETS = {"first_render_s": 3.0, "bytes_first_load": 3_000_000, "event_to_pixel_p95_ms": 1_000,
           "frame_ms_p95": 50.0}


async def run(schools: int = 43_000, viewers: int = 100, seconds: float = 20.0, events: int = 20,
              say: Callable[[str], None] = print) -> dict:
    from startup.runtime import start_twin, stop_twin

    workdir = bench_workdir("mealtwin-bench-dashboard-")
    settings = bench_settings(database_url=f"sqlite+aiosqlite:///{workdir}/bench.db", schools=schools,
                              port=_free_port(), haproxy_stats_port=_free_port(), haproxy_metrics_port=_free_port(),
                              data_dir=workdir, access_log=False)
    twin = await start_twin(settings, say)
    token = bench_token(settings)
    base = twin.base_url
    try:
        async with httpx.AsyncClient(base_url=base, timeout=120, headers={"Authorization": f"Bearer {token}"}) as api:
            ids = await _school_ids(api)
            say(f"opening stock and a first day for {len(ids):,} schools")
            await _post(api, [_delivery(s, k) for k, s in enumerate(ids)])
            say("the page: first render, event to pixel, redraws")
            page = await asyncio.to_thread(_measure_page, base, token, ids, events, seconds)
            say(f"{viewers} dashboard viewers for {seconds:.0f}s of event batches")
            held = await _viewers(base, token, api, ids, viewers, seconds)
    finally:
        await stop_twin(twin)
    result = {**page, **held, "schools": schools}
    result["targets_met"] = {k: result[k] is not None and result[k] <= v for k, v in TARGETS.items()} | {
        "all_drawn": result["schools_drawn"] == len(ids), "none_dropped": result["ws_dropped"] == 0}
    return result


async def _school_ids(api: httpx.AsyncClient) -> list[str]:
    import numpy as np

    body = (await api.get("/api/v1/dashboard/map")).content
    n = int.from_bytes(body[4:8], "little")
    return [f"{int(i):011d}" for i in np.frombuffer(body, "<f8", n, 16)]


def _delivery(school: str, k: int) -> dict:
    return {"type": "stock_delivered", "event_id": f"bench-d-{school}", "date": "2025-07-01", "school_id": school,
            "rice_kg": float(50 + k % 200), "pulses_kg": 10.0, "oil_kg": 2.0, "eggs": 0}


def _report(school: str, tag: str, day: str = "2025-07-02") -> dict:
    return {"type": "attendance_reported", "event_id": f"bench-{tag}-{school}", "date": day, "school_id": school,
            "present": 60, "meals_served": {"primary": 55}}


async def _post(api: httpx.AsyncClient, events: list[dict], chunk: int = 5_000) -> list[int]:
    """Post in batches; the seqs of the acknowledged events."""
    seqs = []
    for start in range(0, len(events), chunk):
        for _ in range(30):
            answer = await api.post("/api/v1/events", json={"events": events[start:start + chunk]})
            if answer.status_code not in (429, 503):
                break
            await asyncio.sleep(float(answer.headers.get("Retry-After", 1)))
        seqs += [r["seq"] for r in answer.json()["data"]["results"] if r.get("seq")]
    return seqs


def _measure_page(base: str, token: str, ids: list[str], events: int, seconds: float) -> dict:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            # a cold load, as a new viewer's: a fresh browser context (no cache) with the session put in
            # the tab before the page's scripts run (the benchmark's token has no account to sign in with)
            context = browser.new_context(base_url=base, viewport={"width": 1366, "height": 768})
            session = {"access": token, "refresh": "none", "expiresAt": time.time() * 1000 + 86_400_000,
                       "user": {"id": 0, "full_name": "Benchmark", "role": "state_admin", "district": None,
                                "block": None, "school_id": None}}
            context.add_init_script(script=f"sessionStorage.setItem('mealtwin.session', {json.dumps(json.dumps(session))})")
            page = context.new_page()
            transferred = [0]

            def count(request) -> None:  # noqa: ANN001
                sizes = request.sizes()
                transferred[0] += sizes["responseBodySize"] + sizes["responseHeadersSize"]

            page.on("requestfinished", count)
            started = time.perf_counter()
            page.goto("/")
            page.wait_for_selector(f"#school-map[data-schools-drawn='{len(ids)}']", timeout=120_000)
            first_render_s = time.perf_counter() - started
            page.wait_for_selector("#connection[data-state=live]", timeout=60_000)
            bytes_first_load = transferred[0]
            drawn = int(page.get_attribute("#school-map", "data-schools-drawn"))

            within_day, new_day = [], []
            with httpx.Client(base_url=base, timeout=60, headers={"Authorization": f"Bearer {token}"}) as api:
                _time_batch(api, page, _spread(ids, 0, "e-open", _SCHOOL_DAY))  # opens the day, untimed
                for k in range(events):  # reports of other schools the same day, as a school day's feed
                    within_day.append(_time_batch(api, page, _spread(ids, k + 1, f"e{k}", _SCHOOL_DAY)))
                for k in range(_NEW_DAYS):  # each the first report of a new day
                    day = f"2025-07-{3 + k:02d}"
                    new_day.append(_time_batch(api, page, _spread(ids, events + k + 1, f"n{k}", day)))
            latencies, to_send, to_pixel = (
                [t[i] for t in within_day if t is not None] for i in range(3))
            opening = [t[0] for t in new_day if t is not None]

            frames = page.evaluate("""async rounds => {
                const m = window.mealtwinMap, times = [];
                for (let k = 0; k < rounds; k++) {
                    const levels = new Uint8Array(m.map.n);
                    for (let i = 0; i < levels.length; i++) levels[i] = (Math.random() * 4) | 0;
                    const t = performance.now();
                    m.recolour(levels);
                    times.push(performance.now() - t);
                    await new Promise(r => setTimeout(r, 1000));
                }
                return times;
            }""", max(3, int(seconds)))  # a recolour a second for `seconds`
        finally:
            browser.close()
    return {"schools_drawn": drawn, "first_render_s": round(first_render_s, 3), "bytes_first_load": bytes_first_load,
            "event_to_pixel_p50_ms": _pct(latencies, 50), "event_to_pixel_p95_ms": _pct(latencies, 95),
            "event_to_send_p50_ms": _pct(to_send, 50), "event_to_send_p95_ms": _pct(to_send, 95),
            "send_to_pixel_p50_ms": _pct(to_pixel, 50), "send_to_pixel_p95_ms": _pct(to_pixel, 95),
            "events_measured": len(latencies),
            "event_to_pixel_new_day_p50_ms": _pct(opening, 50), "event_to_pixel_new_day_max_ms": max(opening, default=None),
            "frame_ms_p95": _pct(frames, 95)}


_SCHOOL_DAY = "2025-07-02"
_NEW_DAYS = 3


def _spread(ids: list[str], k: int, tag: str, day: str) -> list[dict]:
    """50 attendance reports of `day`, schools spread over the state (its view moves once every
    shard has applied its part), a different 50 for each `k`."""
    step = max(1, len(ids) // 50)
    return [_report(ids[(k + j * step) % len(ids)], tag, day) for j in range(min(50, len(ids)))]


def _time_batch(api: httpx.Client, page, batch: list[dict]) -> tuple[float, float, float] | None:  # noqa: ANN001
    """Post `batch`, wait for the page to apply the view holding it: (acknowledgement to applied,
    to sent, sent to applied) in ms, or None after 10 s."""
    answer = api.post("/api/v1/events", json={"events": batch})
    acked_ms = time.time() * 1000
    seq = max(r["seq"] for r in answer.json()["data"]["results"] if r.get("seq"))
    deadline = time.monotonic() + 10
    found = None
    while time.monotonic() < deadline:
        shown = page.get_attribute("#figures", "data-seq")
        if shown is not None and int(shown) >= seq:
            applied_ms = float(page.get_attribute("#figures", "data-applied-at"))
            sent_ms = float(page.get_attribute("#figures", "data-sent-at"))
            found = (applied_ms - acked_ms, sent_ms - acked_ms, applied_ms - sent_ms)
            break
        time.sleep(0.01)
    time.sleep(0.5)
    return found


async def _viewers(base: str, token: str, api: httpx.AsyncClient, ids: list[str], n: int, seconds: float) -> dict:
    import websockets

    url = base.replace("http", "ws", 1) + f"/api/v1/ws/dashboard?scope=state&access_token={token}"
    received = [0] * n
    dropped = [False] * n

    async def viewer(k: int, stop: asyncio.Event) -> None:
        try:
            async with websockets.connect(url, open_timeout=60, max_size=2**24) as ws:
                while not stop.is_set():
                    try:
                        message = json.loads(await asyncio.wait_for(ws.recv(), 1.0))
                    except TimeoutError:
                        continue
                    if message.get("type") in ("snapshot", "delta"):
                        received[k] += 1
        except Exception:  # noqa: BLE001 - a viewer the twin closed or never let in
            dropped[k] = True

    stop = asyncio.Event()
    tasks = [asyncio.create_task(viewer(k, stop)) for k in range(n)]
    await asyncio.sleep(2)
    started = time.monotonic()
    k = 0
    while time.monotonic() - started < seconds:
        await _post(api, [_report(s, f"v{k}", f"2025-07-{2 + k % 20:02d}") for s in ids[(k * 500) % len(ids):][:500]])
        k += 1
        await asyncio.sleep(1)
    stop.set()
    await asyncio.gather(*tasks)
    return {"viewers": n, "ws_dropped": sum(dropped), "ws_views_median": statistics.median(received) if received else 0}


def _pct(values: list[float], q: int) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))], 1)
