"""Shards spread over a cluster's nodes in proportion to what each node offers."""

import numpy as np
import pytest

from twin.placement import pack_districts, shard_loads, spread_over_nodes


def test_equal_nodes_take_equal_shares_of_the_schools():
    district = np.repeat(np.arange(38), np.arange(38) * 10 + 50)
    placement = pack_districts(district, 38, 8)
    loads = shard_loads(placement, district, 38)
    assert sum(loads) == len(district)
    node_of = spread_over_nodes(loads, [4, 4])
    per_node = np.bincount(node_of, weights=loads, minlength=2)
    assert sorted(np.bincount(node_of)) == [4, 4]
    assert abs(per_node[0] - per_node[1]) <= max(loads)


def test_a_node_of_twice_the_capacity_takes_about_twice_the_schools():
    loads = [100] * 9
    node_of = spread_over_nodes(loads, [2, 1])
    assert np.bincount(node_of).tolist() == [6, 3]


def test_one_node_takes_everything_and_the_plan_is_stable():
    assert spread_over_nodes([5, 3, 9], [1]) == [0, 0, 0]
    assert spread_over_nodes([5, 3, 9, 9], [1, 1]) == spread_over_nodes([5, 3, 9, 9], [1, 1])
    assert spread_over_nodes([9, 9], [1, 1]) == [0, 1]  # ties: the earlier node (the driver's) first


def test_empty_shards_still_spread_and_bad_capacities_are_refused():
    assert sorted(spread_over_nodes([0, 0, 0, 0], [1, 1])) == [0, 0, 1, 1]
    with pytest.raises(ValueError):
        spread_over_nodes([1], [])
    with pytest.raises(ValueError):
        spread_over_nodes([1], [1, 0])
