"""Cascade risk: how a school's shortage risk is raised by its neighbours' and its depot's.

Over a `NeighbourGraph`, with local risk `s` (float64 per node, a school's own risk; a depot's is
the mean of its active schools' unless given) and A the row-normalised adjacency (weights 1/degree),
the cascade pressure x is the fixed point of

    x = (1 - alpha) * s + alpha * A x        (an isolated node: x = s)

which exists and is unique for 0 < alpha < 1 (the map contracts by alpha in the max norm). A
school's neighbour-driven part is max(0, x - s); it is driven by its neighbours when x > s.

Three kernels compute x: `propagate` (Jacobi sweeps to convergence, parallel), `propagate_incremental`
(after a few local risks change: pushes the change out from those nodes only, touching just their
neighbourhood) and `propagate_batched` (many scenarios at once). `Cascade` holds the state the live
twin keeps between updates.

Error bound: with residual r = (1 - alpha) s + alpha A x - x, the error is |x - x*| <= max|r| /
(1 - alpha). Both kernels stop once the residual (Jacobi: the last change) is below `tol`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numba
import numpy as np
from numba import njit, prange

from twin.neighbour_graph import NeighbourGraph

_CHUNKS = 64  # work units per Jacobi sweep, balanced by edges: a depot's row is long
_U1, _U2 = np.uint64(1), np.uint64(2)  # numba turns uint64 + int64 into float64


def propagate(
    graph: NeighbourGraph, s_nodes: np.ndarray, alpha: float = 0.5, tol: float = 1e-12, max_iter: int = 1000,
    *, threads: int | None = None,
) -> tuple[np.ndarray, int]:
    """Cascade pressure float64 [n_nodes] from local risk `s_nodes` float64 [n_nodes] (node order),
    by Jacobi sweeps from x = s until the largest change in a sweep is below `tol`; also returns the
    number of sweeps (`max_iter` if it did not converge: alpha near 1 with a tiny tol).

    `threads` caps numba's threads for this call (default: numba's setting). Every sweep ends with
    all threads meeting; when other processes keep the cores busy, a thread waits for a core at
    each meeting, and one thread can be several times faster than two (`mealtwin bench cascade`)."""
    s = _check_s(graph, s_nodes)
    _check_alpha_tol(alpha, tol)
    x = s.copy()
    if graph.n_nodes == 0:
        return x, 0
    indptr, indices, bounds = _unsigned(graph, graph.n_schools)
    with _threads(threads):
        return _jacobi(indptr, indices, bounds, np.uint64(graph.n_schools), s, float(alpha), float(tol),
                       int(max_iter), x, np.empty_like(x))


def propagate_incremental(
    graph: NeighbourGraph,
    x_nodes: np.ndarray,
    delta_s_nodes_sparse: tuple[np.ndarray, np.ndarray],
    alpha: float = 0.5,
    tol: float = 1e-12,
    *,
    work: PushWork | None = None,
) -> int:
    """Update `x_nodes` (float64 [n_nodes], the converged pressure for the old s) in place after the
    local risks of nodes `delta_s_nodes_sparse[0]` (int [k]) change by `delta_s_nodes_sparse[1]`
    (float64 [k]; a node may repeat: its changes add up). Residuals are pushed from the changed nodes
    to the nodes that depend on them until every residual is at most `tol`; returns the number of
    distinct nodes whose pressure moved.

    `work` holds the residuals (and scratch space) between calls: pass the same one on every call
    for the same `x_nodes` so residuals below `tol` are kept rather than dropped (without it, the
    error after many updates could build up past `tol`). Without it a fresh one is made (O(n_nodes)).
    """
    nodes, delta = delta_s_nodes_sparse
    nodes = np.asarray(nodes, np.int64)
    delta = np.asarray(delta, np.float64)
    if nodes.ndim != 1 or delta.shape != nodes.shape:
        raise ValueError("node ids and deltas must both be [k]")
    if nodes.size and (nodes.min() < 0 or nodes.max() >= graph.n_nodes):
        raise ValueError("node id out of range")
    if not np.isfinite(delta).all():
        raise ValueError("risk changes must be finite")
    if x_nodes.shape != (graph.n_nodes,) or x_nodes.dtype != np.float64:
        raise ValueError("x_nodes must be float64 [n_nodes]")
    _check_alpha_tol(alpha, tol)
    if work is None:
        work = PushWork(graph)
    elif work.residual.shape != (graph.n_nodes,):
        raise ValueError("work was made for another graph")
    work.epoch += 1
    return _push(graph.indptr.view(np.uint64), graph.indices.view(np.uint32), work.inv_degree, float(alpha),
                 float(tol), x_nodes, nodes.astype(np.uint64), delta, work.residual, work.queued, work.queue,
                 work.stamp, work.epoch)


class PushWork:
    """Residuals carried between incremental updates, and the push kernel's scratch (O(n_nodes))."""

    def __init__(self, graph: NeighbourGraph) -> None:
        degree = graph.degree()
        self.inv_degree = np.divide(1.0, degree, out=np.zeros(graph.n_nodes), where=degree > 0)
        self.residual = np.zeros(graph.n_nodes)
        self.queued = np.zeros(graph.n_nodes, np.bool_)
        self.queue = np.empty(max(graph.n_nodes, 1), np.uint32)  # a ring: a node is queued at most once
        self.stamp = np.zeros(graph.n_nodes, np.int64)  # the last call (epoch) that moved each node
        self.epoch = 0


