"""MMD^2 estimators for populations too large for the exact blocked statistic.

The exact unbiased U-statistic :func:`trackability.metrics.mmd2` stays the default: it is blocked
(memory ``O(block * n)``) but its time is ``O(n^2 d)``, about an hour at n = 10^6 per side on two
cores. Above ~100k cells use one of these, which report their own standard error:

- :func:`mmd2_linear`: Gretton et al.'s (2012) linear-time statistic. The cells are paired up at
  random and ``h = k(x, x') + k(y, y') - k(x, y') - k(x', y)`` is averaged over the pairs. Unbiased
  for the population MMD^2, ``O(n d)`` time, variance ``var(h) / n_pairs`` (estimated from the
  ``h`` values themselves).
- :func:`mmd2_subsampled`: the exact unbiased statistic on ``n_repeats`` random subsamples of
  ``n_subsample`` cells per group, averaged. Unbiased for the full-sample U-statistic, far less
  variable than the linear one at the same cost, with the standard error estimated from the spread
  over repeats.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from trackability._validation import check_int, check_pair, check_random_state
from trackability.metrics._scale import pow2_exponent, rescale
from trackability.metrics.mmd import _as_gammas, _effective_gammas, median_heuristic_gamma, mmd2


@dataclass(frozen=True)
class MMDEstimate:
    """An MMD^2 estimate with its uncertainty.

    Attributes
    ----------
    value
        The estimate of MMD^2 (averaged over gammas when several are given).
    variance
        Estimated variance of ``value``.
    std_error
        ``sqrt(variance)``.
    n_used
        Cells per group that entered the estimate.
    method
        ``"linear"`` or ``"subsampled"``.
    gamma
        The kernel bandwidth(s) used.

    """

    value: float
    variance: float
    std_error: float
    n_used: int
    method: str
    gamma: tuple[float, ...]

    def __float__(self) -> float:
        return self.value


def _rbf_rows(a: np.ndarray, b: np.ndarray, gammas: np.ndarray) -> np.ndarray:
    """``mean over gammas of exp(-gamma |a_i - b_i|^2)`` for paired rows (exact differences)."""
    diff = a - b
    d2 = np.einsum("ij,ij->i", diff, diff)
    with np.errstate(over="ignore"):  # gamma * d2 beyond the range: exp(-inf) = 0, exact
        return np.mean(np.exp(-gammas[:, None] * d2[None, :]), axis=0)


def _gamma(xa: np.ndarray, ya: np.ndarray, gamma: Any, random_state: Any) -> np.ndarray:
    if gamma is None:
        gamma = median_heuristic_gamma(xa, ya, max_samples=2000, random_state=random_state)
    return _as_gammas(gamma)


def _unit_scale(
    xa: np.ndarray, ya: np.ndarray, gamma: Any, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Both samples divided by one power of two (exact), the bandwidths scaled to match.

    The kernel sees only ``gamma |u - v|^2``; at unit scale no squared distance overflows or
    underflows (the statistic is then correct at every finite data scale). Returns the scaled
    samples, the bandwidths to use on them and the bandwidths in the data's own units.
    """
    k = pow2_exponent(xa, ya)
    xs, ys = rescale(k, xa, ya)
    if gamma is None:
        g = _gamma(xs, ys, None, rng)
        with np.errstate(over="ignore", under="ignore"):
            return xs, ys, g, np.ldexp(g, -2 * k)
    g = _as_gammas(gamma)
    return xs, ys, _effective_gammas(g, 2 * k, np.float64), g


