"""The twin's shards and API replicas on a real two-node Ray cluster on this machine: spread over
both nodes, and when one node's raylet is killed mid-ingest, the shards it held come back on the
other node with nothing acknowledged lost and the state of a fresh fold of the log.

The cluster is its own (its own GCS, raylets and temporary folder), driven by
`tests.actors.multinode_drill` in a process of its own: the session's shared Ray stays connected
and untouched. Whatever the drill started is killed afterwards, by pid.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.ray

ROOT = Path(__file__).resolve().parents[2]
DRILL_TIMEOUT_S = 240


@pytest.fixture
def private_ray_dir():
    """A short private folder for the cluster's sessions and sockets (a socket's path has a length
    limit that pytest's own folders exceed)."""
    folder = tempfile.mkdtemp(prefix="mt-ray-", dir="/tmp")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _run_drill(workdir: Path, ray_dir: str) -> tuple[int, str]:
    """Run the drill; whatever it started (Ray's processes, which outlive a drill that crashed,
    reparented) is noted while it runs and killed by pid afterwards, pass or fail."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("RAY_")}, "RAY_TMPDIR": ray_dir}
    log_path = workdir / "drill.log"
    seen: dict[int, psutil.Process] = {}
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "tests.actors.multinode_drill", str(workdir)], cwd=ROOT,
                                env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + DRILL_TIMEOUT_S
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                for child in psutil.Process(proc.pid).children(recursive=True):
                    seen.setdefault(child.pid, child)
            except psutil.Error:
                pass
            time.sleep(0.5)
    finally:
        for child in [*seen.values()]:
            try:
                child.kill()  # psutil checks the start time: a reused pid is never signalled
            except psutil.Error:
                pass
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
    return proc.returncode, log_path.read_text(errors="replace")


def test_shards_spread_over_two_nodes_and_survive_losing_one_mid_ingest(private_ray_dir, tmp_path):
    returncode, output = _run_drill(tmp_path, private_ray_dir)
    assert returncode == 0, output[-4000:]
    report = json.loads((tmp_path / "drill.json").read_text())
    print({k: v for k, v in report.items() if k not in ("acked", "log")})  # shown when an assertion fails
    head, worker = report["head"], report["worker"]
    assert report["joined_not_started"]  # `RAY_ADDRESS` named the cluster: no Ray of its own

    # placed by the code: two shards on each node (equal CPUs; the schools split about evenly)
    before = report["before"]
    assert sorted(s["node"] for s in before) == sorted([head, head, worker, worker])
    # the API's two replicas, deployed as `mealtwin up` deploys them, run one on each node
    assert sorted(report["replica_nodes"]) == sorted([head, worker])

    # the worker is dead; its shards answer from new processes on the head, the others never moved
    assert report["node_alive"] == {head: True, worker: False}
    after = report["after"]
    for was, now in zip(before, after):
        assert now["node"] == head
        assert (now["pid"] != was["pid"]) == (was["node"] == worker)
    # ... recovered from their snapshots and the log after them (the batches sent meanwhile)
    assert sum(now["replayed"] for was, now in zip(before, after) if was["node"] == worker) > 0

    # nothing acknowledged is lost: every acknowledged event is in the log under its seq, and
    # every shard has folded the log to its end
    log = {event_id: seq for event_id, seq in report["log"]}
    assert report["acked"] and all(log.get(event_id) == seq for event_id, seq in report["acked"])
    assert {s["applied_seq"] for s in after} == {max(log.values())}
    # ... and each shard equals a shard folded afresh from the whole log
    assert report["equal_to_fresh_fold"] == [True] * len(after)