def propagate_batched(graph: NeighbourGraph, S_nodes: np.ndarray, alpha: float = 0.5, tol: float = 1e-12,
                      max_iter: int = 1000) -> np.ndarray:
    """Pressure float64 [n_nodes, m] for m scenarios of local risk `S_nodes` float64 [n_nodes, m]
    (a column per scenario), by Jacobi sweeps until no value changes by `tol` or more."""
    S = np.ascontiguousarray(S_nodes, np.float64)
    if S.ndim != 2 or S.shape[0] != graph.n_nodes:
        raise ValueError("S_nodes must be [n_nodes, m]")
    if not np.isfinite(S).all():
        raise ValueError("local risk must be finite (no NaN)")
    _check_alpha_tol(alpha, tol)
    X = S.copy()
    if S.size == 0:
        return X
    X, _ = _jacobi_batched(*_unsigned(graph, graph.n_nodes), S, float(alpha), float(tol), int(max_iter), X,
                           np.empty_like(X))
    return X


def depot_local(graph: NeighbourGraph, s_school: np.ndarray) -> np.ndarray:
    """float64 [n_depots]: each depot's local risk, the mean of its active schools' (0 if none)."""
    d = graph.school_depot[graph.active]
    total = np.bincount(d, s_school[graph.active], graph.n_depots)
    count = np.bincount(d, minlength=graph.n_depots)
    return np.divide(total, count, out=np.zeros(graph.n_depots), where=count > 0)


INCREMENTAL_ACCURACY = 2e-10  # how far incremental updates may leave a pressure from a full propagation


