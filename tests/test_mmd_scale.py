"""Large-n MMD^2 estimators: unbiasedness and their reported variance, against exact references."""

from __future__ import annotations

import numpy as np
import pytest

from trackability.metrics import mmd2, mmd2_linear, mmd2_subsampled


def gaussian_mmd2(d: int, sigma: float, shift: float, gamma: float) -> float:
    """Population MMD^2 between N(0, s^2 I) and N(shift e1, s^2 I) with an RBF kernel (closed form).

    For z ~ N(m, t^2 I_d): E exp(-g |z|^2) = (1 + 2 g t^2)^(-d/2) exp(-g |m|^2 / (1 + 2 g t^2));
    differences of two independent draws have t^2 = 2 s^2.
    """
    a = 1.0 + 4.0 * gamma * sigma**2
    return 2.0 * a ** (-d / 2) * (1.0 - np.exp(-gamma * shift**2 / a))


def draw(rng, n, d, shift):
    x = rng.normal(size=(n, d))
    y = rng.normal(size=(n, d))
    y[:, 0] += shift
    return x, y


def test_linear_unbiased_and_variance_calibrated():
    d, gamma, shift, n, reps = 3, 0.2, 0.8, 2000, 200
    truth = gaussian_mmd2(d, 1.0, shift, gamma)
    rng = np.random.default_rng(0)
    est = [mmd2_linear(*draw(rng, n, d, shift), gamma=gamma, random_state=i) for i in range(reps)]
    values = np.array([e.value for e in est])
    reported_var = np.mean([e.variance for e in est])
    # unbiased: the mean over independent repeats is within 4 standard errors of the closed form
    assert abs(values.mean() - truth) < 4 * values.std(ddof=1) / np.sqrt(reps)
    # calibrated: the reported variance matches the variance seen across repeats
    assert 0.7 < reported_var / values.var(ddof=1) < 1.4


def test_subsampled_unbiased_for_full_statistic():
    rng = np.random.default_rng(1)
    x, y = draw(rng, 600, 4, 0.5)
    full = mmd2(x, y, gamma=0.25)
    est = [mmd2_subsampled(x, y, gamma=0.25, n_subsample=100, n_repeats=2, random_state=i)
           for i in range(150)]
    values = np.array([e.value for e in est])
    sd_of_mean = values.std(ddof=1) / np.sqrt(values.size)
    assert abs(values.mean() - full) < 4 * sd_of_mean
    one = mmd2_subsampled(x, y, gamma=0.25, n_subsample=100, n_repeats=40, random_state=0)
    # the per-call standard error agrees with the spread of 2-repeat calls (sd / sqrt(20) each)
    assert 0.5 < one.std_error / (values.std(ddof=1) / np.sqrt(20)) < 2.0
    # a subsample as large as the data is the exact statistic
    whole = mmd2_subsampled(x, y, gamma=0.25, n_subsample=600, n_repeats=2, random_state=0)
    assert whole.value == pytest.approx(full, rel=1e-12) and whole.variance == pytest.approx(0.0, abs=1e-20)


def test_linear_detects_difference_and_seed_reproducible():
    rng = np.random.default_rng(2)
    x, y = draw(rng, 20000, 5, 1.0)
    a = mmd2_linear(x, y, gamma=0.1, random_state=3)
    b = mmd2_linear(x, y, gamma=0.1, random_state=3)
    assert a == b
    assert a.value > 5 * a.std_error  # a shift of one standard deviation is clearly detected
    assert float(a) == a.value and a.method == "linear" and a.n_used == 20000


def test_bad_input():
    x = np.zeros((10, 2))
    with pytest.raises(ValueError, match="n_repeats must be an integer >= 2"):
        mmd2_subsampled(x, x + 1, gamma=1.0, n_repeats=1)
    with pytest.raises(ValueError, match="n_subsample"):
        mmd2_subsampled(x, x + 1, gamma=1.0, n_subsample=1)
    with pytest.raises(ValueError, match="gamma must be a positive number"):
        mmd2_linear(x, x + 1, gamma=-1.0)
    with pytest.raises(ValueError, match="x has 2 features but y has 3"):
        mmd2_linear(x, np.zeros((10, 3)), gamma=1.0)
    bad = x.copy()
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="x contains 0 NaN and 1 infinite"):
        mmd2_linear(bad, x, gamma=1.0)


def test_chunk_validated():
    """chunk=-1 used to return garbage (4e251, variance inf); 0 or a float a bare range() error."""
    x = np.random.default_rng(0).normal(size=(40, 2))
    for bad in (0, -1):
        with pytest.raises(ValueError, match="chunk must be a positive integer"):
            mmd2_linear(x, x + 1, gamma=1.0, chunk=bad)
    for bad in (2.5, "8", None, True):
        with pytest.raises(TypeError, match="chunk must be a positive integer"):
            mmd2_linear(x, x + 1, gamma=1.0, chunk=bad)
    for bad in (2.0, True):
        with pytest.raises(TypeError, match="n_repeats must be an integer >= 2"):
            mmd2_subsampled(x, x + 1, gamma=1.0, n_repeats=bad)
    # any chunk gives the same pairs, so the same statistic
    ref = mmd2_linear(x, x + 1, gamma=1.0, random_state=3)
    for c in (1, 3, 7, 1000):
        assert mmd2_linear(x, x + 1, gamma=1.0, random_state=3, chunk=c).value == pytest.approx(
            ref.value, rel=1e-12)


@pytest.mark.parametrize("s", [1e30, 1e-30, 1e200, 1e-200])
def test_estimators_at_every_scale(s):
    """Scale-free: the same pairs and subsamples give the same statistic at any data scale."""
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(300, 3)), rng.normal(size=(300, 3)) + 0.5
    lin, lin_s = mmd2_linear(x, y, random_state=1), mmd2_linear(x * s, y * s, random_state=1)
    assert np.isfinite(lin_s.value) and lin_s.value == pytest.approx(lin.value, rel=1e-9)
    sub = mmd2_subsampled(x, y, n_subsample=100, n_repeats=3, random_state=1)
    sub_s = mmd2_subsampled(x * s, y * s, n_subsample=100, n_repeats=3, random_state=1)
    assert sub_s.value == pytest.approx(sub.value, rel=1e-5)
    if 1e-150 < s < 1e150:  # an explicit gamma in the data's units (g / s^2 is representable)
        got = mmd2_linear(x * s, y * s, gamma=0.7 / s**2, random_state=2).value
        assert got == pytest.approx(mmd2_linear(x, y, gamma=0.7, random_state=2).value, rel=1e-9)