def mmd2_linear(
    x: Any, y: Any, gamma: float | Any = None, *, random_state: Any = None, chunk: int = 1 << 18
) -> MMDEstimate:
    """Linear-time unbiased MMD^2 (Gretton et al. 2012, eq. 4) with its variance.

    Parameters
    ----------
    x, y
        Samples (m, d) and (n, d); ``min(m, n) // 2`` disjoint pairs are drawn from each.
    gamma
        RBF bandwidth ``exp(-gamma |u - v|^2)``, or a sequence to average over; None: median
        heuristic on a 2000-cell subsample (pass the training split's gamma in a benchmark).
    random_state
        Seed for the random pairing (and the median-heuristic subsample).
    chunk
        Pairs processed at a time (memory ``O(chunk * d)``).

    Returns
    -------
    MMDEstimate
        ``value`` is unbiased for the population MMD^2; ``variance = var(h) / n_pairs``.

    """
    # a non-positive or fractional chunk made range() fail or skip pairs (garbage h values)
    chunk = check_int(chunk, "chunk", minimum=1)
    xa, ya = check_pair(x, y, source_name="x", target_name="y", min_samples=4)
    rng = check_random_state(random_state)
    xa, ya, gammas, gamma_in = _unit_scale(xa, ya, gamma, rng)
    n_pairs = min(xa.shape[0], ya.shape[0]) // 2
    ix = rng.permutation(xa.shape[0])[: 2 * n_pairs]
    iy = rng.permutation(ya.shape[0])[: 2 * n_pairs]
    h = np.zeros(n_pairs)
    for s in range(0, n_pairs, chunk):
        e = min(n_pairs, s + chunk)
        x1, x2 = xa[ix[2 * s : 2 * e : 2]], xa[ix[2 * s + 1 : 2 * e : 2]]
        y1, y2 = ya[iy[2 * s : 2 * e : 2]], ya[iy[2 * s + 1 : 2 * e : 2]]
        h[s:e] = (
            _rbf_rows(x1, x2, gammas) + _rbf_rows(y1, y2, gammas)
            - _rbf_rows(x1, y2, gammas) - _rbf_rows(x2, y1, gammas)
        )
    var = float(np.var(h, ddof=1) / n_pairs) if n_pairs > 1 else float("nan")
    return MMDEstimate(float(h.mean()), var, float(np.sqrt(var)), 2 * n_pairs, "linear",
                       tuple(float(g) for g in gamma_in))


def mmd2_subsampled(
    x: Any,
    y: Any,
    gamma: float | Any = None,
    *,
    n_subsample: int = 5000,
    n_repeats: int = 10,
    random_state: Any = None,
) -> MMDEstimate:
    """Mean of the exact unbiased MMD^2 over random subsamples, with its standard error.

    Parameters
    ----------
    x, y
        Samples (m, d) and (n, d).
    gamma
        As in :func:`mmd2_linear`.
    n_subsample
        Cells drawn (without replacement) from each group per repeat; a group smaller than this is
        used whole (when both are, the exact statistic is returned once, with variance 0).
    n_repeats
        Independent subsamples (at least 2, for the standard error).
    random_state
        Seed for the subsamples.

    Returns
    -------
    MMDEstimate
        ``value`` is unbiased for the full-sample U-statistic ``mmd2(x, y, gamma)``;
        ``variance`` is the variance over repeats divided by ``n_repeats``. Cost:
        ``n_repeats * O(n_subsample^2 d)``.

    """
    n_subsample = check_int(n_subsample, "n_subsample", minimum=2)
    n_repeats = check_int(n_repeats, "n_repeats", minimum=2)
    xa, ya = check_pair(x, y, source_name="x", target_name="y", min_samples=2)
    rng = check_random_state(random_state)
    xa, ya, gammas, gamma_in = _unit_scale(xa, ya, gamma, rng)
    sx, sy = min(n_subsample, xa.shape[0]), min(n_subsample, ya.shape[0])
    if sx == xa.shape[0] and sy == ya.shape[0]:  # the "subsample" is everything: exact, no spread
        value = mmd2(xa, ya, gamma=gammas.tolist())
        return MMDEstimate(value, 0.0, 0.0, int(min(sx, sy)), "subsampled",
                           tuple(float(g) for g in gamma_in))
    vals = np.empty(n_repeats)
    for r in range(n_repeats):
        px = xa[rng.choice(xa.shape[0], size=sx, replace=False)]
        py = ya[rng.choice(ya.shape[0], size=sy, replace=False)]
        vals[r] = mmd2(px, py, gamma=gammas.tolist())
    var = float(np.var(vals, ddof=1) / n_repeats)
    return MMDEstimate(float(vals.mean()), var, float(np.sqrt(var)), int(min(sx, sy)), "subsampled",
                       tuple(float(g) for g in gamma_in))