class Cascade:
    """The cascade state the live twin holds: local risk and pressure per node, kept current by
    incremental updates. Not thread-safe: one owner calls it. `threads` is passed to `propagate`
    (1 for an owner that shares its cores with busy processes)."""

    def __init__(self, graph: NeighbourGraph, alpha: float = 0.5, tol: float = 1e-12,
                 threads: int | None = None, incremental_tol: float | None = None) -> None:
        _check_alpha_tol(alpha, tol)
        self.graph, self.alpha, self.tol, self.threads = graph, float(alpha), float(tol), threads
        # A push stops where a residual falls below this; what is left there moves a pressure by at
        # most about tol / (1 - alpha). Scaled so that stays near INCREMENTAL_ACCURACY: far below
        # what a score shows (0.01 of 100 points is 1e-4), and a change touches a neighbourhood, not
        # half the state as it would chasing 1e-12.
        self.incremental_tol = float(incremental_tol if incremental_tol is not None
                                     else INCREMENTAL_ACCURACY * (1.0 - self.alpha))
        _check_alpha_tol(alpha, self.incremental_tol)
        self._s = np.zeros(graph.n_nodes)
        self._x = np.zeros(graph.n_nodes)
        self._work = PushWork(graph)
        self._depots_follow_schools = True
        n_active = np.bincount(graph.school_depot[graph.active], minlength=graph.n_depots)
        # how much one active school's change moves its depot's mean
        self._depot_share = np.where(graph.active, 1.0 / np.maximum(n_active[graph.school_depot], 1), 0.0)

    def set_local(self, s_school: np.ndarray, s_depot: np.ndarray | None = None) -> int:
        """Set every school's local risk (float64 [n_schools]) and, if given, every depot's
        (float64 [n_depots]; otherwise each is the mean of its active schools', and follows them on
        `update_local`); propagate in full. Returns the Jacobi sweeps taken."""
        g = self.graph
        s_school = _finite(s_school, (g.n_schools,), "s_school")
        self._depots_follow_schools = s_depot is None
        s_depot = depot_local(g, s_school) if s_depot is None else _finite(s_depot, (g.n_depots,), "s_depot")
        self._s[g.school_node] = s_school
        self._s[g.depot_node] = s_depot
        self._x, iterations = propagate(g, self._s, self.alpha, self.tol, threads=self.threads)
        self._work.residual[:] = 0.0  # the last sweep's residual is below alpha * tol: dropped
        return iterations

    def update_local(self, schools: np.ndarray, values: np.ndarray) -> int:
        """Set the local risk of `schools` (int [k]) to `values` (float64 [k] or a scalar; for a
        school listed twice the last value counts) and update the pressure incrementally. Returns
        the number of nodes whose pressure moved."""
        g = self.graph
        schools = np.asarray(schools, np.int64)
        values = np.broadcast_to(np.asarray(values, np.float64), schools.shape)
        if schools.ndim != 1:
            raise ValueError("schools must be [k]")
        if schools.size and (schools.min() < 0 or schools.max() >= g.n_schools):
            raise ValueError("school index out of range")
        if not np.isfinite(values).all():
            raise ValueError("local risk must be finite (no NaN)")
        last = schools.size - 1 - np.unique(schools[::-1], return_index=True)[1]
        schools, values = schools[last], values[last]
        nodes = g.school_node[schools]
        delta = values - self._s[nodes]
        self._s[nodes] = values
        if self._depots_follow_schools:
            depots = g.depot_node[g.school_depot[schools]]
            depot_delta = delta * self._depot_share[schools]
            np.add.at(self._s, depots, depot_delta)
            nodes, delta = np.concatenate((nodes, depots)), np.concatenate((delta, depot_delta))
        return propagate_incremental(g, self._x, (nodes, delta), self.alpha, self.incremental_tol, work=self._work)

    def pressure_by_school(self) -> np.ndarray:
        """float64 [n_schools]: cascade pressure x, in school order."""
        return self._x[self.graph.school_node]

    def local_by_school(self) -> np.ndarray:
        """float64 [n_schools]: local risk s, in school order."""
        return self._s[self.graph.school_node]

    def pressure_by_depot(self) -> np.ndarray:
        """float64 [n_depots]: cascade pressure x, in depot order."""
        return self._x[self.graph.depot_node]

    def explain(self, school: int, max_hops: int = 6) -> list[dict]:
        """Where the neighbour pressure on `school` comes from: from the school, step to the
        neighbour with the largest pressure (weights are uniform, so it contributes most) until a
        node whose own risk is at least its pressure (a source: self-driven) or `max_hops` steps.

        A node that is not a source has x > s, hence neighbours averaging above x: each step goes to
        a higher pressure, so the path never loops. Each step is {"node": "school" | "depot",
        "index": school or depot index, "local": s, "pressure": x}.
        """
        g = self.graph
        if not 0 <= school < g.n_schools:
            raise ValueError("school index out of range")
        node = int(g.school_node[school])
        path = [self._step(node)]
        for _ in range(max_hops):
            if self._s[node] >= self._x[node]:
                break
            row = g.indices[g.indptr[node]:g.indptr[node + 1]]
            node = int(row[np.argmax(self._x[row])])
            path.append(self._step(node))
        return path

    def sources(self, school: int, max_hops: int = 6) -> list[dict]:
        """The node(s) where `explain(school)`'s path ends: the self-driven source of the pressure
        (or the furthest node reached within `max_hops`)."""
        return self.explain(school, max_hops)[-1:]

    def _step(self, node: int) -> dict:
        g = self.graph
        school = int(g.node_school[node])
        return {"node": "school" if school >= 0 else "depot",
                "index": school if school >= 0 else int(g.node_depot[node]),
                "local": float(self._s[node]), "pressure": float(self._x[node])}


