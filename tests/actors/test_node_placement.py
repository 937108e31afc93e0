"""Which nodes the driver spreads shards over, read from the cluster's nodes as Ray reports them
(`ray.nodes()`), without a cluster: the real one is `test_cluster_up`'s."""

import pytest

from actors import node_placement

A, B, C, D = (letter * 56 for letter in "abcd")  # Ray's node ids: 28 bytes in hex


def _node(node_id, cpus, alive=True, **resources):
    return {"NodeID": node_id, "Alive": alive, "Resources": {"CPU": cpus, "memory": 8e9, **resources}}


@pytest.fixture
def cluster(monkeypatch):
    """Set the nodes Ray would report; the driver runs on node B; every node answers its probe."""
    nodes: list[dict] = []
    monkeypatch.setattr(node_placement.ray, "nodes", lambda: nodes)
    monkeypatch.setattr(node_placement.ray, "get_runtime_context",
                        lambda: type("Context", (), {"get_node_id": staticmethod(lambda: B)})())
    monkeypatch.setattr(node_placement, "_schedulable", lambda found, timeout_s: found)
    return nodes


def _targets(options):
    return [o["scheduling_strategy"].node_id if "scheduling_strategy" in o else None for o in options]


def test_one_node_asks_nothing_of_rays_scheduler(cluster):
    cluster += [_node(B, 8), _node(D, 8, alive=False)]
    assert node_placement.shard_options([10, 20, 30]) == [{}, {}, {}]


def test_nodes_share_by_cpus_the_drivers_first_and_nodes_without_cpus_left_out(cluster):
    cluster += [_node(C, 2), _node(A, 0), _node(B, 2)]
    options = node_placement.shard_options([40, 30, 20, 10])
    assert _targets(options) == [B, C, C, B]
    assert all(o["scheduling_strategy"].soft for o in options)  # a dead node's shards restart elsewhere
    assert all(o["memory"] > 0 for o in options)  # Ray places actors asking nothing at random


def test_the_shard_resource_chooses_the_nodes_and_their_shares(cluster):
    cluster += [_node(B, 16), _node(C, 2, mealtwin_shards=2), _node(D, 2, mealtwin_shards=1)]
    options = node_placement.shard_options([10] * 6)
    assert sorted(_targets(options)) == [C] * 4 + [D] * 2
    # a restarted shard too may only go where the resource is
    assert all(o["resources"] == {node_placement.SHARD_RESOURCE: pytest.approx(0.001)} for o in options)


def test_a_silent_node_gets_no_shard(cluster, monkeypatch):
    cluster += [_node(B, 2), _node(C, 2)]
    monkeypatch.setattr(node_placement, "_schedulable", lambda found, timeout_s: [n for n in found if n.node_id == B])
    assert node_placement.shard_options([1, 2]) == [{}, {}]


def test_singletons_go_to_the_node_offering_their_resource_else_to_the_head(cluster):
    head = {node_placement.HEAD_RESOURCE: 1.0}
    cluster += [_node(B, 2), _node(C, 2, **head)]
    chosen = node_placement.singleton_options()
    assert chosen["scheduling_strategy"].node_id == C and chosen["scheduling_strategy"].soft  # elsewhere if C dies
    assert chosen["memory"] > 0  # so that Ray keeps to the preference

    cluster += [_node(D, 0, mealtwin_singletons=1)]
    assert node_placement.singleton_options()["scheduling_strategy"].node_id == D  # the operator's choice


def test_singletons_on_one_node_ask_nothing_of_rays_scheduler(cluster):
    cluster += [_node(B, 2, **{node_placement.HEAD_RESOURCE: 1.0}), _node(C, 2, alive=False)]
    assert node_placement.singleton_options() == {}
