"""`mealtwin up` stopped as a service manager (SIGTERM to its pid) and as a terminal (Ctrl-C: SIGINT
to its process group) stops it: in order (feed, Serve, shards after a final snapshot, broker,
Ray), with status 0, no stack dump, and no process of it left. While it runs, Ray's own tools see
it through the variables it writes to `<data_dir>/ray.env`.

One start per signal (each costs about a minute here), on a small twin with its live feed running.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from startup.ray_tools import read_ray_env
from tests.fixtures.mealtwin_up import MealtwinUp
from tests.fixtures.ports import free_port

START_S = 240  # a cold start on a busy two-core machine; usually about 60 s
STOP_S = 90
STOP_STEPS = ["stopping in order", "stopping the API", "final snapshots of the shards", "shards stopped at log seq",
              "stopping Ray", "mealtwin stopped"]


@pytest.fixture
def twin_up(tmp_path):
    started: list[MealtwinUp] = []

    def start(env: dict[str, str] | None = None) -> MealtwinUp:
        up = MealtwinUp(tmp_path, env)
        started.append(up)
        up.start()
        up.wait_for(r"feed: \w{3} \d\d \w{3} \d{4}: \d+ events", START_S)  # serving, with a day fed
        return up

    yield start
    for up in started:
        up.kill_everything()


def _ray_tool(up: MealtwinUp, *args: str) -> subprocess.CompletedProcess:
    """Ray's command line in a shell that has only read `ray.env` (no Ray variable of ours)."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("RAY_")},
           **read_ray_env(up.data_dir / "ray.env")}
    return subprocess.run([str(Path(sys.executable).with_name(args[0])), *args[1:]], env=env, capture_output=True,
                          text=True, timeout=60)


def _assert_stopped_in_order(up: MealtwinUp, status: int) -> None:
    output = up.output
    assert status == 0, output
    for dump in ("SIGTERM received", "*** ", "Traceback", "Aborted"):
        assert dump not in output, output
    positions = [output.find(step) for step in STOP_STEPS]
    assert -1 not in positions and positions == sorted(positions), output
    assert up.survivors() == [], f"left running after the stop: {up.survivors()}"
    log_seq, snapshot_seq = up.log_and_snapshot_seqs()
    assert log_seq and snapshot_seq == log_seq  # every district snapshotted at the end of the log


@pytest.mark.timeout(START_S + STOP_S + 120)
def test_ray_tools_see_the_twin_and_sigterm_stops_it_in_order(twin_up):
    up = twin_up({"MEALTWIN_RAY_DASHBOARD": "true", "MEALTWIN_RAY_DASHBOARD_PORT": str(free_port())})

    ray_status = _ray_tool(up, "ray", "status")
    assert ray_status.returncode == 0, ray_status.stderr
    assert "Active:" in ray_status.stdout and "CPU" in ray_status.stdout
    serve_status = _ray_tool(up, "serve", "status")
    assert serve_status.returncode == 0, serve_status.stderr
    assert "mealtwin:" in serve_status.stdout and "RUNNING" in serve_status.stdout
    up.note_processes()
    assert any("DashboardAgent" in name for name in up.seen_names())  # the processes that used to stay

    os.kill(up.proc.pid, signal.SIGTERM)
    _assert_stopped_in_order(up, up.wait_exit(STOP_S))


@pytest.mark.timeout(START_S + STOP_S + 60)
def test_ctrl_c_stops_the_twin_in_order(twin_up):
    up = twin_up()
    ray_status = _ray_tool(up, "ray", "status")  # the dashboard is off by default; `ray status` needs none
    assert ray_status.returncode == 0, ray_status.stderr

    up.note_processes()
    os.killpg(up.proc.pid, signal.SIGINT)  # as a terminal does: the whole foreground process group
    _assert_stopped_in_order(up, up.wait_exit(STOP_S))
