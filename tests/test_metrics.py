"""Metrics against naive float64 formulas, scipy/sklearn, and brute-force assignment."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.stats
from scipy.spatial.distance import cdist, pdist
from sklearn.metrics import r2_score
from sklearn.metrics.pairwise import rbf_kernel

from trackability.matching import Matching
from trackability.metrics import (
    CELLOT_GAMMAS,
    energy_distance,
    kernel_sum,
    mean_pearson,
    mean_r2,
    median_heuristic_gamma,
    mmd2,
    recovery_rate,
    wasserstein2,
)


# -- independent reference implementations ------------------------------------------------------
def naive_mmd2(x, y, gamma, unbiased=True):
    """Full-matrix float64 MMD^2 with scipy's cdist, averaged over gammas."""
    vals = []
    for g in np.atleast_1d(gamma):
        kxx = np.exp(-g * cdist(x, x, "sqeuclidean"))
        kyy = np.exp(-g * cdist(y, y, "sqeuclidean"))
        kxy = np.exp(-g * cdist(x, y, "sqeuclidean"))
        m, n = len(x), len(y)
        if unbiased:
            v = (kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (
                n * (n - 1)
            ) - 2 * kxy.mean()
        else:
            v = kxx.mean() + kyy.mean() - 2 * kxy.mean()
        vals.append(v)
    return float(np.mean(vals))


def cellot_mmd(x, y, gammas=CELLOT_GAMMAS):
    """CellOT's evaluation (biased, averaged over its gammas), written with sklearn's rbf_kernel."""
    return float(np.mean([
        rbf_kernel(x, x, gamma=g).mean() + rbf_kernel(y, y, gamma=g).mean()
        - 2 * rbf_kernel(x, y, gamma=g).mean()
        for g in gammas
    ]))


def naive_energy(x, y):
    return 2 * cdist(x, y).mean() - cdist(x, x).mean() - cdist(y, y).mean()


def brute_w2sq(x, y):
    """min over permutations of the mean squared distance (equal sizes: W2^2 is a permutation)."""
    c = cdist(x, y, "sqeuclidean")
    n = len(x)
    return min(c[np.arange(n), p].mean() for p in itertools.permutations(range(n)))


@pytest.fixture
def xy():
    rng = np.random.default_rng(0)
    return rng.normal(size=(60, 5)), rng.normal(size=(45, 5)) * 1.3 + 0.4


# -- MMD ----------------------------------------------------------------------------------------
class TestMMD:
    @pytest.mark.parametrize("unbiased", [True, False])
    @pytest.mark.parametrize("block_size", [1, 7, 1000])
    @pytest.mark.parametrize("gamma", [0.02, 0.3, 2.0])
    def test_matches_naive(self, xy, unbiased, block_size, gamma):
        x, y = xy
        got = mmd2(x, y, gamma=gamma, unbiased=unbiased, block_size=block_size)
        assert got == pytest.approx(naive_mmd2(x, y, gamma, unbiased), rel=1e-5, abs=1e-7)

    @pytest.mark.parametrize("unbiased", [True, False])
    @pytest.mark.parametrize(
        ("offset", "separation"), [(1000.0, 0.0), (1000.0, 0.5), (-1e4, 0.5), (0.0, 2000.0)]
    )
    def test_float32_path_far_from_origin(self, offset, separation, unbiased):
        """Float32 kernels must still match float64 when cells sit far from 0 or far apart."""
        rng = np.random.default_rng(1)
        x = rng.normal(size=(50, 6)) + offset
        y = rng.normal(size=(40, 6)) + offset + separation
        for g in (0.05, 1.0):
            got = mmd2(x, y, gamma=g, unbiased=unbiased, block_size=16)
            assert got == pytest.approx(naive_mmd2(x, y, g, unbiased), rel=1e-5, abs=1e-7)

    def test_several_gammas_average(self, xy):
        x, y = xy
        gammas = [0.01, 0.1, 1.0]
        want = np.mean([naive_mmd2(x, y, g) for g in gammas])
        assert mmd2(x, y, gamma=gammas) == pytest.approx(want, rel=1e-5)
        assert mmd2(x, y, gamma=np.array(gammas), block_size=7) == pytest.approx(want, rel=1e-5)

    def test_cellot_biased_multigamma_form(self, xy):
        x, y = xy
        got = mmd2(x, y, gamma=CELLOT_GAMMAS, unbiased=False)
        assert got == pytest.approx(cellot_mmd(x, y), rel=1e-5)
        assert CELLOT_GAMMAS == (2.0, 1.0, 0.5, 0.1, 0.01, 0.005)

    def test_biased_exceeds_unbiased_by_diagonal_terms(self, xy):
        """V - U = (1 - mean off-diagonal Kxx)/m + (1 - mean off-diagonal Kyy)/n > 0."""
        x, y = xy
        m, n = len(x), len(y)
        kxx, kyy = np.exp(-0.5 * pdist(x, "sqeuclidean")), np.exp(-0.5 * pdist(y, "sqeuclidean"))
        gap = (1 - kxx.mean()) / m + (1 - kyy.mean()) / n  # pdist: each off-diagonal pair once
        v, u = mmd2(x, y, gamma=0.5, unbiased=False), mmd2(x, y, gamma=0.5, unbiased=True)
        assert v - u == pytest.approx(gap, rel=1e-5)
        assert v > u

    def test_identical_samples_biased_is_zero(self, xy):
        x, _ = xy
        # float32 kernels: the cross sum's diagonal is exp(-gamma * ~1e-7), not exactly 1
        assert mmd2(x, x, gamma=0.4, unbiased=False) == pytest.approx(0.0, abs=1e-7)

    def test_single_cell_biased_matches_naive(self):
        x = np.array([[0.0, 1.0]])
        y = np.array([[1.0, 1.0], [0.0, 3.0]])
        assert mmd2(x, y, gamma=0.7, unbiased=False) == pytest.approx(
            naive_mmd2(x, y, 0.7, unbiased=False), rel=1e-6
        )

    def test_default_gamma_is_median_heuristic_of_pooled(self, xy):
        x, y = xy
        g = 1.0 / np.median(pdist(np.vstack([x, y]), "sqeuclidean"))
        assert mmd2(x, y) == pytest.approx(naive_mmd2(x, y, g), rel=1e-5)

    def test_detects_a_shift(self):
        rng = np.random.default_rng(3)
        x = rng.normal(size=(200, 2))
        same = mmd2(x, rng.normal(size=(200, 2)), gamma=0.5)
        shifted = mmd2(x, rng.normal(size=(200, 2)) + 1.0, gamma=0.5)
        assert abs(same) < 0.02 < shifted

    def test_bad_input(self, xy):
        x, y = xy
        for bad in (0.0, -1.0, np.nan, np.inf, [], [0.1, -0.1]):
            with pytest.raises(ValueError, match="gamma must be a positive"):
                mmd2(x, y, gamma=bad)
        for bad in (0, -3):
            with pytest.raises(ValueError, match="block_size must be a positive integer"):
                mmd2(x, y, gamma=1.0, block_size=bad)
        for bad in (2.5, "8", True):
            with pytest.raises(TypeError, match="block_size must be a positive integer"):
                mmd2(x, y, gamma=1.0, block_size=bad)
        with pytest.raises(ValueError, match="x has 1 cell.*at least 2"):
            mmd2(x[:1], y, gamma=1.0)  # the unbiased form needs two cells per sample
        with pytest.raises(ValueError, match="x has 5 features but y has 4"):
            mmd2(x, y[:, :4], gamma=1.0)
        with pytest.raises(ValueError, match="y contains 1 NaN"):
            y2 = y.copy()
            y2[3, 2] = np.nan
            mmd2(x, y2, gamma=1.0)
        with pytest.raises(ValueError, match="x must be 2-D"):
            mmd2(x[:, 0], y, gamma=1.0)


def test_kernel_sum_matches_naive(xy):
    x, y = xy
    gammas = np.array([0.05, 0.5, 3.0])
    for block in (1, 13, 500):
        got = kernel_sum(x, y, gammas, block_size=block)
        want = [np.exp(-g * cdist(x, y, "sqeuclidean")).sum() for g in gammas]
        np.testing.assert_allclose(got, want, rtol=1e-5)
        got_same = kernel_sum(x, x, gammas, same=True, block_size=block)
        want_same = [np.exp(-g * cdist(x, x, "sqeuclidean")).sum() - len(x) for g in gammas]
        np.testing.assert_allclose(got_same, want_same, rtol=1e-5)


class TestMedianHeuristic:
    def test_matches_naive_pdist(self, xy):
        x, y = xy
        want = 1.0 / np.median(pdist(np.vstack([x, y]), "sqeuclidean"))
        assert median_heuristic_gamma(x, y) == pytest.approx(want, rel=1e-10)
        assert median_heuristic_gamma(x) == pytest.approx(
            1.0 / np.median(pdist(x, "sqeuclidean")), rel=1e-10
        )

    def test_far_from_origin(self):
        rng = np.random.default_rng(4)
        x = rng.normal(size=(30, 3)) + 1e5
        want = 1.0 / np.median(pdist(x, "sqeuclidean"))
        assert median_heuristic_gamma(x) == pytest.approx(want, rel=1e-6)

    def test_subsampling_is_seeded(self):
        rng = np.random.default_rng(5)
        x = rng.normal(size=(300, 4))
        a = median_heuristic_gamma(x, max_samples=50, random_state=3)
        b = median_heuristic_gamma(x, max_samples=50, random_state=3)
        c = median_heuristic_gamma(x, max_samples=50, random_state=4)
        assert a == b
        assert a != c
        # it is the naive median over a uniform subsample without replacement with that seed
        idx = np.random.default_rng(3).choice(300, size=50, replace=False)
        assert a == pytest.approx(1.0 / np.median(pdist(x[idx], "sqeuclidean")), rel=1e-10)
        # and close to the full-data value
        full = median_heuristic_gamma(x)
        assert a == pytest.approx(full, rel=0.25)

    def test_max_samples_above_pool_uses_everything(self, xy):
        x, y = xy
        assert median_heuristic_gamma(x, y, max_samples=10_000, random_state=0) == pytest.approx(
            median_heuristic_gamma(x, y), rel=1e-12
        )

    def test_bad_input(self):
        with pytest.raises(TypeError, match="at least one array"):
            median_heuristic_gamma()
        with pytest.raises(ValueError, match=r"arrays\[1\] has 2 features but arrays\[0\] has 3"):
            median_heuristic_gamma(np.zeros((3, 3)), np.zeros((3, 2)))
        with pytest.raises(ValueError, match=r"arrays\[0\] contains 1 NaN"):
            median_heuristic_gamma(np.array([[np.nan], [1.0]]))
        with pytest.raises(ValueError, match="at least two cells"):
            median_heuristic_gamma(np.ones((1, 3)))
        with pytest.raises(ValueError, match="median pairwise squared distance is 0"):
            median_heuristic_gamma(np.ones((5, 2)))
        with pytest.raises(ValueError, match="max_samples must be an integer >= 2"):
            median_heuristic_gamma(np.eye(3), max_samples=1)
        with pytest.raises(ValueError, match="pass max_samples"):
            median_heuristic_gamma(np.zeros((20_001, 1)))


# -- energy distance and W2 ---------------------------------------------------------------------
class TestEnergy:
    @pytest.mark.parametrize("block_size", [1, 7, 4096])
    def test_matches_naive(self, xy, block_size):
        x, y = xy
        # float64 expansion |a|^2 + |b|^2 - 2ab: sqrt of rounding residues costs ~1e-9 relative
        assert energy_distance(x, y, block_size=block_size) == pytest.approx(
            naive_energy(x, y), rel=1e-8
        )

    def test_equals_scipy_squared_in_1d(self):
        rng = np.random.default_rng(6)
        u, v = rng.normal(size=80), rng.exponential(size=70)
        want = scipy.stats.energy_distance(u, v) ** 2
        assert energy_distance(u[:, None], v[:, None]) == pytest.approx(want, rel=1e-8)

    def test_far_apart_populations(self):
        rng = np.random.default_rng(7)
        x, y = rng.normal(size=(30, 4)), rng.normal(size=(25, 4)) + 1e4
        assert energy_distance(x, y) == pytest.approx(naive_energy(x, y), rel=1e-9)

    def test_identical_is_zero(self, xy):
        x, _ = xy
        assert energy_distance(x, x) == pytest.approx(0.0, abs=1e-8)

    def test_bad_input(self, xy):
        x, y = xy
        with pytest.raises(ValueError, match="x has 5 features but y has 4"):
            energy_distance(x, y[:, :4])
        with pytest.raises(ValueError, match="y is empty"):
            energy_distance(x, np.zeros((0, 5)))
        for bad in (0, -1):  # -1 used to skip every block and return 0.0
            with pytest.raises(ValueError, match="block_size must be a positive integer"):
                energy_distance(x, y, block_size=bad)
        with pytest.raises(TypeError, match="block_size must be a positive integer"):
            energy_distance(x, y, block_size=2.5)


class TestWasserstein:
    @pytest.mark.parametrize("n", [2, 5, 7])
    def test_matches_brute_force_permutation(self, n):
        rng = np.random.default_rng(n)
        x, y = rng.normal(size=(n, 3)), rng.normal(size=(n, 3)) + 0.5
        w2sq = brute_w2sq(x, y)
        assert wasserstein2(x, y, squared=True) == pytest.approx(w2sq, rel=1e-9)
        assert wasserstein2(x, y) == pytest.approx(np.sqrt(w2sq), rel=1e-9)

    def test_translation_in_1d(self):
        """W2 between a sample and its translate by c is exactly |c|."""
        rng = np.random.default_rng(8)
        x = rng.normal(size=(40, 1))
        assert wasserstein2(x, x + 2.5) == pytest.approx(2.5, rel=1e-9)

    def test_unequal_sizes_1d_quantile_formula(self):
        """In 1-D, W2^2 is the integral of the squared difference of the quantile functions."""
        x = np.array([[0.0], [1.0], [2.0], [3.0]])
        y = np.array([[0.5], [2.5]])
        # quantiles: x on [0,1/4),[1/4,1/2),...; y on [0,1/2),[1/2,1)
        want = 0.25 * (0.5**2 + 0.5**2 + 0.5**2 + 0.5**2)
        assert wasserstein2(x, y, squared=True) == pytest.approx(want, rel=1e-9)

    def test_size_limit_error(self):
        x = np.zeros((30, 2))
        with pytest.raises(ValueError, match=r"30 x 30 cells.*limit 800.*subsample"):
            wasserstein2(x, x, max_pairs=800)
        assert wasserstein2(x, x + 1.0, max_pairs=900) == pytest.approx(np.sqrt(2.0))


# -- agreement of means -------------------------------------------------------------------------
class TestMeans:
    def test_mean_r2_matches_sklearn(self, xy):
        x, y = xy
        assert mean_r2(x, y) == pytest.approx(r2_score(y.mean(0), x.mean(0)), rel=1e-12)
        assert mean_r2(y, y[::-1]) == pytest.approx(1.0)

    def test_mean_r2_can_be_negative(self):
        true = np.array([[0.0, 1.0, 2.0], [0.0, 1.0, 2.0]])
        pred = np.array([[5.0, -3.0, 0.0]])
        assert mean_r2(pred, true) < 0
        assert mean_r2(pred, true) == pytest.approx(
            r2_score(true.mean(0), pred.mean(0)), rel=1e-12
        )

    def test_mean_pearson_matches_scipy(self, xy):
        x, y = xy
        want = scipy.stats.pearsonr(x.mean(0), y.mean(0)).statistic
        assert mean_pearson(x, y) == pytest.approx(want, rel=1e-12)
        # invariant to an affine change of the predicted means, unlike R^2
        assert mean_pearson(3 * x + 7, y) == pytest.approx(want, rel=1e-10)
        assert mean_r2(3 * x + 7, y) < mean_r2(x, y)

    def test_bad_input(self):
        with pytest.raises(ValueError, match="R\\^2 is undefined"):
            mean_r2(np.ones((3, 2)), np.ones((3, 2)))
        with pytest.raises(ValueError, match=">= 2 features"):
            mean_pearson(np.ones((3, 1)), np.arange(3.0)[:, None])
        with pytest.raises(ValueError, match="pred has 2 features but true has 3"):
            mean_r2(np.ones((3, 2)), np.ones((3, 3)))
        with pytest.raises(ValueError, match="true contains"):
            mean_pearson(np.ones((3, 2)), np.array([[np.inf, 0.0]]))


# -- recovery rate ------------------------------------------------------------------------------
class TestRecovery:
    def test_with_matching(self):
        perm = np.array([2, 0, 1, 3])  # target j came from source perm[j]
        exact = Matching(perm, np.arange(4), 0.0)
        assert recovery_rate(perm, exact) == 1.0
        # swap the partners of targets 0 and 1: two wrong out of four
        half = Matching(np.array([0, 2, 1, 3]), np.arange(4), 0.0)
        want = np.mean([perm[j] == s for s, j in zip([0, 2, 1, 3], range(4), strict=True)])
        assert recovery_rate(perm, half) == pytest.approx(want) == 0.5

    def test_with_array_and_partial(self):
        perm = np.array([1, 2, 0, 4, 3])
        assert recovery_rate(perm, perm.copy()) == 1.0
        arr = np.array([1, 2, -1, 3, -1])  # 3 matched, 2 correct
        assert recovery_rate(perm, arr) == pytest.approx(2 / 3)
        m = Matching(np.array([1, 2, 3]), np.array([0, 1, 3]), 0.0)
        assert recovery_rate(perm, m) == pytest.approx(2 / 3)

    def test_bad_input(self):
        perm = np.arange(4)
        with pytest.raises(ValueError, match="true_permutation must be a non-empty 1-D integer"):
            recovery_rate(np.arange(4.0), perm)
        with pytest.raises(ValueError, match="true_permutation"):
            recovery_rate(np.array([], dtype=int), perm)
        with pytest.raises(ValueError, match="true_permutation"):
            recovery_rate(np.zeros((2, 2), dtype=int), perm)
        with pytest.raises(ValueError, match="matching must be a Matching or an integer array"):
            recovery_rate(perm, np.arange(3))
        with pytest.raises(ValueError, match="matching must be"):
            recovery_rate(perm, np.arange(4.0))
        with pytest.raises(ValueError, match="matching refers to target cell 7"):
            recovery_rate(perm, Matching(np.arange(2), np.array([1, 7]), 0.0))
        with pytest.raises(ValueError, match="matching is empty"):
            recovery_rate(perm, np.full(4, -1))


# -- every finite scale (issue "Correct on every input", item 3) ---------------------------------
def naive_w2sq(x, y):
    """Equal sizes, uniform weights: W2^2 is the optimal assignment's mean squared distance."""
    from scipy.optimize import linear_sum_assignment

    c = cdist(x, y, "sqeuclidean")
    r, k = linear_sum_assignment(c)
    return c[r, k].mean()


def _scaled_samples(kind):
    rng = np.random.default_rng(11)
    x, y = rng.normal(size=(60, 4)), rng.normal(size=(50, 4)) + 0.4
    if kind == "feature":  # one feature at 1e30, the others at unit scale
        x[:, 0] *= 1e30
        y[:, 0] *= 1e30
        return x, y
    return x * kind, y * kind


SCALES = (1e30, 1e20, 1e-20, 1e-30, "feature")


class TestEveryScale:
    """float32 kernels used to overflow to NaN (1e20, 1e30) or underflow to 0.0 (1e-20, 1e-30)."""

    @pytest.mark.parametrize("kind", SCALES)
    def test_mmd2_matches_naive_float64(self, kind):
        x, y = _scaled_samples(kind)
        g = median_heuristic_gamma(x, y)
        assert g == pytest.approx(1 / np.median(pdist(np.vstack([x, y]), "sqeuclidean")), rel=1e-12)
        for unbiased in (True, False):
            ref = naive_mmd2(x, y, g, unbiased=unbiased)
            got = mmd2(x, y, gamma=g, unbiased=unbiased)
            assert np.isfinite(got) and got == pytest.approx(ref, rel=1e-5, abs=1e-7)
        # gamma=None and a list of gammas (CellOT's form, relative to the data's scale)
        assert mmd2(x, y) == pytest.approx(naive_mmd2(x, y, g), rel=1e-5, abs=1e-7)
        gs = [g * f for f in (4.0, 1.0, 0.01)]
        assert mmd2(x, y, gamma=gs, unbiased=False) == pytest.approx(
            naive_mmd2(x, y, gs, unbiased=False), rel=1e-5, abs=1e-7)

    @pytest.mark.parametrize("kind", SCALES)
    def test_distances_and_r2_match_naive(self, kind):
        x, y = _scaled_samples(kind)
        assert energy_distance(x, y) == pytest.approx(naive_energy(x, y), rel=1e-6)
        xs, ys = x[:40], y[:40]
        assert wasserstein2(xs, ys, squared=True) == pytest.approx(naive_w2sq(xs, ys), rel=1e-6)
        assert wasserstein2(xs, ys) == pytest.approx(np.sqrt(naive_w2sq(xs, ys)), rel=1e-6)
        assert mean_r2(xs, ys) == pytest.approx(r2_score(ys.mean(0), xs.mean(0)), rel=1e-9)
        assert mean_pearson(xs, ys) == pytest.approx(
            scipy.stats.pearsonr(xs.mean(0), ys.mean(0))[0], rel=1e-9)

    def test_powers_of_two_give_identical_bits(self):
        """The rescaling is exact: scaling the data by 2^k and gamma by 2^-2k changes nothing."""
        x, y = _scaled_samples(1.0)
        g = median_heuristic_gamma(x, y)
        for k in (-90, -40, 40, 90):
            s = 2.0**k
            assert mmd2(x * s, y * s, gamma=g / s**2) == mmd2(x, y, gamma=g)
            assert mmd2(x * s, y * s) == mmd2(x, y)
            assert median_heuristic_gamma(x * s, y * s) == g / s**2
            assert energy_distance(x * s, y * s) == energy_distance(x, y) * s

    def test_beyond_float64_squares(self):
        """At 1e200 the squared distances themselves overflow float64: still correct, or refused."""
        x, y = _scaled_samples(1.0)
        ref = mmd2(x, y)
        for s in (1e200, 1e-200):
            assert mmd2(x * s, y * s) == pytest.approx(ref, rel=1e-5)
            assert energy_distance(x * s, y * s) == pytest.approx(energy_distance(x, y) * s,
                                                                  rel=1e-9)
            assert mean_r2(x * s, y * s) == pytest.approx(mean_r2(x, y), rel=1e-9)
            with pytest.raises(ValueError, match="median_heuristic_gamma .* not representable"):
                median_heuristic_gamma(x * s, y * s)
        # W2^2 at 1e200 is ~1e400: refused, W2 itself is fine
        with pytest.raises(ValueError, match="wasserstein2 \\(squared\\).*not representable"):
            wasserstein2(x * 1e200, y * 1e200, squared=True)
        assert wasserstein2(x * 1e200, y * 1e200) == pytest.approx(wasserstein2(x, y) * 1e200,
                                                                   rel=1e-9)

    def test_narrow_bandwidth_switches_to_float64(self):
        """gamma R^2 >> 1: the float32 expansion would drift; the float64 path is exact."""
        x = np.array([[0.0], [64.0]])
        assert mmd2(x, x, gamma=1.0, unbiased=False) == 0.0  # was 2.4e-4 with float32 distances
        rng = np.random.default_rng(2)
        a, b = rng.normal(size=(30, 3)) * 50, rng.normal(size=(25, 3)) * 50
        for g in (1.0, 1e3, 1e40):
            assert mmd2(a, b, gamma=g) == pytest.approx(naive_mmd2(a, b, g), rel=1e-9, abs=1e-12)


class TestFlagValidation:
    """unbiased=None used to give the biased statistic; strings were accepted as booleans."""

    def test_booleans_and_counts(self, xy):
        x, y = xy
        for bad in (None, "yes", "False", 1, 0):
            with pytest.raises(TypeError, match="unbiased must be True or False"):
                mmd2(x, y, gamma=1.0, unbiased=bad)
            with pytest.raises(TypeError, match="squared must be True or False"):
                wasserstein2(x, y, squared=bad)
        assert mmd2(x, y, gamma=1.0, unbiased=np.True_) == mmd2(x, y, gamma=1.0)
        for bad in ("a", b"1", True, ["a"], {"g": 1}):
            with pytest.raises(TypeError, match="gamma must be a positive number"):
                mmd2(x, y, gamma=bad)
        for bad in (None, 1.5, "10"):
            with pytest.raises(TypeError, match="max_pairs must be a positive integer"):
                wasserstein2(x, y, max_pairs=bad)
        with pytest.raises(ValueError, match="max_pairs must be a positive integer"):
            wasserstein2(x, y, max_pairs=0)
