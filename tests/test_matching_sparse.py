"""Sparse exact matching: equals the dense optimum, and its certificate catches a too-small graph."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from trackability.data.synthetic import near_identity
from trackability.matching import assign, cost_matrix
from trackability.models import LAOT

HAS_FAISS = importlib.util.find_spec("faiss") is not None


def brute_force_optimum(x: np.ndarray, y: np.ndarray, cost: str) -> float:
    """Independent reference: scipy's dense Hungarian solver on the full cost matrix."""
    c = cost_matrix(x, y, cost)
    r, col = linear_sum_assignment(c)
    return float(c[r, col].sum())


@pytest.mark.parametrize(
    ("n", "d", "gap", "k"),
    [(60, 3, 0.2, 1), (300, 10, 0.5, 4), (1000, 20, 1.0, 8), (400, 5, 5.0, 2)],
)
@pytest.mark.parametrize("cost", ["sqeuclidean", "euclidean"])
def test_sparse_equals_dense(n, d, gap, k, cost):
    pair = near_identity(n, d, gap, random_state=n + d)
    sparse = assign(pair.control, pair.treated, cost, method="sparse", k=k, knn="sklearn")
    dense = assign(pair.control, pair.treated, cost)
    assert sparse.info["certified"] is True
    assert sparse.info["certificate"] == "exact"
    assert sparse.same_pairs(dense)
    assert sparse.cost == pytest.approx(brute_force_optimum(pair.control, pair.treated, cost), rel=1e-12)


@pytest.mark.parametrize("shape", [((120, 4), (200, 4)), ((200, 4), (120, 4))])
def test_sparse_rectangular_equals_dense(shape):
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=shape[0]), rng.normal(size=shape[1])
    sparse = assign(x, y, method="sparse", k=2, knn="sklearn")
    dense = assign(x, y)
    assert len(sparse) == 120
    assert sparse.info["certified"] is True
    assert sparse.same_pairs(dense)
    assert sparse.cost == pytest.approx(brute_force_optimum(x, y, "sqeuclidean"), rel=1e-12)


def test_too_small_k_infeasible_graph_is_fixed():
    """Targets shifted by 0.7 spacings along a line: each cell's nearest target is its left
    neighbour's partner, so with k=1 the last target has no edge at all. The optimum (monotone
    matching, cost 0.49 per pair) is reached only after the graph is completed and widened."""
    n = 40
    x = np.arange(n, dtype=float)[:, None]
    y = x + 0.7
    m = assign(x, y, method="sparse", k=1, knn="sklearn")
    rounds = m.info["rounds"]
    assert rounds[0]["feasible"] is False
    assert any(r.get("violations", 0) > 0 for r in rounds)  # the certificate found improvements
    assert m.info["widened"] is True and m.info["certified"] is True
    assert np.array_equal(m.target, np.arange(n))
    assert m.cost == pytest.approx(0.49 * n)


def _adversarial_instance():
    """First seeded instance whose 3-NN graph has a full matching that is NOT optimal."""
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(0)
    for _ in range(500):
        x = rng.normal(size=(12, 2))
        y = rng.normal(size=(12, 2))
        nbr = NearestNeighbors(n_neighbors=3).fit(y).kneighbors(x, return_distance=False)
        c = cost_matrix(x, y)
        big = np.full_like(c, 1e6)
        rows = np.repeat(np.arange(12), 3)
        big[rows, nbr.ravel()] = c[rows, nbr.ravel()]
        r, col = linear_sum_assignment(big)
        if big[r, col].max() < 1e6:  # feasible on the graph
            graph_opt = big[r, col].sum()
            if graph_opt > brute_force_optimum(x, y, "sqeuclidean") + 1e-9:
                return x, y
    raise AssertionError("no adversarial instance found")


def test_feasible_but_suboptimal_graph_detected_by_certificate():
    x, y = _adversarial_instance()
    m = assign(x, y, method="sparse", k=3, knn="sklearn")
    first = m.info["rounds"][0]
    assert first["feasible"] is True
    assert first["violations"] > 0  # the graph optimum was not the true one, and the check saw it
    assert m.info["widened"] is True and m.info["certified"] is True
    assert m.same_pairs(assign(x, y))


def test_no_certificate_leaves_graph_optimum():
    x, y = _adversarial_instance()
    m = assign(x, y, method="sparse", k=3, knn="sklearn", certify="none")
    assert m.info["certified"] is None and m.info["certificate"] == "none"
    assert m.cost > brute_force_optimum(x, y, "sqeuclidean") + 1e-9


def test_sampled_certificate_says_so():
    pair = near_identity(500, 8, 0.3, random_state=3)
    m = assign(pair.control, pair.treated, method="sparse", certify="auto", exact_limit=1000,
               sample_size=50, knn="sklearn", random_state=0)
    assert m.info["certificate"] == "sampled"
    assert m.info["n_sampled"] == 50
    assert m.info["violation_rate_upper95"] == pytest.approx(1 - 0.05 ** (1 / 50))
    assert "not proven" in m.info["note"]
    assert m.same_pairs(assign(pair.control, pair.treated))
    again = assign(pair.control, pair.treated, method="sparse", certify="sampled", sample_size=50,
                   knn="sklearn", random_state=0)
    assert again.info["rounds"] == m.info["rounds"]


