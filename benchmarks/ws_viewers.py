"""Thousands of WebSocket viewers in one asyncio process, for `mealtwin bench streams --clients`.

Run as `python -m benchmarks.ws_viewers PLAN OUT`: PLAN is a JSON file with the base URLs and one
path per viewer (a school's stream, a dashboard scope or a district's alerts); OUT receives what
every viewer saw as numpy arrays. The process prints `connected N` once every viewer has connected
(or given up), then holds them until a line arrives on stdin, and last prints its own cost as JSON.

Kept lean on purpose, so that the viewers do not take the cores the twin is measured on: uvloop,
`websockets`' asyncio client, one task a viewer, and only (seq, arrival time) kept per message.
Viewers offer per-message compression as browsers do (unless the plan's `compression` is false).
"""

from __future__ import annotations

import array
import asyncio
import json
import resource
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import orjson

from startup.open_files import allow_open_files

KINDS = ("school", "dashboard", "alerts")
FAILURES: Counter[str] = Counter()  # why connection attempts failed, for the report


class Viewer:
    """One client: what it follows, and what reached it."""

    __slots__ = (
        "closed_early",
        "connected_at",
        "failed",
        "fell_behind",
        "kind",
        "messages",
        "path",
        "seqs",
        "times",
    )

    def __init__(self, path: str, kind: str) -> None:
        self.path, self.kind = path, kind
        self.connected_at = 0.0  # when its snapshot (or first message) arrived
        self.closed_early = 0  # the close code when the server closed it before the end
        self.failed = 0  # connection attempts that failed
        self.messages = 0
        self.fell_behind = 0  # notices that its queue was conflated
        self.seqs = array.array("q")  # per delta (or alert): the log seq it carries
        self.times = array.array("d")  # ... and when it arrived (time.time(), comparable across processes)

    def seen(self, message: dict, now: float) -> None:
        self.messages += 1
        kind = message.get("type")
        if kind == "snapshot" and not self.connected_at:
            self.connected_at = now
        elif kind == "delta":
            # a school's delta carries its latest event's seq; a dashboard view, the scope's applied seq
            data = message.get("data") or {}
            self.seqs.append(int(data["seq"]) if self.kind == "school" else int(message["seq"]))
            self.times.append(now)
        elif kind == "alert":
            self.seqs.append(int((message.get("data") or {}).get("seq", 0)))
            self.times.append(now)
        elif kind == "notice" and (message.get("data") or {}).get("fell_behind"):
            self.fell_behind += 1
        if kind in ("notice", "heartbeat") and not self.connected_at and self.kind == "alerts":
            self.connected_at = now  # an alerts stream starts with a notice, not a snapshot


async def _hold(viewer: Viewer, base: str, token: str, attempts: int, compression: bool = True) -> None:
    """Connect (retrying a refused or timed-out handshake, as a dashboard would) and read until
    cancelled by the driver's stop, or closed by the server (recorded: that is a drop)."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    sep = "&" if "?" in viewer.path else "?"
    uri = f"{base}{viewer.path}{sep}access_token={token}"
    for attempt in range(attempts):
        try:
            async with connect(uri, open_timeout=120, close_timeout=2, max_queue=64, ping_interval=None,
                               max_size=2**24, compression="deflate" if compression else None) as ws:
                async for raw in ws:
                    viewer.seen(orjson.loads(raw), time.time())
                viewer.closed_early = ws.close_code or 1006
                return
        except ConnectionClosed as exc:
            viewer.closed_early = exc.rcvd.code if exc.rcvd else 1006
            return
        except asyncio.CancelledError:
            return
        except Exception as exc:  # noqa: BLE001 - refused or timed out before the stream began
            viewer.failed += 1
            FAILURES[f"{type(exc).__name__}: {exc}"[:120]] += 1
            if attempt + 1 < attempts:
                await asyncio.sleep(1.0 + attempt)


async def main(plan_path: str, out_path: str) -> None:
    plan = json.loads(Path(plan_path).read_text())
    paths, kinds = plan["paths"], plan["kinds"]
    allow_open_files(len(paths) + 1024)
    viewers = [Viewer(p, k) for p, k in zip(paths, kinds)]
    started = time.time()
    cpu0 = time.process_time()
    tasks = []
    interval = 1.0 / plan["connect_per_s"]
    bases = plan["bases"]  # one address, or each replica's own (viewers spread over them in turn)
    for k, v in enumerate(viewers):  # paced: thousands of handshakes at once would time out at the server
        tasks.append(asyncio.create_task(_hold(v, bases[k % len(bases)], plan["token"], plan.get("attempts", 3),
                                               plan.get("compression", True))))
        await asyncio.sleep(interval)
    deadline = time.monotonic() + plan.get("connect_timeout_s", 300)
    while time.monotonic() < deadline:
        pending = sum(1 for v, t in zip(viewers, tasks) if not v.connected_at and not t.done())
        if pending == 0:
            break
        await asyncio.sleep(0.5)
    connected_s = time.time() - started
    print(f"connected {sum(1 for v in viewers if v.connected_at)} {connected_s:.1f}", flush=True)
    cpu_connect = time.process_time() - cpu0
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)  # the driver's "stop"
    cpu_hold = time.process_time() - cpu0 - cpu_connect
    held_s = time.time() - started - connected_s
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    counts = np.array([len(v.seqs) for v in viewers], np.int64)
    np.savez(out_path, kind=np.array([KINDS.index(v.kind) for v in viewers], np.int8),
             connected_at=np.array([v.connected_at for v in viewers]),
             closed_early=np.array([v.closed_early for v in viewers], np.int32),
             failed=np.array([v.failed for v in viewers], np.int32),
             messages=np.array([v.messages for v in viewers], np.int64),
             fell_behind=np.array([v.fell_behind for v in viewers], np.int64),
             offsets=np.concatenate([[0], np.cumsum(counts)]),
             seqs=np.frombuffer(b"".join(v.seqs.tobytes() for v in viewers), np.int64),
             times=np.frombuffer(b"".join(v.times.tobytes() for v in viewers), np.float64))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"max_rss_mib": round(rss), "cpu_s_connect": round(cpu_connect, 1),
                      "cpu_s_hold": round(cpu_hold, 1), "held_s": round(held_s, 1),
                      "connect_failures": dict(FAILURES.most_common(5))}), flush=True)


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main(sys.argv[1], sys.argv[2]))
