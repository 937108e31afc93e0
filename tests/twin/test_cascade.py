"""The cascade kernels against the slow references in tests/naive.py, and `Cascade`'s bookkeeping."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.naive import exact_pressure, naive_jacobi
from twin.cascade import Cascade, depot_local, propagate, propagate_batched, propagate_incremental
from twin.neighbour_graph import build_graph

KM_PER_DEG = 111.195


def small_graph(seed: int = 0, n: int = 300):
    """Schools in a few clusters (so the graph has edges, hubs and some isolated schools), 6 depots,
    a tenth inactive."""
    rng = np.random.default_rng(seed)
    centre = rng.integers(0, 5, n)
    lat = 10.0 + centre * 0.3 + rng.normal(0, 0.05, n)
    lon = 78.0 + centre * 0.3 + rng.normal(0, 0.05, n)
    return build_graph(lat, lon, rng.integers(0, 6, n), rng.random(n) > 0.1, radius_km=4.0, k_max=5)


def node_risk(graph, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).random(graph.n_nodes)


@pytest.mark.parametrize("alpha", [0.2, 0.5, 0.9])
def test_propagate_matches_python_jacobi_and_the_exact_solution(alpha):
    g = small_graph()
    s = node_risk(g)
    x, iterations = propagate(g, s, alpha=alpha, tol=1e-13)
    np.testing.assert_allclose(x, naive_jacobi(g.indptr, g.indices, s, alpha, 1e-13), rtol=0, atol=1e-12)
    np.testing.assert_allclose(x, exact_pressure(g.indptr, g.indices, s, alpha), rtol=0, atol=1e-11)
    assert 1 < iterations < 1000
    np.testing.assert_allclose(propagate(g, s, alpha=alpha, tol=1e-13, threads=1)[0], x, rtol=0, atol=1e-15)


def test_isolated_nodes_keep_their_local_risk():
    g = small_graph()
    s = node_risk(g)
    x, _ = propagate(g, s)
    isolated = g.degree() == 0
    assert isolated.sum() > 10
    np.testing.assert_array_equal(x[isolated], s[isolated])


def test_empty_graph_and_invalid_input():
    g = build_graph(np.empty(0), np.empty(0), np.empty(0, int), np.empty(0, bool))
    x, iterations = propagate(g, np.empty(0))
    assert x.shape == (0,) and iterations == 0
    assert propagate_batched(g, np.empty((0, 3))).shape == (0, 3)
    g = small_graph()
    s = node_risk(g)
    for alpha in (0.0, 1.0, -0.1, np.nan):
        with pytest.raises(ValueError):
            propagate(g, s, alpha=alpha)
    s[3] = np.nan
    with pytest.raises(ValueError):
        propagate(g, s)
    with pytest.raises(ValueError):
        propagate_batched(g, np.stack([s, s], axis=1))
    with pytest.raises(ValueError):
        Cascade(g).set_local(s[g.school_node])
    with pytest.raises(ValueError):
        Cascade(g).update_local(np.array([0]), np.nan)


def test_batched_matches_one_scenario_at_a_time():
    g = small_graph()
    S = np.random.default_rng(3).random((g.n_nodes, 5))
    X = propagate_batched(g, S, alpha=0.6)
    for j in range(5):
        np.testing.assert_allclose(X[:, j], propagate(g, S[:, j], alpha=0.6)[0], rtol=0, atol=1e-11)


def test_incremental_free_function_matches_full_propagation():
    g = small_graph()
    s = node_risk(g)
    x, _ = propagate(g, s)
    nodes = np.array([5, 17, 5, g.depot_node[2]])
    delta = np.array([0.4, -0.3, 0.1, 0.2])
    touched = propagate_incremental(g, x, (nodes, delta))
    np.add.at(s, nodes, delta)
    np.testing.assert_allclose(x, propagate(g, s)[0], rtol=0, atol=1e-9)
    assert 0 < touched <= g.n_nodes


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), alpha=st.floats(0.1, 0.9),
       changes=st.lists(st.lists(st.tuples(st.integers(0, 299), st.floats(0, 1)), min_size=1, max_size=4),
                        min_size=1, max_size=8))
def test_incremental_updates_agree_with_a_full_recompute(seed, alpha, changes):
    g = small_graph(seed % 3)
    cascade = Cascade(g, alpha=alpha)
    s = np.random.default_rng(seed).random(g.n_schools)
    cascade.set_local(s)
    for batch in changes:
        schools = np.array([c[0] for c in batch])
        values = np.array([c[1] for c in batch])
        cascade.update_local(schools, values)
        s[schools] = values  # the last value for a repeated school wins, as in update_local
    fresh = Cascade(g, alpha=alpha, threads=1)
    fresh.set_local(s)
    np.testing.assert_array_equal(cascade.local_by_school(), s)
    np.testing.assert_allclose(cascade.pressure_by_school(), fresh.pressure_by_school(), rtol=0, atol=1e-9)
    np.testing.assert_allclose(cascade.pressure_by_depot(), fresh.pressure_by_depot(), rtol=0, atol=1e-9)


def test_depot_risk_is_the_mean_of_its_active_schools_unless_given():
    g = small_graph()
    s = np.random.default_rng(4).random(g.n_schools)
    expected = [s[(g.school_depot == d) & g.active].mean() for d in range(g.n_depots)]
    np.testing.assert_allclose(depot_local(g, s), expected)
    cascade = Cascade(g)
    given_depots = np.full(g.n_depots, 0.9)
    cascade.set_local(s, given_depots)
    cascade.update_local(np.array([0, 1]), np.array([1.0, 1.0]))
    fresh = Cascade(g)
    s[[0, 1]] = 1.0
    fresh.set_local(s, given_depots)  # given depot risk stays put on school updates
    np.testing.assert_allclose(cascade.pressure_by_school(), fresh.pressure_by_school(), rtol=0, atol=1e-9)


def chain(n_schools: int = 8):
    """Schools 3 km apart on a line (only next neighbours within 5 km), each with a depot of its own."""
    lon = 78.0 + np.arange(n_schools) * 3.0 / (KM_PER_DEG * np.cos(np.radians(10.0)))
    return build_graph(np.full(n_schools, 10.0), lon, np.arange(n_schools), np.ones(n_schools, bool))


def test_explain_follows_the_pressure_to_its_source():
    g = chain()
    cascade = Cascade(g)
    s = np.zeros(8)
    s[5] = 1.0
    cascade.set_local(s)
    path = cascade.explain(0)
    assert [(p["node"], p["index"]) for p in path] == [("school", i) for i in range(6)]
    assert all(a["pressure"] < b["pressure"] for a, b in zip(path, path[1:]))
    assert path[-1]["local"] >= path[-1]["pressure"]
    assert cascade.sources(0) == path[-1:]
    assert len(cascade.explain(0, max_hops=2)) == 3
    assert cascade.explain(5) == path[-1:]  # a source explains itself
    pressure = cascade.pressure_by_school()
    assert (pressure[:5] > 0).all() and pressure[0] < pressure[4]


def test_explain_can_lead_to_a_depot():
    g = chain(4)
    cascade = Cascade(g)
    cascade.set_local(np.zeros(4), s_depot=np.array([0.0, 0.0, 1.0, 0.0]))
    path = cascade.explain(0)
    assert path[-1] == {"node": "depot", "index": 2, "local": 1.0, "pressure": path[-1]["pressure"]}
