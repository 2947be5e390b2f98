"""The greedy-started maximum matching against scipy's Hopcroft-Karp, and the sparse graph's edge set."""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import maximum_bipartite_matching

import trackability.matching.cardinality as card
from trackability.matching.sparse import _Graph


def _random_graph(rng, n_rows, n_cols, k):
    r = np.repeat(np.arange(n_rows), k)
    c = rng.integers(0, n_cols, r.size)
    g = sp.csr_array((rng.random(r.size) + 0.1, (r, c)), shape=(n_rows, n_cols))
    g.sum_duplicates()
    g.sort_indices()
    return g


def _check_valid(g, match):
    used = match[match >= 0]
    assert np.unique(used).size == used.size  # one row per column
    dense = g.toarray()
    assert np.all(dense[np.flatnonzero(match >= 0), used] != 0)  # only edges of the graph


@pytest.mark.parametrize("seed", range(40))
def test_maximum_matching_has_the_hopcroft_karp_cardinality(seed):
    rng = np.random.default_rng(seed)
    n_rows = int(rng.integers(1, 80))
    n_cols = int(rng.integers(n_rows, n_rows + 20))
    g = _random_graph(rng, n_rows, n_cols, int(rng.integers(1, 4)))
    ref = maximum_bipartite_matching(g, perm_type="column")
    got = card.maximum_matching(g.indptr, g.indices.astype(np.int64), g.data, n_cols)
    _check_valid(g, got)
    assert np.count_nonzero(got >= 0) == np.count_nonzero(ref >= 0)


def test_greedy_start_leaves_rows_free_that_augmenting_paths_match():
    # row 0's cheapest edge takes column 0, the only column of row 1: greedy matches one row,
    # the augmenting path 1 -> 0 -> 0 -> 1 matches both
    g = sp.csr_array((np.array([1.0, 5.0, 1.0]), np.array([0, 1, 0]), np.array([0, 2, 3])),
                     shape=(2, 2))
    greedy = card.greedy_matching(g.indptr, g.indices.astype(np.int64), g.data, 2)
    assert greedy.tolist() == [0, -1]
    assert card.maximum_matching(g.indptr, g.indices.astype(np.int64), g.data, 2).tolist() == [1, 0]


def test_maximum_matching_continues_from_a_given_matching():
    rng = np.random.default_rng(3)
    g = _random_graph(rng, 60, 60, 2)
    part = card.greedy_matching(g.indptr, g.indices.astype(np.int64), g.data, 60, rounds=1)
    got = card.maximum_matching(g.indptr, g.indices.astype(np.int64), g.data, 60, init=part)
    ref = maximum_bipartite_matching(g, perm_type="column")
    _check_valid(g, got)
    assert np.count_nonzero(got >= 0) == np.count_nonzero(ref >= 0)
    assert np.count_nonzero(part >= 0) < np.count_nonzero(got >= 0)  # it did augment; init kept


def test_many_free_rows_fall_back_to_scipy(monkeypatch):
    monkeypatch.setattr(card, "MAX_FREE_ROWS", 0)
    monkeypatch.setattr(card, "augment", lambda *a: pytest.fail("augment used"))
    rng = np.random.default_rng(5)
    g = _random_graph(rng, 50, 50, 1)  # one edge per row: greedy leaves rows free
    got = card.maximum_matching(g.indptr, g.indices.astype(np.int64), g.data, 50)
    ref = maximum_bipartite_matching(g, perm_type="column")
    assert np.count_nonzero(got >= 0) == np.count_nonzero(ref >= 0)


def test_graph_add_keeps_a_sorted_edge_set_and_counts_new_edges():
    rng = np.random.default_rng(0)
    for _ in range(50):
        g, ref = _Graph(30, 20), set()
        for _ in range(4):
            r = rng.integers(0, 30, rng.integers(0, 60))
            c = rng.integers(0, 20, r.size)
            new = {(int(a), int(b)) for a, b in zip(r, c, strict=True)} - ref
            ref |= new
            assert g.add(r, c) == len(new)
        assert list(zip(g.rows.tolist(), g.cols.tolist(), strict=True)) == sorted(ref)


def test_graph_costs_stay_aligned_with_its_edges():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((30, 3)), rng.standard_normal((20, 3))
    g = _Graph(30, 20, x, y, "sqeuclidean")
    for _ in range(5):
        r = rng.integers(0, 30, 40)
        g.add(r, rng.integers(0, 20, r.size))
        np.testing.assert_allclose(g.costs, ((x[g.rows] - y[g.cols]) ** 2).sum(axis=1), rtol=1e-12)
