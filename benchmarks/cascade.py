"""`mealtwin bench cascade`: the cascade kernels against scipy and plain Python, same graph, same run.

The state's schools (43,000 by default) from the synthetic generator, each joined to its depot
(its block's; in the India-scale set, its block's on its tile: ~110 schools), get a seeded local risk: low background noise plus a few dozen high-risk clusters. Reported:
building the neighbour graph (what adding or removing a school costs: the graph is rebuilt), a
full propagation to convergence with the numba kernel, the same Jacobi sweeps to the same tolerance
with scipy's CSR mat-vec, plain Python (timed on a slice of one sweep and scaled up), and the
incremental update after one school's risk changes (checked against a fresh full propagation). Times are medians; the numba and scipy runs
alternate so that both see the same background load.
"""

from __future__ import annotations

import statistics
import time

import numba
import numpy as np
import scipy.sparse as sp

from simulation.synthetic_schools import generate_schools
from twin.cascade import Cascade, depot_local, propagate
from twin.neighbour_graph import EARTH_RADIUS_KM, NeighbourGraph, build_graph

ALPHA, TOL = 0.5, 1e-12
HOT_SPOTS, HOT_SPOT_KM = 40, 8.0  # clusters of high local risk (a failed delivery route, a flood)
PYTHON_NODES = 20_000  # nodes of one plain-Python sweep actually timed


def _ms(f) -> float:  # noqa: ANN001
    t = time.perf_counter()
    f()
    return (time.perf_counter() - t) * 1e3


def local_risk(latitude_deg: np.ndarray, longitude_deg: np.ndarray, seed: int) -> np.ndarray:
    """float64 [n] in [0, 1]: background risk up to 0.3, raised to up to 1 around random hot spots."""
    rng = np.random.default_rng(seed)
    n = latitude_deg.size
    y = np.radians(latitude_deg) * EARTH_RADIUS_KM
    x = np.radians(longitude_deg) * EARTH_RADIUS_KM * np.cos(np.radians(latitude_deg.mean()))
    risk = 0.3 * rng.random(n) ** 2
    for centre, peak in zip(rng.choice(n, HOT_SPOTS, replace=False), rng.uniform(0.6, 1.0, HOT_SPOTS)):
        d2 = (x - x[centre]) ** 2 + (y - y[centre]) ** 2
        risk = np.maximum(risk, peak * np.exp(-d2 / (2 * HOT_SPOT_KM**2)))
    return risk


def scipy_jacobi(graph: NeighbourGraph, s: np.ndarray) -> tuple[np.ndarray, int]:
    """The same sweeps as `propagate`, written with scipy: y = b + alpha A x until max|y - x| < TOL."""
    degree = graph.degree()
    weight = np.repeat(np.divide(1.0, degree, out=np.zeros(graph.n_nodes), where=degree > 0), degree)
    A = sp.csr_matrix((weight, graph.indices, graph.indptr), shape=(graph.n_nodes, graph.n_nodes))
    b = np.where(degree > 0, (1 - ALPHA) * s, s)  # an isolated node's row of A is empty: x = s
    x, iterations = s.copy(), 0
    while True:
        iterations += 1
        y = A @ x
        y *= ALPHA
        y += b
        change = np.abs(y - x).max()
        x = y
        if change < TOL:
            return x, iterations


def python_sweep_ms(graph: NeighbourGraph, s: np.ndarray) -> float:
    """Plain Python, one Jacobi sweep over the first `PYTHON_NODES` nodes, scaled to all nodes."""
    nodes = min(PYTHON_NODES, graph.n_nodes)
    rows = [graph.indices[graph.indptr[i]:graph.indptr[i + 1]].tolist() for i in range(nodes)]
    x, s_list = s.tolist(), s[:nodes].tolist()

    def sweep() -> None:
        change = 0.0
        for i, row in enumerate(rows):
            v = s_list[i] if not row else (1 - ALPHA) * s_list[i] + ALPHA * sum(x[k] for k in row) / len(row)
            change = max(change, abs(v - x[i]))

    return _ms(sweep) * graph.n_nodes / nodes


