"""The neighbour graph the cascade kernel runs over: schools near each other, and each school's depot.

Nodes are the schools plus one node per block depot. A school is joined to the schools within
`radius_km` of it (at most its `k_max` nearest; i~j when either lists the other, so the graph is
undirected) and to its depot. Inactive schools keep their node but have no edges. Edges carry no
weights: the cascade uses uniform weights 1/degree, so the graph is only int32 indices (CSR).

Schools come first, in Morton (Z-curve) order of their projected position, so that a school's
neighbours sit near it in memory: the propagation kernels gather neighbour values, and a gather
that misses the cache stalls them (measured: a full propagation over 1.08M schools is ~1.5x faster
than in the generator's block-by-block order). Depots come last, node `n_schools + depot`: a school's depot is
the last (largest) entry of its sorted row, which lets the Jacobi kernel add each school into its
depot's sum as it passes, instead of gathering the depot's thousands of scattered schools. Within
each window of 1,024 schools (in Morton order) schools are then sorted by degree: the kernels loop
over a row's neighbours, and runs of equal row lengths let the CPU predict where each loop ends
(measured: a sweep over 43k schools ~25% faster; a window is small enough to stay in cache).

The graph is immutable. Adding, removing, activating or closing schools means building it again
(`mealtwin bench cascade` reports what that costs as `graph_build_ms`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange
from scipy.spatial import cKDTree

EARTH_RADIUS_KM = 6371.0088  # mean radius, as the haversine references use
_MORTON_BITS = 16  # per axis: ~10 m cells over the state, finer than any school spacing matters
_DEGREE_WINDOW = 1_024  # schools reordered by degree within windows this long (see the module doc)


@dataclass(frozen=True)
class NeighbourGraph:
    """An undirected graph over schools and depots, in CSR form, in node space: nodes
    [0, n_schools) are schools (Morton order, by degree within windows), nodes [n_schools, n_nodes)
    depots (depot order).

    `indptr` int64 [n_nodes + 1] and `indices` int32 [n_edges * 2] (each edge stored from both ends,
    each row sorted ascending). `node_school` int32 [n_nodes]: the school a node is, -1 for a depot;
    `node_depot` int32 [n_nodes]: the depot a node is, -1 for a school. `school_node` int32
    [n_schools] and `depot_node` int32 [n_depots] map back. `school_depot` int32 [n_schools] and
    `active` bool [n_schools] are the inputs the graph was built from.
    """

    n_schools: int
    n_nodes: int
    indptr: np.ndarray
    indices: np.ndarray
    node_school: np.ndarray
    school_node: np.ndarray
    depot_node: np.ndarray
    node_depot: np.ndarray
    school_depot: np.ndarray
    active: np.ndarray

    @property
    def n_depots(self) -> int:
        return self.n_nodes - self.n_schools

    @property
    def n_edges(self) -> int:
        """Undirected edges (school-school and school-depot)."""
        return int(self.indptr[-1]) // 2

    def degree(self) -> np.ndarray:
        """int64 [n_nodes]."""
        return np.diff(self.indptr)


def build_graph(
    latitude_deg: np.ndarray,
    longitude_deg: np.ndarray,
    depot: np.ndarray,
    active: np.ndarray,
    radius_km: float = 5.0,
    k_max: int = 8,
    *,
    n_depots: int | None = None,
) -> NeighbourGraph:
    """Build the graph of `n` schools: positions float64 [n] (degrees), `depot` int [n] (the depot
    each school draws stock from, in [0, n_depots); default `n_depots` is `depot.max() + 1`),
    `active` bool [n]. Distances are great-circle (exact, via chords on the sphere)."""
    lat = np.asarray(latitude_deg, np.float64)
    lon = np.asarray(longitude_deg, np.float64)
    depot = np.asarray(depot)
    active = np.asarray(active, bool)
    n = lat.shape[0]
    if lat.ndim != 1 or lon.shape != (n,) or depot.shape != (n,) or active.shape != (n,):
        raise ValueError("latitude_deg, longitude_deg, depot and active must all be [n]")
    if not (np.isfinite(lat).all() and np.isfinite(lon).all()):
        raise ValueError("positions must be finite")
    if not radius_km > 0 or k_max < 1:
        raise ValueError("radius_km must be > 0 and k_max >= 1")
    if n_depots is None:
        n_depots = int(depot.max()) + 1 if n else 0
    if n and (depot.min() < 0 or depot.max() >= n_depots):
        raise ValueError("depot index out of range")
    depot = depot.astype(np.int32)

    n_nodes = n + n_depots
    node_school = np.full(n_nodes, -1, np.int32)
    node_school[:n] = _school_order(lat, lon)
    node_depot = np.full(n_nodes, -1, np.int32)
    node_depot[n:] = np.arange(n_depots)
    school_node = np.empty(n, np.int32)
    school_node[node_school[:n]] = np.arange(n, dtype=np.int32)
    depot_node = np.arange(n, n_nodes, dtype=np.int32)

    # Active schools in node (Morton) order: the tree answers nearby queries from warm caches.
    active_node = np.flatnonzero(active[node_school[:n]]).astype(np.int32)
    active_school = node_school[active_node]
    near = _nearest(lat[active_school], lon[active_school], radius_km, k_max)
    near_node = np.where(near >= 0, active_node[np.maximum(near, 0)], -1).astype(np.int32)
    indptr, indices = _symmetric_csr(n_nodes, active_node, near_node, depot_node[depot[active_school]])

    # Within each window of Morton-ordered schools, schools of equal degree go together.
    degree = np.diff(indptr[:n + 1])
    window = np.arange(n) // _DEGREE_WINDOW
    new_to_old = np.concatenate((np.lexsort((degree, window)), np.arange(n, n_nodes))).astype(np.int32)
    old_to_new = np.empty(n_nodes, np.int32)
    old_to_new[new_to_old] = np.arange(n_nodes, dtype=np.int32)
    indptr, indices = _relabel(indptr, indices, new_to_old, old_to_new)
    node_school = node_school[new_to_old]
    school_node = old_to_new[school_node]
    return NeighbourGraph(n, n_nodes, indptr, indices, node_school, school_node, depot_node, node_depot,
                          depot, active.copy())


def _unit_vectors(lat_deg: np.ndarray, lon_deg: np.ndarray) -> np.ndarray:
    lat, lon = np.radians(lat_deg), np.radians(lon_deg)
    c = np.cos(lat)
    return np.column_stack((c * np.cos(lon), c * np.sin(lon), np.sin(lat)))


def _nearest(lat, lon, radius_km, k_max) -> np.ndarray:  # noqa: ANN001
    """For each point, its (up to) `k_max` nearest other points within `radius_km` as int64
    positions, nearest first, padded with -1. On the unit sphere the chord
    grows with the great-circle distance, so a 3-d tree over chords ranks neighbours exactly."""
    points = _unit_vectors(lat, lon)
    m = points.shape[0]
    if m == 0:
        return np.empty((0, k_max), np.int64)
    chord = 2.0 * np.sin(radius_km / (2.0 * EARTH_RADIUS_KM))
    # one more than k_max: a school finds itself first (unless another stands on the same spot)
    _, idx = cKDTree(points).query(points, k=k_max + 1, distance_upper_bound=chord, workers=-1)
    return _drop_self(idx.astype(np.int64), m, k_max)


@njit(cache=True, parallel=True)
def _drop_self(idx, m, k_max):
    out = np.full((idx.shape[0], k_max), -1, np.int64)
    for i in prange(idx.shape[0]):
        j = 0
        for q in range(idx.shape[1]):
            v = idx[i, q]
            if v < m and v != i and j < k_max:
                out[i, j] = v
                j += 1
    return out


def _school_order(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """int64 [n]: schools in Morton order of the equirectangular projection (km) about their mean
    latitude."""
    if lat.size == 0:
        return np.empty(0, np.int64)
    y = np.radians(lat) * EARTH_RADIUS_KM
    x = np.radians(lon) * EARTH_RADIUS_KM * np.cos(np.radians(lat.mean()))
    return np.argsort(_morton(x, y), kind="stable")


def _morton(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """int64 Z-curve keys of points, each axis quantised to `_MORTON_BITS` over its range."""
    if x.size == 0:
        return np.empty(0, np.int64)
    top = (1 << _MORTON_BITS) - 1

    def quantise(v: np.ndarray) -> np.ndarray:
        span = max(float(v.max() - v.min()), 1e-9)
        return np.minimum(((v - v.min()) / span * top).astype(np.int64), top)

    return _spread(quantise(x)) | (_spread(quantise(y)) << 1)


def _spread(v: np.ndarray) -> np.ndarray:
    """Insert a zero bit after each of the low 16 bits of v (bit interleaving for Morton keys)."""
    v = (v | (v << 8)) & 0x00FF00FF
    v = (v | (v << 4)) & 0x0F0F0F0F
    v = (v | (v << 2)) & 0x33333333
    return (v | (v << 1)) & 0x55555555


@njit(cache=True, parallel=True)
def _symmetric_csr(n_nodes, school_node, near_node, depot_node):
    """CSR rows of the undirected graph: each listed pair (school, near) and (school, depot) from
    both ends, duplicates (pairs both sides listed) removed, rows sorted ascending."""
    m, k = near_node.shape
    degree = np.zeros(n_nodes + 1, np.int64)
    for i in range(m):
        a = school_node[i]
        for q in range(k):
            b = near_node[i, q]
            if b >= 0:
                degree[a + 1] += 1
                degree[b + 1] += 1
        degree[a + 1] += 1
        degree[depot_node[i] + 1] += 1
    start = np.cumsum(degree)
    fill = start[:-1].copy()
    raw = np.empty(start[-1], np.int32)
    for i in range(m):
        a = school_node[i]
        for q in range(k):
            b = near_node[i, q]
            if b >= 0:
                raw[fill[a]] = b
                fill[a] += 1
                raw[fill[b]] = a
                fill[b] += 1
        d = depot_node[i]
        raw[fill[a]] = d
        fill[a] += 1
        raw[fill[d]] = a
        fill[d] += 1
    unique = np.zeros(n_nodes + 1, np.int64)
    for r in prange(n_nodes):
        row = raw[start[r]:start[r + 1]]
        row.sort()
        u = 0
        for q in range(row.shape[0]):
            if q == 0 or row[q] != row[q - 1]:
                row[u] = row[q]
                u += 1
        unique[r + 1] = u
    indptr = np.cumsum(unique)
    indices = np.empty(indptr[-1], np.int32)
    for r in prange(n_nodes):
        indices[indptr[r]:indptr[r + 1]] = raw[start[r]:start[r] + unique[r + 1]]
    return indptr, indices


@njit(cache=True, parallel=True)
def _relabel(indptr, indices, new_to_old, old_to_new):
    """The CSR graph with node `new_to_old[r]` renamed `r`; rows stay sorted ascending."""
    n = new_to_old.shape[0]
    degree = np.zeros(n + 1, np.int64)
    for r in range(n):
        degree[r + 1] = indptr[new_to_old[r] + 1] - indptr[new_to_old[r]]
    new_indptr = np.cumsum(degree)
    new_indices = np.empty_like(indices)
    for r in prange(n):
        start = indptr[new_to_old[r]]
        row = new_indices[new_indptr[r]:new_indptr[r + 1]]
        for q in range(row.shape[0]):
            row[q] = old_to_new[indices[start + q]]
        row.sort()
    return new_indptr, new_indices
