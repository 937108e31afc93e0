"""The twin as operators run it on a cluster: a two-node Ray cluster started with Ray's own command
line (`ray start --head`, `ray start --address`, each node with its own folder and ports) on this
machine, `mealtwin up --ray-address <head>` on it, events sent through its HTTP API, and the
second node's raylet killed mid-ingest. The shards that lived there come back on the head with
nothing acknowledged lost and the state of a fresh fold of the log. Then a node is added again and
`serve deploy configs/serve.yaml` (Ray's CLI) deploys the API onto the cluster, a replica on each
node; the twin still answers and stops cleanly on SIGTERM. The twin's singletons (state actor,
stream broker) run on the head throughout.

What runs where is asked of the cluster by `tests.actors.cluster_probe`, a driver of its own.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from tests.fixtures.mealtwin_up import MealtwinUp
from tests.fixtures.ray_nodes import RayCluster, node_env

pytestmark = pytest.mark.ray  # Ray processes of its own: never beside others' under xdist

ROOT = Path(__file__).resolve().parents[2]
SERVE_CONFIG = ROOT / "configs" / "serve.yaml"
BATCHES, EVENTS_PER_BATCH, KILL_AFTER_BATCH = 12, 200, 4
PACE_AFTER_KILL_S = 1.0  # the batches after the kill span the node's death and its shards' restart
BATCH_DEADLINE_S = 120  # a batch is sent again (same event ids) until it is answered 200


def _probe(cluster: RayCluster, up: MealtwinUp, *args: str) -> dict:
    env = {**cluster.env, "RAY_ADDRESS": cluster.address, "MEALTWIN_DATABASE_URL": up.env["MEALTWIN_DATABASE_URL"]}
    done = subprocess.run([sys.executable, "-m", "tests.actors.cluster_probe", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _feed_key_and_batches(up: MealtwinUp) -> tuple[str, list[list[dict]]]:
    from cli.credentials import feed_api_key
    from configs import Settings
    from db.engine import create_engine
    from db.school_repository import SchoolRepository
    from tests.fixtures.events import random_events

    settings = Settings(data_dir=str(up.data_dir), database_url=up.env["MEALTWIN_DATABASE_URL"])

    async def work() -> tuple[str, list[list[dict]]]:
        engine = create_engine(settings.database_url)
        directory, _ = await SchoolRepository(engine).load_directory()
        await engine.dispose()
        batches = [random_events(directory, EVENTS_PER_BATCH, seed=k, prefix="c") for k in range(BATCHES)]
        return await feed_api_key(settings), batches

    return asyncio.run(work())


def _send(client: httpx.Client, batch: list[dict], refusals: list[int]) -> dict:
    """POST a batch until it is answered 200 (a client's retry: the same event ids, applied once)."""
    deadline = time.monotonic() + BATCH_DEADLINE_S
    while True:
        try:
            answer = client.post("/api/v1/events", json={"events": batch})
            if answer.status_code == 200:
                return answer.json()["data"]
            refusals.append(answer.status_code)
        except httpx.HTTPError:
            refusals.append(0)  # no answer at all: the connection broke
        assert time.monotonic() < deadline, f"a batch was not taken within {BATCH_DEADLINE_S}s: {refusals}"
        time.sleep(1)


def _config_on_port(path: Path, port: int) -> Path:
    config = yaml.safe_load(SERVE_CONFIG.read_text())
    config["http_options"]["port"] = port  # the only change: 8000 may be taken on a shared machine
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.timeout(900)
def test_mealtwin_up_on_a_two_node_cluster_loses_a_node_mid_ingest_then_serve_deploy(tmp_path):
    up = MealtwinUp(tmp_path, env={"MEALTWIN_SERVE_REPLICAS": "2", "MEALTWIN_PLACEMENT__MODE": "packed",
                                   "MEALTWIN_PLACEMENT__SHARDS": "4"})
    # the nodes carry the twin's settings, as a real cluster's would: `serve deploy` builds the
    # API in their processes from their environment
    cluster = RayCluster(node_env({k: v for k, v in up.env.items() if k.startswith("MEALTWIN_")}))
    up.env.update(cluster.auth_env)
    timings: dict[str, float] = {}
    clock = time.monotonic()
    try:
        cluster.start_head(num_cpus=1)
        worker = cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes(2)
        timings["cluster_s"] = time.monotonic() - clock

        up.start("--ray-address", cluster.address, "--no-feed")
        up.wait_for(r"mealtwin ready in", 300)
        assert "shards on 2 Ray nodes" in up.output, up.output
        timings["twin_s"] = time.monotonic() - clock
        before = _probe(cluster, up, "status")
        head = before["head"]
        worker_id = next(node for node in before["nodes"] if node != head)
        placed = [s["node"] for s in before["shards"]]
        assert set(placed) == {head, worker_id}, before  # placed by the code: both nodes hold shards
        assert sorted(before["replica_nodes"]) == sorted([head, worker_id])  # a replica on each node
        # the singletons on the head, deliberately: losing the worker takes neither the stream
        # broker's history nor the state actor with it
        singletons = {name: node for name, node in before["singletons"].items() if node is not None}
        assert {"state-twin", "stream-broker"} <= set(singletons) and set(singletons.values()) == {head}, before

        key, batches = _feed_key_and_batches(up)
        acked: list[tuple[str, int]] = []
        refusals: list[int] = []
        killed_at = 0.0
        with httpx.Client(base_url=f"http://127.0.0.1:{up.port}", timeout=60, headers={"X-API-Key": key}) as client:
            for k, batch in enumerate(batches):
                if killed_at:
                    time.sleep(PACE_AFTER_KILL_S)
                answer = _send(client, batch, refusals)
                acked += [(r["event_id"], r["seq"]) for r in answer["results"] if r["status"] in ("accepted", "correction")]
                if k + 1 == KILL_AFTER_BATCH:
                    worker.lose()  # as a machine dies: its raylet, shards and replica go at once
                    killed_at = time.monotonic()
        timings["ingest_after_kill_s"] = time.monotonic() - killed_at

        lost = [s["pid"] for s in before["shards"] if s["node"] == worker_id]
        after = _probe(cluster, up, "recovered", json.dumps(lost))
        timings["recovered_s"] = time.monotonic() - killed_at
        print({"timings": {k: round(v, 1) for k, v in timings.items()}, "refusals": refusals})  # shown on failure
        assert after["nodes"] == {head: True, worker_id: False}
        assert {name: after["singletons"][name] for name in singletons} == singletons  # never moved
        for was, now in zip(before["shards"], after["shards"]):
            assert now["node"] == head
            assert (now["pid"] != was["pid"]) == (was["node"] == worker_id)
        # ... recovered from their snapshots and the log after them (the batches sent meanwhile)
        assert sum(now["replayed"] for was, now in zip(before["shards"], after["shards"])
                   if was["node"] == worker_id) > 0

        # nothing acknowledged is lost: every acknowledged event is in the log under its seq, every
        # shard has folded the log to its end and equals a shard folded afresh from the whole log
        with sqlite3.connect(up.data_dir / "twin.db") as db:
            log = dict(db.execute("SELECT event_id, seq FROM events").fetchall())
        assert len(acked) > BATCHES * EVENTS_PER_BATCH // 2
        assert all(log.get(event_id) == seq for event_id, seq in acked)
        assert {s["applied_seq"] for s in after["shards"]} == {max(log.values())}
        assert after["equal_to_fresh_fold"] == [True] * len(after["shards"])

        # a node joins again; Ray's CLI deploys the API from configs/serve.yaml over both nodes
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes(2)
        deployed_before = _app_status(cluster)["last_deployed_time_s"]
        deployed = cluster.tool("serve", "deploy", str(_config_on_port(tmp_path / "serve.yaml", up.port)))
        assert deployed.returncode == 0, deployed.stderr
        _wait_for_config_replicas(cluster, deployed_before)
        served = _probe(cluster, up, "status")
        assert len(set(served["replica_nodes"])) == 2, served  # one replica on each live node
        timings["serve_deploy_s"] = time.monotonic() - clock
        with httpx.Client(base_url=f"http://127.0.0.1:{up.port}", timeout=60, headers={"X-API-Key": key}) as client:
            state = client.get("/api/v1/twin/state")
        assert state.status_code == 200, state.text
        assert state.json()["data"]["applied_seq_min"] == max(log.values())

        os.kill(up.proc.pid, signal.SIGTERM)
        assert up.wait_exit(120) == 0, up.output
        assert "mealtwin stopped" in up.output
        print({"timings": {k: round(v, 1) for k, v in timings.items()}})
    finally:
        up.kill_everything()
        cluster.stop()


def _app_status(cluster: RayCluster) -> dict:
    """The `mealtwin` application as `serve status` shows it ({} when it shows none)."""
    status = cluster.tool("serve", "status", timeout_s=60)
    assert status.returncode == 0, status.stderr
    return (yaml.safe_load(status.stdout) or {}).get("applications", {}).get("mealtwin", {})


def _wait_for_config_replicas(cluster: RayCluster, deployed_before: float, timeout_s: float = 240) -> None:
    """Until `serve status` shows the app deployed again (from the config) and running on two
    healthy replicas."""
    deadline = time.monotonic() + timeout_s
    app: dict = {}
    while time.monotonic() < deadline:
        app = _app_status(cluster)
        if (app.get("last_deployed_time_s", 0) > deployed_before and app.get("status") == "RUNNING"
                and app["deployments"]["api"]["replica_states"] == {"RUNNING": 2}):
            return
        time.sleep(2)
    raise AssertionError(f"the config's app did not run on two replicas within {timeout_s:.0f}s: {app}")
