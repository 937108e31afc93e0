"""The neighbour graph against a brute-force haversine check, and its structure."""

import numpy as np
import pytest

from tests.naive import naive_school_edges
from twin.geography import LAT_RANGE, LON_RANGE
from twin.neighbour_graph import build_graph


def tamil_nadu_points(seed: int, n_uniform: int = 1_500, n_clustered: int = 1_500):
    """Points spread over the state's box, plus dense clusters (where the k cap bites)."""
    rng = np.random.default_rng(seed)
    lat = rng.uniform(*LAT_RANGE, n_uniform)
    lon = rng.uniform(*LON_RANGE, n_uniform)
    centres = rng.integers(0, n_uniform, 6)
    lat_c = lat[rng.choice(centres, n_clustered)] + rng.normal(0, 0.03, n_clustered)  # ~3 km
    lon_c = lon[rng.choice(centres, n_clustered)] + rng.normal(0, 0.03, n_clustered)
    return np.concatenate((lat, lat_c)), np.concatenate((lon, lon_c))


def edge_list(graph):
    row = np.repeat(np.arange(graph.n_nodes), np.diff(graph.indptr))
    return row, graph.indices.astype(np.int64)


@pytest.fixture(scope="module")
def built():
    lat, lon = tamil_nadu_points(7)
    rng = np.random.default_rng(8)
    depot = rng.integers(0, 10, lat.size)
    active = rng.random(lat.size) > 0.1
    return lat, lon, depot, active, build_graph(lat, lon, depot, active, radius_km=5.0, k_max=8, n_depots=12)


def test_school_edges_match_brute_force_haversine(built):
    lat, lon, _, active, g = built
    row, col = edge_list(g)
    a, b = g.node_school[row], g.node_school[col]
    schools = (a >= 0) & (b >= 0)
    got = {(int(min(i, j)), int(max(i, j))) for i, j in zip(a[schools], b[schools])}
    assert got == naive_school_edges(lat, lon, active, 5.0, 8)
    assert len(got) > 2_000  # the clusters make plenty


def test_graph_is_symmetric_without_self_loops_or_repeats(built):
    g = built[-1]
    row, col = edge_list(g)
    assert (row != col).all()
    pairs = set(zip(row.tolist(), col.tolist()))
    assert len(pairs) == row.size
    assert all((c, r) in pairs for r, c in pairs)
    assert g.indices.dtype == np.int32 and g.indptr.dtype == np.int64
    assert g.n_edges * 2 == row.size


def test_k_cap_limits_what_each_school_lists():
    # 40 schools within ~1 km of each other: all in range of each other; each lists only 3
    rng = np.random.default_rng(1)
    lat, lon = 11.0 + rng.normal(0, 0.003, 40), 78.0 + rng.normal(0, 0.003, 40)
    g = build_graph(lat, lon, np.zeros(40, int), np.ones(40, bool), k_max=3)
    school_degree = np.diff(g.indptr)[g.school_node] - 1  # less the depot
    assert school_degree.min() >= 3
    assert g.n_edges - 40 <= 40 * 3  # school-school edges: at most 3 listed per school
    assert g.n_edges - 40 < 40 * 39 / 2


def test_inactive_schools_have_no_edges(built):
    _, _, _, active, g = built
    degree = g.degree()
    assert (degree[g.school_node[~active]] == 0).all()
    assert not np.isin(g.school_node[~active], g.indices).any()


def test_each_active_school_is_joined_to_its_depot_only(built):
    _, _, depot, active, g = built
    for school in np.flatnonzero(active)[:300]:
        row = g.indices[g.indptr[g.school_node[school]]:g.indptr[g.school_node[school] + 1]]
        depots = g.node_depot[row][g.node_depot[row] >= 0]
        assert depots.tolist() == [depot[school]]
    for d in range(12):
        row = g.indices[g.indptr[g.depot_node[d]]:g.indptr[g.depot_node[d] + 1]]
        assert sorted(g.node_school[row].tolist()) == np.flatnonzero(active & (depot == d)).tolist()
    assert g.degree()[g.depot_node[10:]].tolist() == [0, 0]  # depots without schools are isolated
    # depots are the last nodes, so a school's depot ends its sorted row (the Jacobi kernel uses it)
    np.testing.assert_array_equal(g.depot_node, g.n_schools + np.arange(12))
    rows = g.school_node[active]
    np.testing.assert_array_equal(g.indices[g.indptr[rows + 1] - 1], g.depot_node[depot[active]])


def test_node_maps_are_inverse_permutations(built):
    g = built[-1]
    assert g.n_nodes == g.n_schools + 12 == g.n_schools + g.n_depots
    np.testing.assert_array_equal(g.node_school[g.school_node], np.arange(g.n_schools))
    np.testing.assert_array_equal(g.node_depot[g.depot_node], np.arange(12))
    assert ((g.node_school >= 0) != (g.node_depot >= 0)).all()


def test_empty_and_invalid_input():
    g = build_graph(np.empty(0), np.empty(0), np.empty(0, int), np.empty(0, bool))
    assert g.n_nodes == 0 and g.indptr.tolist() == [0]
    with pytest.raises(ValueError):
        build_graph(np.array([np.nan]), np.array([78.0]), np.array([0]), np.array([True]))
    with pytest.raises(ValueError):
        build_graph(np.array([11.0]), np.array([78.0]), np.array([-1]), np.array([True]))
    with pytest.raises(ValueError):
        build_graph(np.array([11.0]), np.array([78.0, 78.1]), np.array([0]), np.array([True]))
