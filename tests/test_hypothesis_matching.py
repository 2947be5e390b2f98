"""Property-based tests of the matching family (hypothesis) against scipy's optimum.

Random point sets at data scales 1e-8 .. 1e8 (optionally one feature on a scale of its own, and
optionally exact duplicates, i.e. ties), square and rectangular, through the dense exact solver
(``lap``, the default), the certified sparse solver and ``method="auto"``; the reference is scipy's
``linear_sum_assignment`` on scipy's ``cdist``. The example counts are bounded so the whole file
runs in a few seconds (docs/testing.md lists them).
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

from trackability.matching import assign

#: Examples per test (docs/testing.md quotes them).
DENSE_EXAMPLES = 60
SPARSE_EXAMPLES = 25
AUTO_EXAMPLES = 15

SETTINGS = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow], "derandomize": True}


@st.composite
def point_sets(draw: st.DrawFn, max_n: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """Two populations: sizes 1..max_n, d 1..4, scale 10^[-8, 8], maybe one odd feature or ties."""
    # sampled_from, not integers/floats: those favour small, "simple" values, and the scale
    # and the size both have to be spread for the cases that broke lap to come up
    sizes = list(range(1, max_n + 1))
    n0 = draw(st.sampled_from(sizes))
    nt = draw(st.one_of(st.just(n0), st.sampled_from(sizes)))
    d = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    scale = 10.0 ** (draw(st.sampled_from(range(-8, 8))) + rng.uniform())
    x = rng.normal(size=(n0, d)) * scale
    y = rng.normal(size=(nt, d)) * scale
    if draw(st.booleans()):  # one feature on its own scale, up to 1e6 times the others
        factor = 10.0 ** draw(st.sampled_from(range(-6, 7)))
        x[:, 0] *= factor
        y[:, 0] *= factor
    if draw(st.booleans()) and n0 == nt:  # ties: the targets are the sources, shuffled
        y = x[rng.permutation(n0)].copy()
    return x, y


def optimum(x: np.ndarray, y: np.ndarray, cost: str) -> float:
    c = cdist(x, y, cost)
    r, k = linear_sum_assignment(c)
    return float(c[r, k].sum())


def assert_optimal(m, x: np.ndarray, y: np.ndarray, cost: str) -> None:
    n = min(len(x), len(y))
    assert len(m) == n
    assert np.unique(m.source).size == n and np.unique(m.target).size == n
    best = optimum(x, y, cost)
    total = float(cdist(x, y, cost)[m.source, m.target].sum())
    tol = 1e-9 * max(best, float(cdist(x, y, cost).max()) * 1e-6)
    assert abs(total - best) <= tol, (total, best)


@settings(max_examples=DENSE_EXAMPLES, **SETTINGS)
@given(point_sets(), st.sampled_from(["sqeuclidean", "euclidean"]))
def test_dense_equals_scipy_at_every_scale(pts, cost):
    x, y = pts
    assert_optimal(assign(x, y, cost=cost), x, y, cost)


@settings(max_examples=SPARSE_EXAMPLES, **SETTINGS)
@given(point_sets(), st.sampled_from(["sqeuclidean", "euclidean"]), st.integers(1, 4))
def test_sparse_equals_scipy_and_is_certified(pts, cost, k):
    x, y = pts
    m = assign(x, y, cost=cost, method="sparse", k=k, knn="sklearn")
    assert m.info["certified"] is True
    assert_optimal(m, x, y, cost)


@settings(max_examples=AUTO_EXAMPLES, **SETTINGS)
@given(point_sets())
def test_auto_equals_scipy(pts):
    x, y = pts
    m = assign(x, y, method="auto")
    assert m.info["auto"]["method"] == "dense"  # small problems
    assert_optimal(m, x, y, "sqeuclidean")
