"""Exact assignment (``trackability.matching``) against brute force over all injective maps."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from trackability.matching import Matching, assign, cost_matrix, pair_costs, squared_distances


def brute_force(source: np.ndarray, target: np.ndarray, cost: str) -> tuple[float, dict[int, int]]:
    """Minimum total cost over every injective map from the smaller group into the larger one.

    Costs come from scipy's ``cdist`` (independent of the package's cost code). Returns the total
    and the optimal pairs as {source index: target index}.
    """
    metric = "sqeuclidean" if cost == "sqeuclidean" else "euclidean"
    c = cdist(source, target, metric=metric)
    n0, nt = c.shape
    best, best_pairs = np.inf, None
    if n0 <= nt:
        for cols in itertools.permutations(range(nt), n0):
            total = c[np.arange(n0), cols].sum()
            if total < best:
                best, best_pairs = total, dict(zip(range(n0), cols, strict=True))
    else:
        for rows in itertools.permutations(range(n0), nt):
            total = c[rows, np.arange(nt)].sum()
            if total < best:
                best, best_pairs = total, dict(zip(rows, range(nt), strict=True))
    return float(best), best_pairs


SHAPES = [(1, 1), (2, 2), (4, 4), (7, 7), (3, 6), (2, 7), (6, 3), (7, 4), (5, 1)]


@pytest.mark.parametrize("cost", ["sqeuclidean", "euclidean"])
@pytest.mark.parametrize(("n0", "nt"), SHAPES)
@pytest.mark.parametrize("solver", ["lap", "scipy"])
def test_assign_equals_brute_force(n0, nt, cost, solver):
    rng = np.random.default_rng(100 * n0 + nt)
    src, tgt = rng.normal(size=(n0, 3)), rng.normal(size=(nt, 3))
    m = assign(src, tgt, cost=cost, solver=solver)
    best, pairs = brute_force(src, tgt, cost)
    assert m.cost == pytest.approx(best, rel=1e-10, abs=1e-12)
    # continuous random data: the optimum is unique, so the pairs themselves must agree
    assert dict(zip(m.source.tolist(), m.target.tolist(), strict=True)) == pairs
    assert m.cost_name == cost
    assert m.info["solver"] == solver


@pytest.mark.parametrize(("n0", "nt"), [(3, 7), (7, 3), (40, 55), (55, 40)])
def test_rectangular_uses_every_cell_of_smaller_group(n0, nt):
    rng = np.random.default_rng(n0 * nt)
    m = assign(rng.normal(size=(n0, 4)), rng.normal(size=(nt, 4)))
    k = min(n0, nt)
    assert len(m) == k
    smaller, larger, n_large = (m.source, m.target, nt) if n0 <= nt else (m.target, m.source, n0)
    np.testing.assert_array_equal(np.sort(smaller), np.arange(k))  # every cell of the smaller group
    assert np.unique(larger).size == k  # distinct partners
    assert larger.min() >= 0 and larger.max() < n_large


@pytest.mark.parametrize("cost", ["sqeuclidean", "euclidean"])
@pytest.mark.parametrize(("n0", "nt"), [(60, 60), (45, 70), (70, 45)])
def test_lap_and_scipy_agree_on_total_cost(n0, nt, cost):
    rng = np.random.default_rng(7)
    src, tgt = rng.normal(size=(n0, 5)), rng.normal(size=(nt, 5))
    a = assign(src, tgt, cost=cost, solver="lap")
    b = assign(src, tgt, cost=cost, solver="scipy")
    assert a.cost == pytest.approx(b.cost, rel=1e-10)


@pytest.mark.parametrize("cost", ["sqeuclidean", "euclidean"])
def test_reported_cost_is_recomputed_sum(cost):
    rng = np.random.default_rng(3)
    src, tgt = rng.normal(size=(30, 6)) + 500.0, rng.normal(size=(25, 6)) + 500.0
    m = assign(src, tgt, cost=cost)
    diff = src[m.source] - tgt[m.target]
    per_pair = np.sum(diff**2, axis=1)
    expected = per_pair.sum() if cost == "sqeuclidean" else np.sqrt(per_pair).sum()
    assert m.cost == pytest.approx(expected, rel=1e-12)


def test_planted_permutation_recovered():
    rng = np.random.default_rng(11)
    x = rng.normal(size=(200, 5))
    perm = rng.permutation(200)
    m = assign(x, x[perm] + 1e-6 * rng.normal(size=(200, 5)))
    # target cell j is x[perm[j]], so source perm[j] must be matched to target j
    np.testing.assert_array_equal(m.source_of(200), perm)
    np.testing.assert_array_equal(m.target_of(200)[perm], np.arange(200))


def test_docstring_example_and_identity():
    x = np.array([[0.0], [1.0], [2.0]])
    assert assign(x, x[::-1]).target.tolist() == [2, 1, 0]
    m = assign(x, x)
    np.testing.assert_array_equal(m.target, [0, 1, 2])
    assert m.cost == 0.0


def test_far_from_origin_costs_are_exact():
    """Centring inside squared_distances keeps small distances of large-valued cells accurate."""
    rng = np.random.default_rng(5)
    a = rng.normal(size=(8, 4)) * 1e-3 + 1e6
    b = rng.normal(size=(9, 4)) * 1e-3 + 1e6
    np.testing.assert_allclose(squared_distances(a, b), cdist(a, b, "sqeuclidean"), rtol=1e-6)
    np.testing.assert_allclose(cost_matrix(a, b, "euclidean"), cdist(a, b), rtol=1e-6)
    idx = np.array([0, 3, 5])
    np.testing.assert_allclose(
        pair_costs(a, b, idx, idx[::-1], "euclidean"), np.linalg.norm(a[idx] - b[idx[::-1]], axis=1)
    )


class TestMatchingHelpers:
    def test_sorted_by_source_and_int64(self):
        m = Matching(np.array([2, 0, 1]), np.array([5, 3, 4]), 1.5)
        np.testing.assert_array_equal(m.source, [0, 1, 2])
        np.testing.assert_array_equal(m.target, [3, 4, 5])
        assert m.source.dtype == np.int64 and m.target.dtype == np.int64
        assert isinstance(m.cost, float) and len(m) == 3

    def test_target_of_and_source_of(self):
        m = Matching(np.array([0, 2]), np.array([3, 1]), 0.0)
        np.testing.assert_array_equal(m.target_of(4), [3, -1, 1, -1])
        np.testing.assert_array_equal(m.source_of(5), [-1, 2, -1, 0, -1])

    def test_same_pairs_ignores_input_order(self):
        a = Matching(np.array([0, 1, 2]), np.array([2, 0, 1]), 1.0)
        b = Matching(np.array([2, 0, 1]), np.array([1, 2, 0]), 9.0)
        c = Matching(np.array([0, 1, 2]), np.array([2, 1, 0]), 1.0)
        d = Matching(np.array([0, 1]), np.array([2, 0]), 1.0)
        assert a.same_pairs(b)
        assert not a.same_pairs(c)
        assert not a.same_pairs(d)

    def test_n_changed_counts_differing_partners(self):
        a = Matching(np.arange(5), np.array([0, 1, 2, 3, 4]), 0.0)
        b = Matching(np.arange(5), np.array([1, 0, 2, 3, 4]), 0.0)
        c = Matching(np.arange(5), np.array([4, 3, 2, 1, 0]), 0.0)
        assert a.n_changed(a) == 0
        assert a.n_changed(b) == 2
        assert a.n_changed(c) == 4  # the middle pair stays
        assert a.n_changed(None) == 5
        # partial matching: source 4 is unmatched in `d`, so its partner changed
        d = Matching(np.arange(4), np.array([0, 1, 2, 3]), 0.0)
        assert a.n_changed(d) == 1

    def test_bad_index_arrays(self):
        with pytest.raises(ValueError, match="equal length"):
            Matching(np.arange(3), np.arange(4), 0.0)
        with pytest.raises(ValueError, match="1-D"):
            Matching(np.zeros((2, 2)), np.zeros((2, 2)), 0.0)

    def test_to_dict(self):
        m = Matching(np.array([1, 0]), np.array([0, 1]), 2.0, cost_name="euclidean")
        assert m.to_dict() == {"source": [0, 1], "target": [1, 0], "cost": 2.0,
                               "cost_name": "euclidean", "method": "dense", "certified": None}


class TestBadInput:
    def test_unknown_options(self):
        x = np.zeros((2, 2))
        with pytest.raises(ValueError, match="cost must be one of"):
            assign(x, x, cost="cosine")
        with pytest.raises(ValueError, match="solver must be one of"):
            assign(x, x, solver="hungarian")
        with pytest.raises(ValueError, match="method must be one of"):
            assign(x, x, method="sinkhorn")

    def test_arrays_named_in_errors(self):
        good = np.zeros((3, 2))
        with pytest.raises(ValueError, match="source contains 1 NaN"):
            assign(np.array([[np.nan, 0.0]]), good)
        with pytest.raises(ValueError, match="target contains 0 NaN and 1 infinite"):
            assign(good, np.array([[np.inf, 0.0]]))
        with pytest.raises(ValueError, match="source has 2 features but target has 3"):
            assign(good, np.zeros((3, 3)))
        with pytest.raises(ValueError, match="target must be 2-D"):
            assign(good, np.zeros(3))
        with pytest.raises(ValueError, match="source is empty"):
            assign(np.zeros((0, 2)), good)
        with pytest.raises(TypeError, match="target must be numeric"):
            assign(good, [["a", "b"]])

    def test_integer_and_sparse_input_same_result(self):
        import scipy.sparse as sp

        rng = np.random.default_rng(2)
        a = rng.integers(-5, 5, size=(10, 3))
        b = rng.integers(-5, 5, size=(12, 3))
        m_int = assign(a, b)
        m_float = assign(a.astype(float), b.astype(float))
        m_sparse = assign(sp.csr_matrix(a.astype(float)), sp.csr_matrix(b.astype(float)))
        assert m_int.cost == m_float.cost == m_sparse.cost
        assert m_int.same_pairs(m_sparse)
