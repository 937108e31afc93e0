"""Which districts each shard actor hosts."""

from __future__ import annotations

import numpy as np


def pack_districts(school_district: np.ndarray, n_districts: int, n_shards: int) -> list[list[int]]:
    """Split districts over `n_shards` with about equal schools in each (largest first, each to
    the lightest shard). With `n_shards == n_districts` every district gets its own shard."""
    n_shards = max(1, min(n_shards, n_districts))
    sizes = np.bincount(school_district.astype(np.int64), minlength=n_districts)
    if n_shards == n_districts:
        return [[d] for d in range(n_districts)]
    shards: list[list[int]] = [[] for _ in range(n_shards)]
    load = np.zeros(n_shards, np.int64)
    for d in np.argsort(-sizes, kind="stable"):
        k = int(np.argmin(load))
        shards[k].append(int(d))
        load[k] += sizes[d]
    return [sorted(s) for s in shards]


def shard_of_district(placement: list[list[int]], n_districts: int) -> np.ndarray:
    """int32 [n_districts]: the shard hosting each district."""
    out = np.full(n_districts, -1, np.int32)
    for k, districts in enumerate(placement):
        out[districts] = k
    return out


def spread_over_nodes(loads: list[int], capacities: list[float]) -> list[int]:
    """The node (an index into `capacities`) each shard goes to: the heaviest shard first, each to
    the node whose load would be lowest for its capacity, so a node of twice the CPUs takes about
    twice the schools. Ties go to the earlier node, so the same cluster gets the same plan."""
    if not capacities:
        raise ValueError("no node to place shards on")
    weight = np.asarray(capacities, np.float64)
    if (weight <= 0).any():
        raise ValueError("every node needs a positive capacity")
    load = np.zeros(len(weight), np.float64)
    node_of = [0] * len(loads)
    for k in np.argsort(-np.asarray(loads, np.int64), kind="stable"):
        node = int(np.argmin((load + max(loads[k], 1)) / weight))
        node_of[k] = node
        load[node] += max(loads[k], 1)  # an empty shard still costs a process: it counts as one school
    return node_of


def shard_loads(placement: list[list[int]], school_district: np.ndarray, n_districts: int) -> list[int]:
    """Schools on each shard of `placement`."""
    sizes = np.bincount(school_district.astype(np.int64), minlength=n_districts)
    return [int(sizes[districts].sum()) for districts in placement]
