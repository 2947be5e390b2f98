"""Property-based tests (hypothesis) of the metrics family at every data scale, and on bad input.

Random samples of 2-8 cells and 1-4 features, scaled by 10^e for e in -30..30 (the whole sample,
or one feature only), are scored by every metric and compared with a naive float64 computation
that shares no code with the package: scipy ``cdist``/``pdist`` kernels and distances,
``linear_sum_assignment`` for W2, ``sklearn.metrics.r2_score`` and ``scipy.stats.pearsonr`` for the
mean agreement. Bad input (NaN/inf anywhere, empty, mismatched features, wrong types) must give
the documented error naming the argument. ``HYPOTHESIS_EXAMPLES`` sets the examples per test
(default 25: the whole module takes a few seconds).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import scipy.sparse
import scipy.stats
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist, pdist
from sklearn.metrics import r2_score

from trackability.metrics import (
    energy_distance,
    mean_pearson,
    mean_r2,
    median_heuristic_gamma,
    mmd2,
    mmd2_linear,
    wasserstein2,
)
from trackability.metrics.mmd import FLOAT32_TOLERANCE

N_EXAMPLES = int(os.environ.get("HYPOTHESIS_EXAMPLES", "25"))
SETTINGS = settings(max_examples=N_EXAMPLES, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
EPS32 = float(np.finfo(np.float32).eps)

#: Values in [-1, 1] on a grid of 1e-3 (zeros and ties included): after the scale 10^e the data
#: stay where the naive float64 reference itself is exact (no subnormal squares).
unit = st.integers(-1000, 1000).map(lambda v: v / 1000)


@st.composite
def scaled_pair(draw, min_rows=2, max_rows=8, max_d=4, equal=False):
    """Two samples on one feature space, the whole data or one feature scaled by 10^e."""
    d = draw(st.integers(1, max_d))
    m = draw(st.integers(min_rows, max_rows))
    n = m if equal else draw(st.integers(min_rows, max_rows))
    x = draw(arrays(np.float64, (m, d), elements=unit))
    y = draw(arrays(np.float64, (n, d), elements=unit))
    shift = draw(st.integers(-30, 30)) / 10
    y = y + shift
    e = draw(st.integers(-30, 30))
    if draw(st.booleans()) or d == 1:
        s = np.full(d, 10.0**e)
    else:
        s = np.ones(d)
        s[draw(st.integers(0, d - 1))] = 10.0**e
    return x * s, y * s


def naive_mmd2(x, y, g, unbiased):
    kxx, kyy = np.exp(-g * cdist(x, x, "sqeuclidean")), np.exp(-g * cdist(y, y, "sqeuclidean"))
    kxy = np.exp(-g * cdist(x, y, "sqeuclidean"))
    m, n = len(x), len(y)
    if unbiased:
        return ((kxx.sum() - m) / (m * (m - 1)) + (kyy.sum() - n) / (n * (n - 1))
                - 2 * kxy.mean())
    return kxx.mean() + kyy.mean() - 2 * kxy.mean()


def float32_bound(x, y, g):
    """Worst-case error of mmd2 from its float32 kernels, per kernel value.

    ``g (d + 2) eps32 R^2`` from the distance, plus ``2 eps32`` from rounding ``g d2`` and ``exp``
    in float32 (each kernel value is at most 1). R is the largest distance from the centre each
    sum uses (own mean within, pooled mean across); a sum whose bound exceeds FLOAT32_TOLERANCE
    is computed in float64 from exact differences.
    """
    def one(a, b):
        c = np.vstack([a, b]).mean(0) if a is not b else a.mean(0)
        r2 = max(((a - c) ** 2).sum(1).max(), ((b - c) ** 2).sum(1).max())
        bound = g * (x.shape[1] + 2) * EPS32 * r2
        return bound + 2 * EPS32 if bound <= FLOAT32_TOLERANCE * 1.01 else 1e-12
    return one(x, x) + one(y, y) + 2 * one(x, y) + 1e-12


@SETTINGS
@given(pair=scaled_pair(), log_rel_gamma=st.floats(-2, 2), unbiased=st.booleans())
def test_mmd2_matches_naive_float64(pair, log_rel_gamma, unbiased):
    x, y = pair
    med = np.median(pdist(np.vstack([x, y]), "sqeuclidean"))
    assume(med > 0)
    g = 10.0**log_rel_gamma / med  # a bandwidth relative to the data's own scale
    got = mmd2(x, y, gamma=g, unbiased=unbiased)
    ref = naive_mmd2(x, y, g, unbiased)
    assert np.isfinite(got)
    assert abs(got - ref) <= float32_bound(x, y, g) + 1e-9 * abs(ref)
    if not unbiased:
        assert got >= -1e-12  # the V-statistic is a squared norm


@SETTINGS
@given(pair=scaled_pair())
def test_median_heuristic_matches_pdist(pair):
    x, y = pair
    med = np.median(pdist(np.vstack([x, y]), "sqeuclidean"))
    if med > 0:
        assert median_heuristic_gamma(x, y) == pytest.approx(1 / med, rel=1e-12)
        assert np.isfinite(mmd2(x, y))
    else:
        with pytest.raises(ValueError, match="median pairwise squared distance is 0"):
            median_heuristic_gamma(x, y)


@SETTINGS
@given(pair=scaled_pair(min_rows=1))
def test_energy_distance_matches_naive(pair):
    x, y = pair
    ref = 2 * cdist(x, y).mean() - cdist(x, x).mean() - cdist(y, y).mean()
    scale = max(np.abs(x).max(), np.abs(y).max(), 1e-300)
    got = energy_distance(x, y)
    assert got >= 0 and got == pytest.approx(max(ref, 0.0), rel=1e-6, abs=1e-7 * scale)


@SETTINGS
@given(pair=scaled_pair(min_rows=1, max_rows=6, equal=True))
def test_wasserstein2_matches_assignment(pair):
    x, y = pair
    c = cdist(x, y, "sqeuclidean")
    r, k = linear_sum_assignment(c)
    ref = c[r, k].mean()
    scale = max(np.abs(x).max(), np.abs(y).max()) ** 2
    assert wasserstein2(x, y, squared=True) == pytest.approx(ref, rel=1e-6, abs=1e-9 * scale)


@SETTINGS
@given(pair=scaled_pair(min_rows=1))
def test_mean_agreement_matches_sklearn_scipy(pair):
    x, y = pair
    mx, my = x.mean(0), y.mean(0)
    if np.sum((my - my.mean()) ** 2) > 0:
        assert mean_r2(x, y) == pytest.approx(r2_score(my, mx), rel=1e-7, abs=1e-9)
    else:
        with pytest.raises(ValueError, match="R\\^2 is undefined"):
            mean_r2(x, y)
    if x.shape[1] >= 2 and np.std(mx) > 0 and np.std(my) > 0:
        assert mean_pearson(x, y) == pytest.approx(scipy.stats.pearsonr(mx, my)[0], abs=1e-7)
    else:
        with pytest.raises(ValueError, match="Pearson"):
            mean_pearson(x, y)


METRICS = {
    "mmd2": lambda x, y: mmd2(x, y, gamma=1.0),
    "energy": energy_distance,
    "w2": wasserstein2,
    "mean_r2": mean_r2,
    "mmd2_linear": lambda x, y: mmd2_linear(x, y, gamma=1.0, random_state=0),
}


@SETTINGS
@given(name=st.sampled_from(sorted(METRICS)), which=st.sampled_from(["x", "y"]),
       bad=st.sampled_from([np.nan, np.inf, -np.inf]), data=st.data())
def test_nan_or_inf_anywhere_is_refused(name, which, bad, data):
    rng = np.random.default_rng(data.draw(st.integers(0, 100)))
    x, y = rng.normal(size=(6, 3)), rng.normal(size=(5, 3))
    arr = x if which == "x" else y
    i, j = data.draw(st.integers(0, arr.shape[0] - 1)), data.draw(st.integers(0, 2))
    arr[i, j] = bad
    # mean_r2 names its arguments pred/true
    label = {"x": "pred", "y": "true"}[which] if name == "mean_r2" else which
    with pytest.raises(ValueError, match=f"{label} contains .*\\(first at cell {i}, feature {j}\\)"):
        METRICS[name](x, y)


@SETTINGS
@given(name=st.sampled_from(sorted(METRICS)), kind=st.sampled_from(
    ["empty", "features", "3d", "strings"]))
def test_malformed_input_is_refused(name, kind):
    x = np.random.default_rng(0).normal(size=(6, 3))
    y = {"empty": np.zeros((0, 3)), "features": np.ones((5, 2)),
         "3d": np.ones((5, 3, 1)), "strings": np.array([["a"] * 3] * 5)}[kind]
    label = "true" if name == "mean_r2" else "y"
    msg = {"empty": f"{label} is empty", "features": "features but",
           "3d": f"{label} must be 2-D", "strings": f"{label} must be numeric"}[kind]
    err = TypeError if kind == "strings" else ValueError
    with pytest.raises(err, match=msg):
        METRICS[name](x, y)


@SETTINGS
@given(pair=scaled_pair(min_rows=2, max_rows=6), density=st.floats(0.0, 1.0))
def test_sparse_input_equals_dense(pair, density):
    """A scipy sparse matrix is densified at the boundary: the same numbers as the dense array."""
    x, y = pair
    mask = np.random.default_rng(0).random(x.shape) < density
    x = np.where(mask, x, 0.0)
    xs = scipy.sparse.csr_matrix(x)
    assert energy_distance(xs, y) == energy_distance(x, y)
    assert mmd2(xs, y, gamma=1.0) == mmd2(x, y, gamma=1.0)


@SETTINGS
@given(chunk=st.one_of(st.integers(-5, 0), st.floats(0.5, 10), st.none(), st.booleans(),
                       st.text(max_size=3)),
       unbiased=st.one_of(st.none(), st.integers(0, 1), st.text(max_size=5)))
def test_bad_options_are_refused(chunk, unbiased):
    x = np.random.default_rng(0).normal(size=(8, 2))
    with pytest.raises((TypeError, ValueError), match="chunk must be a positive integer"):
        mmd2_linear(x, x + 1, gamma=1.0, chunk=chunk)
    with pytest.raises(TypeError, match="unbiased must be True or False"):
        mmd2(x, x + 1, gamma=1.0, unbiased=unbiased)