@pytest.mark.skipif(not HAS_FAISS, reason="faiss not installed")
@pytest.mark.parametrize("knn", ["faiss", "faiss-ivf"])
def test_faiss_graphs_reach_the_optimum(knn):
    pair = near_identity(800, 10, 2.0, random_state=11)
    m = assign(pair.control, pair.treated, method="sparse", k=3, knn=knn)
    assert m.info["knn"] == knn and m.info["certified"] is True
    assert m.same_pairs(assign(pair.control, pair.treated))


def test_laot_sparse_equals_dense():
    pair = near_identity(600, 10, 1.0, noise=0.05, random_state=5)
    dense = LAOT(max_iter=20).fit(pair.control, pair.treated)
    sparse = LAOT(max_iter=20, matching={"method": "sparse", "k": 4}).fit(pair.control, pair.treated)
    assert sparse.matching_.method == "sparse"
    assert sparse.matching_.same_pairs(dense.matching_)
    np.testing.assert_allclose(sparse.W_, dense.W_, atol=1e-10)
    assert sparse.n_iter_ == dense.n_iter_


def test_sparse_bad_input():
    x = np.zeros((5, 2))
    with pytest.raises(ValueError, match="k must be a positive integer"):
        assign(x, x + 1, method="sparse", k=0)
    with pytest.raises(ValueError, match="certify must be one of"):
        assign(x, x + 1, method="sparse", certify="maybe")
    with pytest.raises(ValueError, match="knn must be one of"):
        assign(x, x + 1, method="sparse", knn="annoy")
    with pytest.raises(TypeError, match="unknown option"):
        assign(x, x + 1, method="sparse", reg=0.1)
    bad = x.copy()
    bad[1, 1] = np.nan
    with pytest.raises(ValueError, match="source contains 1 NaN"):
        assign(bad, x, method="sparse")
    with pytest.raises(ValueError, match="features"):
        assign(x, np.zeros((5, 3)), method="sparse")


@pytest.mark.parametrize("scale", [1e-8, 1.0, 1e4])
def test_lapmod_on_graph_with_one_edge_rows_is_optimal(scale):
    """lapmod (through the power-of-two scaling) equals scipy's sparse optimum on a graph where a
    fifth of the rows have a single edge (what an inverted-file kNN graph gives rows whose lists
    ran short); those rows make lapmod subtract its 1e6 sentinel from potentials, next to which
    costs scaled to ~1e-6 kept only a few digits."""
    import scipy.sparse as sps
    from scipy.sparse.csgraph import min_weight_full_bipartite_matching

    from trackability.matching.sparse import LAPMOD_TOP, _solve_on_graph

    assert 1.0 <= LAPMOD_TOP < 1e6 / 1e3  # far below lapmod's sentinel, not tiny
    rng = np.random.default_rng(0)
    n, k = 3000, 6
    rows = np.repeat(np.arange(n), k)
    cols = (rows + rng.integers(-15, 16, rows.size)) % n
    one = rng.random(n) < 0.2
    cols = np.where(one[rows], rows, cols)
    cols[np.arange(n) * k] = np.arange(n)  # the identity keeps a full matching possible
    g = sps.coo_array((np.ones(rows.size), (rows, cols)), shape=(n, n)).tocsr()
    g.sum_duplicates()
    g.sort_indices()
    er = np.repeat(np.arange(n), np.diff(g.indptr))
    ec = g.indices.astype(np.int64)
    costs = (rng.random(er.size) + 0.01) * scale
    sigma, match = _solve_on_graph(er, ec, costs, n, n)
    assert match is None and sigma is not None and np.array_equal(np.sort(sigma), np.arange(n))
    ref = sps.csr_array((costs, (er, ec)), shape=(n, n))
    r, c = min_weight_full_bipartite_matching(ref)
    best = ref[r, c].sum()
    got = ref[np.arange(n), sigma].sum()
    assert got == pytest.approx(best, rel=1e-12)


def test_an_infeasible_graph_is_repaired_with_exact_edges_not_a_reverse_index(monkeypatch):
    """A k = 1 graph where two cells share their nearest partner has no full matching; the few
    cells left over get their exact nearest cells (brute force), not an index over the other side
    (which at 1M cells cost as much as the forward graph)."""
    import trackability.matching.sparse as sparse_mod

    monkeypatch.setattr(sparse_mod, "knn_graph", lambda *a, **k: pytest.fail("reverse index built"))
    rng = np.random.default_rng(2)
    x = np.sort(rng.uniform(0, 100, 60))[:, None]
    y = x + 0.7 * np.diff(x[:, 0]).min()  # shifted: several rows share their nearest column
    m = assign(x, y, method="sparse", k=1, knn="sklearn")
    reasons = [r.get("reason", "") for r in m.info["rounds"] if not r["feasible"]]
    assert reasons and all("exact" in r for r in reasons)
    assert m.info["certified"] is True
    assert m.same_pairs(assign(x, y))
