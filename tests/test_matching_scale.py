"""Exactness at every data scale (issue 9, items 1-2): dense ``lap``, scipy and sparse vs scipy.

``lap`` uses ``lap.LARGE = 1e6`` as infinity: before the fix, dense matchings of costs above ~1e6
were silently suboptimal and ``lap.lapmod`` refused them. The reference here is scipy's
``linear_sum_assignment`` on scipy's ``cdist`` (both independent of the package's code).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

from trackability.matching import assign
from trackability.matching.dense import LAP_TOP, power_of_two_scale

SCALES = [1e-8, 1e-5, 1e-2, 1.0, 1e3, 1e6, 1e8]


def scipy_optimum(x: np.ndarray, y: np.ndarray, cost: str) -> float:
    c = cdist(x, y, cost)
    r, k = linear_sum_assignment(c)
    return float(c[r, k].sum())


def test_issue_reproducer_six_points_at_scale_1000():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(6, 2)) * 1000, rng.normal(size=(6, 2)) * 1000
    best = scipy_optimum(x, y, "sqeuclidean")
    assert best == pytest.approx(11961747.153, rel=1e-9)  # the issue's number
    assert assign(x, y).cost == pytest.approx(best, rel=1e-12)


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize(("n0", "nt"), [(40, 40), (25, 40), (40, 25)])
@pytest.mark.parametrize("method", ["lap", "scipy", "sparse"])
def test_optimal_at_every_scale(scale, n0, nt, method):
    rng = np.random.default_rng(int(np.log10(scale) * 10) + 1000 + n0 + 3 * nt)
    x, y = rng.normal(size=(n0, 3)) * scale, rng.normal(size=(nt, 3)) * scale
    for cost in ("sqeuclidean", "euclidean"):
        best = scipy_optimum(x, y, cost)
        if method == "sparse":
            m = assign(x, y, cost=cost, method="sparse", k=3)
            assert m.info["certified"] is True
        else:
            m = assign(x, y, cost=cost, solver=method)
        assert len(m) == min(n0, nt)
        assert m.cost == pytest.approx(best, rel=1e-9), (scale, cost)


@pytest.mark.parametrize("method", ["dense", "sparse"])
def test_one_feature_on_a_different_scale(method):
    rng = np.random.default_rng(11)
    x, y = rng.normal(size=(50, 3)), rng.normal(size=(50, 3))
    x[:, 0] *= 1e7
    y[:, 0] *= 1e7
    best = scipy_optimum(x, y, "sqeuclidean")
    m = assign(x, y, method=method)
    assert m.cost == pytest.approx(best, rel=1e-9)


def test_sparse_at_large_costs_does_not_hit_lapmods_limit():
    # issue 9 item 2: "Cost matrix values must be less than 1000000" from inside lap.lapmod
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 4)) * 1e4
    y = x[rng.permutation(300)] + rng.normal(size=(300, 4)) * 10
    m = assign(x, y, method="sparse")
    assert m.info["certified"] is True
    assert m.cost == pytest.approx(scipy_optimum(x, y, "sqeuclidean"), rel=1e-10)


@pytest.mark.parametrize("largest", [0.3, 1.0, 7.5e6, 1e-17, 3.3e30, 2.0**-20])
def test_power_of_two_scale_is_exact_and_in_range(largest):
    s = power_of_two_scale(largest)
    assert LAP_TOP / 2 <= largest * s < LAP_TOP
    assert np.log2(s) == int(np.log2(s))  # a power of two, so the scaling below is exact
    vals = np.random.default_rng(1).uniform(0, largest, size=1000)
    np.testing.assert_array_equal((vals * s) / s, vals)


def test_power_of_two_scale_edge_cases():
    assert power_of_two_scale(0.0) == 1.0
    with pytest.raises(ValueError, match="finite"):
        power_of_two_scale(float("inf"))


def test_unit_scale_matchings_unchanged_by_the_rescaling():
    """Where ``lap`` was already exact (costs far below 1e6) the pairs are bit-identical."""
    import lap

    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(200, 5)), rng.normal(size=(200, 5))
    c = cdist(x, y, "sqeuclidean")
    _, raw, _ = lap.lapjv(c.copy())
    np.testing.assert_array_equal(assign(x, y).target, raw)


@pytest.mark.parametrize(("n0", "nt"), [(30, 30), (20, 35), (35, 20)])
def test_sparse_matching_carries_feasible_dual_potentials(n0, nt):
    """``u``, ``v`` prove optimality: reduced costs >= 0 on every pair (cdist), 0 on matched ones."""
    rng = np.random.default_rng(n0 + nt)
    x, y = rng.normal(size=(n0, 3)) * 1e4, rng.normal(size=(nt, 3)) * 1e4
    m = assign(x, y, method="sparse", k=3, certify="exact")
    assert m.certified is True and m.optimal is True
    assert m.u.shape == (n0,) and m.v.shape == (nt,)
    rc = cdist(x, y, "sqeuclidean") - m.u[:, None] - m.v[None, :]
    scale = cdist(x, y, "sqeuclidean").max()
    assert rc.min() >= -1e-9 * scale
    np.testing.assert_allclose(rc[m.source, m.target], 0.0, atol=1e-9 * scale)
    dense = assign(x, y)
    assert dense.certified is None and dense.optimal is True and dense.u is None
    assert dense.total_cost == dense.cost
