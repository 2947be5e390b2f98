"""Property tests (hypothesis) over the foundation's public functions."""

from __future__ import annotations

import itertools
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.spatial.distance import cdist

from trackability._validation import check_array
from trackability.matching import assign
from trackability.metrics import mmd2
from trackability.models import LAOT

#: Modest by default so the suite stays fast; HYPOTHESIS_EXAMPLES=500 searches harder.
SETTINGS = settings(max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", "40")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

finite = st.floats(-100, 100, allow_nan=False, allow_infinity=False, width=64)


@st.composite
def cell_matrix(draw, min_rows=1, max_rows=6, d=None, max_d=3, elements=finite):
    n = draw(st.integers(min_rows, max_rows))
    d = d if d is not None else draw(st.integers(1, max_d))
    return draw(arrays(np.float64, (n, d), elements=elements))


@st.composite
def pair_of(draw, min_rows=1, max_rows=6, max_d=3, elements=finite):
    d = draw(st.integers(1, max_d))
    x = draw(cell_matrix(min_rows, max_rows, d=d, elements=elements))
    y = draw(cell_matrix(min_rows, max_rows, d=d, elements=elements))
    return x, y


def brute_force_cost(c: np.ndarray) -> float:
    n0, nt = c.shape
    if n0 <= nt:
        return min(c[np.arange(n0), list(p)].sum() for p in itertools.permutations(range(nt), n0))
    return min(c[list(p), np.arange(nt)].sum() for p in itertools.permutations(range(n0), nt))


@SETTINGS
@given(pair=pair_of(), cost=st.sampled_from(["sqeuclidean", "euclidean"]),
       solver=st.sampled_from(["lap", "scipy"]))
def test_assign_is_optimal_and_one_to_one(pair, cost, solver):
    x, y = pair
    m = assign(x, y, cost=cost, solver=solver)
    c = cdist(x, y, cost)
    k = min(c.shape)
    assert len(m) == k
    assert np.unique(m.source).size == k and np.unique(m.target).size == k
    assert m.cost == pytest.approx(c[m.source, m.target].sum(), rel=1e-9, abs=1e-6)
    assert m.cost == pytest.approx(brute_force_cost(c), rel=1e-9, abs=1e-6)


def naive_mmd2(x, y, gamma, unbiased):
    kxx = np.exp(-gamma * cdist(x, x, "sqeuclidean"))
    kyy = np.exp(-gamma * cdist(y, y, "sqeuclidean"))
    kxy = np.exp(-gamma * cdist(x, y, "sqeuclidean"))
    m, n = len(x), len(y)
    if unbiased:
        return ((kxx.sum() - m) / (m * (m - 1)) + (kyy.sum() - n) / (n * (n - 1))
                - 2 * kxy.mean())
    return kxx.mean() + kyy.mean() - 2 * kxy.mean()


def float32_tolerance(x, y, gamma):
    """Error bound of float32 distances |a|^2 + |b|^2 - 2ab: ~ (d + 2) eps32 R^2 per entry.

    R is the largest distance of a cell from the centre mmd2 uses for it (own sample's mean for
    the within sums, pooled mean for the cross sum); a kernel value moves by at most gamma times
    the distance error, and MMD^2 weighs its sums by 4 in all.
    """
    pool = np.vstack([x, y])
    r2 = max(float(np.max(np.sum((a - c.mean(0)) ** 2, axis=1)))
             for a, c in ((x, x), (y, y), (pool, pool)))
    return 16 * (x.shape[1] + 2) * np.finfo(np.float32).eps * gamma * r2 + 1e-7


@SETTINGS
@given(pair=pair_of(min_rows=2, max_rows=8), log_gamma=st.floats(-4, 1), block=st.integers(1, 9))
def test_mmd2_matches_naive_symmetric_and_biased_nonnegative(pair, log_gamma, block):
    x, y = pair
    gamma = 10.0**log_gamma
    tol = float32_tolerance(x, y, gamma)
    for unbiased in (True, False):
        a = mmd2(x, y, gamma=gamma, unbiased=unbiased, block_size=block)
        b = mmd2(y, x, gamma=gamma, unbiased=unbiased, block_size=block)
        assert abs(a - naive_mmd2(x, y, gamma, unbiased)) <= tol
        assert abs(a - b) <= 2 * tol
    # the biased form is |mean embedding difference|^2 >= 0, and 0 for identical samples
    assert mmd2(x, y, gamma=gamma, unbiased=False, block_size=block) >= -tol
    assert abs(mmd2(x, x, gamma=gamma, unbiased=False)) <= float32_tolerance(x, x, gamma)


@SETTINGS
@given(x=cell_matrix(max_rows=8, max_d=4), data=st.data(),
       bad=st.sampled_from([np.nan, np.inf, -np.inf]))
def test_validation_rejects_any_nonfinite_entry(x, data, bad):
    np.testing.assert_array_equal(check_array(x, "cells"), x)  # finite input passes unchanged
    i = data.draw(st.integers(0, x.shape[0] - 1))
    j = data.draw(st.integers(0, x.shape[1] - 1))
    x = x.copy()
    x[i, j] = bad
    with pytest.raises(ValueError, match=rf"cells contains .*first at cell {i}, feature {j}"):
        check_array(x, "cells")
    with pytest.raises(ValueError, match="source contains"):
        assign(x, np.zeros((2, x.shape[1])))


#: Values on a 1/8 grid: ties, repeated cells and rank-deficient matrices, but no magnitudes like
#: 1e-170 next to 1 (there the minimum-norm least-squares map is ~1e170 and overflows: a
#: conditioning limit of plain least squares, not of the alternation).
moderate = st.integers(-80, 80).map(lambda k: k / 8.0)


@SETTINGS
@given(pair=pair_of(min_rows=2, max_rows=10, max_d=4, elements=moderate),
       alpha=st.sampled_from([0.0, 0.5]), fit_intercept=st.booleans())
def test_laot_objective_monotone(pair, alpha, fit_intercept):
    x, y = pair
    model = LAOT(max_iter=15, early_stopping=False, alpha=alpha, fit_intercept=fit_intercept)
    model.fit(x, y)
    obj = model.history_["train_loss"].to_numpy()
    scale = 1e-9 * (1.0 + np.sum(y**2) + np.sum(x**2))
    assert np.all(np.diff(obj) <= scale)
    assert model.objective_ == pytest.approx(obj.min())