def run(schools: int = 43_000, seed: int = 0, runs: int = 7, changes: int = 200,
        incremental_tol: float | None = None) -> dict:
    table = generate_schools(schools, seed)
    lat, lon = table.latitude, table.longitude
    depot = np.unique(np.array(table.depot_id), return_inverse=True)[1]
    active = np.ones(schools, bool)
    build_graph(lat[:1000], lon[:1000], depot[:1000], active[:1000])  # compile the build kernels
    build_ms = [_ms(lambda: build_graph(lat, lon, depot, active)) for _ in range(3)]
    graph = build_graph(lat, lon, depot, active)

    s_school = local_risk(lat, lon, seed)
    s = np.empty(graph.n_nodes)
    s[graph.school_node] = s_school
    s[graph.depot_node] = depot_local(graph, s_school)

    x, iterations = propagate(graph, s, ALPHA, TOL)  # warm-up (and compile)
    x_scipy, scipy_iterations = scipy_jacobi(graph, s)
    numba_ms, scipy_ms, one_thread_ms = [], [], []
    for _ in range(runs):
        numba_ms.append(_ms(lambda: propagate(graph, s, ALPHA, TOL)))
        scipy_ms.append(_ms(lambda: scipy_jacobi(graph, s)))
        # on a busy machine one thread can beat two that wait for each other after every sweep
        one_thread_ms.append(_ms(lambda: propagate(graph, s, ALPHA, TOL, threads=1)))
    python_ms = python_sweep_ms(graph, s) * iterations

    cascade = Cascade(graph, ALPHA, TOL, incremental_tol=incremental_tol)
    cascade.set_local(s_school)
    rng = np.random.default_rng(seed + 1)
    cascade.update_local(np.array([0]), 0.5)  # compile
    incremental_ms, touched = [], []
    for school, value in zip(rng.integers(0, schools, changes), rng.random(changes)):
        t = time.perf_counter()
        touched.append(cascade.update_local(np.array([school]), value))
        incremental_ms.append((time.perf_counter() - t) * 1e3)
    fresh = Cascade(graph, ALPHA, TOL)
    fresh.set_local(cascade.local_by_school())

    numba_median, scipy_median = statistics.median(numba_ms), statistics.median(scipy_ms)
    return {
        "n": schools,
        "nodes": graph.n_nodes,
        "edges": graph.n_edges,
        "depots": graph.n_depots,
        "depot_schools_median": int(np.median(np.bincount(depot))),
        "alpha": ALPHA,
        "tol": TOL,
        "iterations": iterations,
        "scipy_iterations": scipy_iterations,
        "numba_ms": round(numba_median, 3),
        "scipy_ms": round(scipy_median, 3),
        "python_ms": round(python_ms, 1),
        "python_extrapolated": True,  # one sweep over PYTHON_NODES nodes, times nodes, times iterations
        "numba_1_thread_ms": round(statistics.median(one_thread_ms), 3),
        "ratio_numba_to_scipy": round(numba_median / scipy_median, 3),
        "max_abs_diff": float(np.abs(x - x_scipy).max()),
        "incremental_tol": cascade.incremental_tol,
        "incremental_ms": round(statistics.median(incremental_ms), 4),
        "incremental_p90_ms": round(float(np.percentile(incremental_ms, 90)), 4),
        "incremental_touched_median": int(statistics.median(touched)),
        "incremental_max_abs_diff": float(np.abs(cascade.pressure_by_school() - fresh.pressure_by_school()).max()),
        "graph_build_ms": round(statistics.median(build_ms), 1),
        "runs": runs,
        "threads": numba.get_num_threads(),
        "threading_layer": numba.threading_layer(),
        "cpu_pressure_some_avg60": _cpu_pressure(),
    }


def _cpu_pressure() -> float | None:
    """Share of the last minute in which some runnable task waited for a CPU (Linux PSI, percent):
    how busy the shared machine was while the figures were taken."""
    try:
        with open("/proc/pressure/cpu") as f:
            return float(f.readline().split()[2].split("=")[1])
    except (OSError, IndexError, ValueError):
        return None
