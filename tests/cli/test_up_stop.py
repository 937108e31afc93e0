"""`mealtwin up` as operators run it, one start per signal (each costs about a minute here), on a
small twin:

- the shards alone (`--no-api`), the API deployed onto them from `configs/serve.yaml` with Ray's
  own `serve deploy`, seen by `ray status` and `serve status` through `<data_dir>/ray.env`, then
  stopped as a service manager does (SIGTERM to its pid);
- the whole twin with its live feed, stopped as a terminal does (Ctrl-C: SIGINT to its process
  group).

Either way it stops in order (feed, Serve, shards after a final snapshot, broker, Ray), with
status 0, no stack dump, and no process of it left.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import time
from pathlib import Path

import httpx
import pytest
import yaml

from configs import Settings
from tests.fixtures.mealtwin_up import MealtwinUp, mealtwin_up, ray_tool  # noqa: F401 - fixture
from tests.fixtures.ports import free_port

START_S = 240  # a cold start on a busy two-core machine; usually under a minute
STOP_S = 90
SERVE_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "serve.yaml"


def _assert_stopped_in_order(up: MealtwinUp, status: int) -> None:
    output = up.output
    assert status == 0, output
    for dump in ("SIGTERM received", "*** ", "Traceback", "Aborted"):
        assert dump not in output, output
    steps = ["stopping in order", "stopping the API", "final snapshots of the shards", "shards stopped at log seq",
             "stopping Ray", "mealtwin stopped"]
    positions = [output.find(step) for step in steps]
    assert -1 not in positions and positions == sorted(positions), output
    assert up.survivors() == [], f"left running after the stop: {up.survivors()}"
    log_seq, snapshot_seq = up.log_and_snapshot_seqs()
    assert log_seq and snapshot_seq == log_seq  # every district snapshotted at the end of the log


def _config_on_port(path: Path, port: int) -> Path:
    """configs/serve.yaml with only the HTTP port changed (8000 may be taken on a shared machine)."""
    config = yaml.safe_load(SERVE_CONFIG.read_text())
    config["http_options"]["port"] = port
    path.write_text(yaml.safe_dump(config))
    return path


def _stock_deliveries(up: MealtwinUp, n: int) -> list[dict]:
    with sqlite3.connect(up.data_dir / "twin.db") as db:
        ids = [row[0] for row in db.execute("SELECT id FROM schools ORDER BY id LIMIT ?", (n,))]
    return [{"event_id": f"deploy-{k}", "type": "stock_delivered", "school_id": school, "date": "2025-07-01",
             "rice_kg": 100.0, "pulses_kg": 10.0, "oil_kg": 2.0, "eggs": 0} for k, school in enumerate(ids)]


def _wait_ready(base_url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/ready", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise AssertionError(f"{base_url}/ready did not answer 200 within {timeout_s:.0f}s")


@pytest.mark.timeout(START_S + STOP_S + 240)
def test_serve_deploy_of_the_config_onto_the_shards_ray_tools_then_sigterm(mealtwin_up, tmp_path):
    up = mealtwin_up("--no-api", env={"MEALTWIN_RAY_DASHBOARD": "true",
                                      "MEALTWIN_RAY_DASHBOARD_PORT": str(free_port())})
    up.wait_for(r"shards ready in", START_S)

    deployed = ray_tool(up, "serve", "deploy", str(_config_on_port(tmp_path / "serve.yaml", up.port)))
    assert deployed.returncode == 0, deployed.stderr
    base_url = f"http://127.0.0.1:{up.port}"
    _wait_ready(base_url, 180)
    settings = Settings(data_dir=str(up.data_dir), database_url=up.env["MEALTWIN_DATABASE_URL"])
    from cli.credentials import feed_api_key

    key = asyncio.run(feed_api_key(settings))
    events = _stock_deliveries(up, 50)
    answer = httpx.post(f"{base_url}/api/v1/events", json={"events": events}, headers={"X-API-Key": key}, timeout=60)
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["accepted"] == len(events)

    serve_status = ray_tool(up, "serve", "status")
    assert serve_status.returncode == 0, serve_status.stderr
    app = yaml.safe_load(serve_status.stdout)["applications"]["mealtwin"]
    assert app["status"] == "RUNNING" and app["deployments"]["api"]["replica_states"] == {"RUNNING": 2}
    ray_status = ray_tool(up, "ray", "status")
    assert ray_status.returncode == 0, ray_status.stderr
    assert "Active:" in ray_status.stdout and "CPU" in ray_status.stdout
    up.note_processes()
    assert any("DashboardAgent" in name for name in up.seen_names())  # of the processes that used to stay

    signalled = time.monotonic()
    os.kill(up.proc.pid, signal.SIGTERM)
    _assert_stopped_in_order(up, up.wait_exit(STOP_S))
    print(f"SIGTERM: stopped in {time.monotonic() - signalled:.1f}s")  # a figure for the README, not a check


@pytest.mark.timeout(START_S + STOP_S + 60)
def test_ctrl_c_stops_the_twin_with_its_feed_in_order(mealtwin_up):
    up = mealtwin_up()
    up.wait_for(r"feed: \w{3} \d\d \w{3} \d{4}: \d+ events", START_S)  # serving, with a school day fed
    ray_status = ray_tool(up, "ray", "status")  # the dashboard is off by default; `ray status` needs none
    assert ray_status.returncode == 0, ray_status.stderr

    up.note_processes()
    # the twin's actors serve people: not at Ray's batch niceness (15), behind every other process
    niceness = up.worker_niceness()
    assert any("Shard" in title for title in niceness) and set(niceness.values()) == {0}, niceness
    signalled = time.monotonic()
    os.killpg(up.proc.pid, signal.SIGINT)  # as a terminal does: the whole foreground process group
    _assert_stopped_in_order(up, up.wait_exit(STOP_S))
    print(f"SIGINT: stopped in {time.monotonic() - signalled:.1f}s")  # a figure for the README, not a check
