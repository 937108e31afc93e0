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