def _finite(a: np.ndarray, shape: tuple[int, ...], name: str) -> np.ndarray:
    a = np.asarray(a, np.float64)
    if a.shape != shape:
        raise ValueError(f"{name} must be {list(shape)}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} must be finite (no NaN)")
    return a


def _check_s(graph: NeighbourGraph, s_nodes: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(_finite(s_nodes, (graph.n_nodes,), "s_nodes"))


@contextmanager
def _threads(threads: int | None) -> Iterator[None]:
    """numba's thread count for the calling thread (numba keeps it per thread), restored after."""
    before = numba.get_num_threads()
    numba.set_num_threads(before if threads is None else max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    try:
        yield
    finally:
        numba.set_num_threads(before)


def _check_alpha_tol(alpha: float, tol: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError("alpha must be in (0, 1)")
    if not tol > 0.0:
        raise ValueError("tol must be > 0")


def _unsigned(graph: NeighbourGraph, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """uint64 indptr, uint32 indices (views) and uint64 [c + 1] ranges of nodes [0, n) of about
    equal work (rows plus edges) for the parallel sweeps."""
    indptr = graph.indptr
    chunks = max(1, min(_CHUNKS, n))
    work = indptr[:n + 1] + np.arange(n + 1)
    bounds = np.searchsorted(work, np.linspace(0, work[-1], chunks + 1)).astype(np.uint64)
    bounds[0], bounds[-1] = 0, n
    return indptr.view(np.uint64), graph.indices.view(np.uint32), bounds


@njit(cache=True, parallel=True, error_model="numpy")
def _jacobi(indptr, indices, bounds, n_schools, s, alpha, tol, max_iter, x, y):
    """Sweeps y = (1 - alpha) s + alpha A x until max|y - x| < tol; x and y swap each sweep. The
    change is reduced per chunk in the same pass, so a sweep reads the graph once.

    School rows are swept in parallel (chunks in `bounds`). A depot's row is not gathered: each
    active school's row ends with its depot (depots are the last nodes), so the sweep adds the
    school's value into its chunk's partial sum for that depot as it passes, and the depots are
    finished from those sums. Indices come unsigned (uint64 indptr and bounds, uint32 indices:
    views, no copies) so that indexing needs no negative-index wrap-around; two partial sums per
    row shorten the chain of dependent additions. Each of the three measured faster."""
    n_chunks = bounds.shape[0] - 1
    n_depots = x.shape[0] - n_schools
    change = np.zeros(n_chunks)
    depot_sum = np.zeros((n_chunks, n_depots))
    depot_total = np.zeros(n_depots)
    iterations = 0
    while iterations < max_iter:
        iterations += 1
        for c in prange(n_chunks):
            largest = 0.0
            depot_sum[c, :] = 0.0
            for i in range(bounds[c], bounds[c + 1]):
                lo, hi = indptr[i], indptr[i + 1]
                even, odd = 0.0, 0.0
                q = lo
                while q + _U2 <= hi:
                    even += x[indices[q]]
                    odd += x[indices[q + _U1]]
                    q += _U2
                if q < hi:
                    even += x[indices[q]]
                if hi > lo:
                    depot_sum[c, indices[hi - _U1] - n_schools] += x[i]
                    v = (1.0 - alpha) * s[i] + alpha * (even + odd) / (hi - lo)
                else:
                    v = s[i]
                largest = max(largest, abs(v - x[i]))
                y[i] = v
            change[c] = largest
        # Plain loops, not array expressions: numba would make each of those a parallel region
        # of its own, and every region costs the threads a meeting.
        largest = 0.0
        for d in range(n_depots):
            depot_total[d] = 0.0
        for c in range(n_chunks):  # chunk by chunk: rows of depot_sum are contiguous
            largest = max(largest, change[c])
            for d in range(n_depots):
                depot_total[d] += depot_sum[c, d]
        for d in range(n_depots):
            i = n_schools + d
            deg = indptr[i + 1] - indptr[i]
            v = (1.0 - alpha) * s[i] + alpha * depot_total[d] / deg if deg > 0 else s[i]
            largest = max(largest, abs(v - x[i]))
            y[i] = v
        x, y = y, x
        if largest < tol:
            break
    return x, iterations


@njit(cache=True, parallel=True, error_model="numpy")
def _jacobi_batched(indptr, indices, bounds, S, alpha, tol, max_iter, X, Y):
    """`_jacobi` for every column of S at once; the scenario axis is the inner, contiguous one."""
    n_chunks = bounds.shape[0] - 1
    m = S.shape[1]
    change = np.zeros(n_chunks)
    iterations = 0
    while iterations < max_iter:
        iterations += 1
        for c in prange(n_chunks):
            largest = 0.0
            for i in range(bounds[c], bounds[c + 1]):
                lo, hi = indptr[i], indptr[i + 1]
                if hi == lo:
                    for j in range(m):
                        Y[i, j] = S[i, j]
                else:
                    for j in range(m):
                        Y[i, j] = 0.0
                    for q in range(lo, hi):
                        k = indices[q]
                        for j in range(m):
                            Y[i, j] += X[k, j]
                    w = alpha / (hi - lo)
                    for j in range(m):
                        Y[i, j] = (1.0 - alpha) * S[i, j] + w * Y[i, j]
                for j in range(m):
                    d = abs(Y[i, j] - X[i, j])
                    if d > largest:
                        largest = d
            change[c] = largest
        X, Y = Y, X
        largest = 0.0
        for c in range(n_chunks):
            largest = max(largest, change[c])
        if largest < tol:
            break
    return X, iterations


@njit(cache=True, error_model="numpy")
def _push(indptr, indices, inv_degree, alpha, tol, x, nodes, delta, residual, queued, queue, stamp, epoch):
    """Push residuals from the changed nodes: taking a node u's residual r into x[u] adds
    alpha * r / deg(k) to the residual of each neighbour k (x[k] averages its deg(k) neighbours).
    In the norm sum_k deg(k) |r_k| each push shrinks the residual by (1 - alpha) deg(u) |r_u|, so it
    ends. Residuals at or below tol stay in `residual` for the next call.

    Nodes wait in a FIFO ring (queued at most once, so it never overflows): a node collects the
    pushes of a whole wave before its own. Deferring high-degree depots to the end of each wave
    was tried and made ten times more pushes. Returns how many nodes moved (stamp == epoch);
    leaves `queued` clear."""
    n = x.shape[0]
    head, tail, size = 0, 0, 0
    for e in range(nodes.shape[0]):
        u = nodes[e]
        residual[u] += delta[e] * ((1.0 - alpha) if indptr[u + 1] > indptr[u] else 1.0)
        if abs(residual[u]) > tol and not queued[u]:
            queued[u] = True
            queue[tail] = u
            tail = tail + 1 if tail + 1 < n else 0
            size += 1
    moved = 0
    while size > 0:
        u = queue[head]
        head = head + 1 if head + 1 < n else 0
        size -= 1
        queued[u] = False
        r = residual[u]
        if abs(r) <= tol:
            continue
        residual[u] = 0.0
        x[u] += r
        if stamp[u] != epoch:
            stamp[u] = epoch
            moved += 1
        share = alpha * r
        for q in range(indptr[u], indptr[u + _U1]):
            k = indices[q]
            v = residual[k] + share * inv_degree[k]
            residual[k] = v
            if not queued[k] and abs(v) > tol:  # most neighbours are queued already: test that first
                queued[k] = True
                queue[tail] = k
                tail = tail + 1 if tail + 1 < n else 0
                size += 1
    return moved
