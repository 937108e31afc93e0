"""What runs where on a Ray cluster of the twin, seen by a driver of its own:
`python -m tests.actors.cluster_probe status|recovered [LOST_PIDS]` with `RAY_ADDRESS` (and the
cluster's token) and `MEALTWIN_DATABASE_URL` set. Prints one line of JSON.

A process holds one Ray connection, and a test session's shared Ray is not the cluster under test:
so the test asks this program. `recovered` waits until no shard answers from a pid of
`LOST_PIDS` (those of a dead node) and every shard has folded the log to its end, then also
compares each shard with a shard folded afresh from the whole log, here, without Ray.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import numpy as np

RECOVERY_TIMEOUT_S = 120


async def probe(command: str, lost_pids: set[int]) -> dict:
    import ray
    # Ray's own actor table: its state API would need the dashboard
    from ray._private.state import actors

    from actors.names import ACCESS_ACTOR, BROKER_ACTOR, NAMESPACE, STATE_ACTOR, shard_name
    from configs import Settings

    ray.init(namespace=NAMESPACE, log_to_driver=False)
    try:
        state = ray.get_actor(STATE_ACTOR, namespace=NAMESPACE)
        placement = await state.get_placement.remote()
        shards = [ray.get_actor(shard_name(k), namespace=NAMESPACE) for k in range(len(placement))]
        settings = Settings()
        statuses = await (_recovered(shards, lost_pids, settings.database_url) if command == "recovered"
                          else asyncio.gather(*(s.status.remote() for s in shards)))
        table = actors()
        alive = {a["Name"]: a["Address"]["NodeID"] for a in table.values() if a["State"] == "ALIVE" and a["Name"]}
        report = {
            "nodes": {n["NodeID"]: n["Alive"] for n in ray.nodes()},
            "head": next(n["NodeID"] for n in ray.nodes() if n["Alive"] and "node:__internal_head__" in n["Resources"]),
            "shards": [{k: s[k] for k in ("node", "pid", "applied_seq", "replayed")} for s in statuses],
            "replica_nodes": sorted(a["Address"]["NodeID"] for a in table.values()
                                    if a["ActorClassName"].startswith("ServeReplica:mealtwin") and a["State"] == "ALIVE"),
            "singletons": {name: alive.get(name) for name in (STATE_ACTOR, BROKER_ACTOR, ACCESS_ACTOR)},
        }
        if command == "recovered":
            report["equal_to_fresh_fold"] = await _equal_to_fresh_fold(shards, placement, settings.database_url)
        return report
    finally:
        ray.shutdown()


async def _recovered(shards: list, lost_pids: set[int], database_url: str) -> list[dict]:
    from sqlalchemy import text

    from db.engine import create_engine

    engine = create_engine(database_url)
    try:
        deadline = time.monotonic() + RECOVERY_TIMEOUT_S
        while True:
            async with engine.connect() as connection:
                log_end = (await connection.execute(text("SELECT MAX(seq) FROM events"))).scalar()
            try:
                statuses = await asyncio.wait_for(asyncio.gather(*(s.status.remote() for s in shards)), 10)
                if not lost_pids & {s["pid"] for s in statuses} and {s["applied_seq"] for s in statuses} == {log_end}:
                    return list(statuses)
            except Exception:  # noqa: BLE001 - a shard is restarting
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("the shards of the dead node did not come back")
            await asyncio.sleep(0.5)
    finally:
        await engine.dispose()


async def _equal_to_fresh_fold(shards: list, placement: list[list[int]], database_url: str) -> list[bool]:
    """Per shard, whether its roll-ups and applied seq are those of a shard folded afresh, in this
    process, from the whole log (no snapshot)."""
    from actors.district_shard import DistrictShard
    from startup.actor_ports import open_shard_ports

    ports = await open_shard_ports(database_url)
    try:
        out = []
        for handle, districts in zip(shards, placement):
            reference = DistrictShard(districts, ports.directory, ports.enrolment, ports.event_log, _NoSnapshots())
            await reference.recover()
            live = await handle.district_rows.remote()
            fresh = reference.district_rows()
            out.append(bool(live["applied_seq"] == reference.applied_seq
                            and np.allclose(live["rows"], fresh["rows"], rtol=1e-9, atol=1e-9, equal_nan=True)))
        return out
    finally:
        await ports.close()


class _NoSnapshots:
    async def latest(self, district):  # noqa: ANN001, ANN201
        return None


def main() -> None:
    lost = set(json.loads(sys.argv[2])) if len(sys.argv) > 2 else set()
    print(json.dumps(asyncio.run(probe(sys.argv[1], lost))))


if __name__ == "__main__":
    main()
