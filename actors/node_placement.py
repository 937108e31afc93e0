"""Which Ray node each shard actor starts on, when the twin runs on a cluster of several.

Left to Ray, zero-CPU actors all start on the driver's own node: a cluster would hold every shard
on one machine, and lose all of them with it. So the driver spreads them itself, by the nodes'
resources: a node offering the custom resource `mealtwin_shards` hosts shards in proportion to
its amount (only such nodes do, once any node offers it: an operator keeps shards off a node by
not giving it the resource); without it, every node with CPUs hosts shards in proportion to its
CPUs. Each shard prefers its node (soft node affinity): when that node dies, Ray restarts the
shard on another one, where it recovers from snapshot and log. On one node nothing is asked of
Ray's scheduler at all: a single machine starts its shards exactly as it always did.

The twin's singletons (the state actor, the embedded stream broker, the API's access state, the
daily timers) are placed deliberately too: on the node offering the custom resource
`mealtwin_singletons`, else on the head node, whose loss ends the cluster anyway (its GCS goes
with it). A worker node dying then never takes the broker's history or the state actor with it.
The preference is soft: should that node be gone, Ray starts them on another.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from twin.placement import spread_over_nodes

log = logging.getLogger(__name__)

SHARD_RESOURCE = "mealtwin_shards"
SINGLETON_RESOURCE = "mealtwin_singletons"
HEAD_RESOURCE = "node:__internal_head__"  # Ray's own mark of the head node
# what one shard asks of `SHARD_RESOURCE`: so little that a node offering 1 takes any number, but
# enough that a restarted shard only goes where the resource is
_SHARD_SHARE = 0.001
# Ray places an actor that asks for no resource at all on a random node, whatever its scheduling
# strategy says (only a hard node affinity is obeyed): a shard placed on a node, and an API
# replica (which Serve spreads over the nodes), ask for a token of memory, which every node has
# and none can run short of, so that the strategy holds
TOKEN_MEMORY = 1024 * 1024


@dataclass(frozen=True)
class ShardNode:
    node_id: str
    capacity: float  # CPUs, or the amount of `SHARD_RESOURCE`


def shard_options(loads: Sequence[int], probe_timeout_s: float = 60.0) -> list[dict]:
    """Ray actor options for each shard (`loads`: its schools), in order; `{}` each on one node."""
    nodes = shard_nodes()
    asks = {"resources": {SHARD_RESOURCE: _SHARD_SHARE}} if _resource_offered() else {}
    if len(nodes) > 1:
        nodes = _schedulable(nodes, probe_timeout_s)
    if len(nodes) < 2:
        return [dict(asks) for _ in loads]
    plan = spread_over_nodes(list(loads), [n.capacity for n in nodes])
    asks = asks or {"memory": TOKEN_MEMORY}
    log.info("shards spread over %d nodes: %s", len(nodes),
             {nodes[i].node_id[:12]: plan.count(i) for i in range(len(nodes))})
    return [{**asks, "scheduling_strategy": NodeAffinitySchedulingStrategy(nodes[i].node_id, soft=True)} for i in plan]


def singleton_options() -> dict:
    """Ray actor options for one of the twin's singletons: `{}` on one node."""
    alive = [n for n in ray.nodes() if n.get("Alive")]
    if len(alive) < 2:
        return {}
    chosen = (next((n for n in alive if n["Resources"].get(SINGLETON_RESOURCE, 0) > 0), None)
              or next((n for n in alive if n["Resources"].get(HEAD_RESOURCE, 0) > 0), None))
    if chosen is None:
        return {}
    return {"memory": TOKEN_MEMORY, "scheduling_strategy": NodeAffinitySchedulingStrategy(chosen["NodeID"], soft=True)}


def shard_nodes() -> list[ShardNode]:
    """The live nodes that may host shards, the driver's own first, then by id (a stable order:
    the same cluster gets the same plan)."""
    alive = [n for n in ray.nodes() if n.get("Alive")]
    offered = _resource_offered(alive)
    unit = SHARD_RESOURCE if offered else "CPU"
    found = [ShardNode(n["NodeID"], float(n["Resources"].get(unit, 0))) for n in alive]
    own = ray.get_runtime_context().get_node_id()
    return sorted((n for n in found if n.capacity > 0), key=lambda n: (n.node_id != own, n.node_id))


def current_node() -> str:
    """The id of the node this process runs on."""
    return ray.get_runtime_context().get_node_id()


def _resource_offered(nodes: list[dict] | None = None) -> bool:
    nodes = [n for n in ray.nodes() if n.get("Alive")] if nodes is None else nodes
    return any(n["Resources"].get(SHARD_RESOURCE, 0) > 0 for n in nodes)


@ray.remote(num_cpus=0)
def _node_here() -> str:
    return ray.get_runtime_context().get_node_id()


def _schedulable(nodes: list[ShardNode], timeout_s: float) -> list[ShardNode]:
    """The nodes a task pinned to them has run on. A node that joined moments ago is known to the
    cluster before the driver's scheduler sees it, and a soft preference for a node it does not
    see yet silently lands on another: so each node is proven first (a node that stays silent is
    left out of the plan)."""
    probes = [_node_here.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n.node_id, soft=False)).remote()
              for n in nodes]
    done, pending = ray.wait(probes, num_returns=len(probes), timeout=timeout_s)
    for ref in pending:
        ray.cancel(ref, force=True)
    answered = set()
    for ref in done:
        try:
            answered.add(ray.get(ref))
        except ray.exceptions.RayError:
            pass  # the node died meanwhile
    missing = [n.node_id[:12] for n in nodes if n.node_id not in answered]
    if missing:
        log.warning("nodes %s did not run a task within %.0fs; no shard is placed there", missing, timeout_s)
    return [n for n in nodes if n.node_id in answered]
