"""Maximum mean discrepancy with a Gaussian RBF kernel, computed in blocks.

``k(u, v) = exp(-gamma |u - v|^2)``. The unbiased estimator (the default, and the one every method is
scored with) drops the diagonal terms of the within-sample kernel sums; the biased (V-statistic)
form keeps them, which is what CellOT reports. Kernel values are computed in float32 and summed in
float64, in row blocks, so memory stays ``O(block_size * n)``; an exact power-of-two rescaling
keeps every finite data scale (1e-30 .. 1e30 and beyond) away from float32 overflow and underflow.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from trackability._validation import (
    check_bool,
    check_int,
    check_pair,
    check_pooled,
    check_random_state,
)
from trackability.metrics._scale import pow2_exponent, rescale, unscale

#: The bandwidths CellOT averages over (with the biased estimator), for comparable numbers.
CELLOT_GAMMAS: tuple[float, ...] = (2.0, 1.0, 0.5, 0.1, 0.01, 0.005)

_DEFAULT_BLOCK = 2048
_MAX_EXACT_MEDIAN = 20_000


def _as_gammas(gamma: float | Sequence[float]) -> np.ndarray:
    try:
        if isinstance(gamma, str | bytes | bool | np.bool_) or (
            isinstance(gamma, Sequence) and any(isinstance(v, str | bytes | bool) for v in gamma)
        ):
            raise TypeError
        g = np.atleast_1d(np.asarray(gamma, dtype=np.float64))
    except (TypeError, ValueError):
        raise TypeError(
            f"gamma must be a positive number or a non-empty list of them; got {gamma!r}."
        ) from None
    if g.ndim != 1 or g.size == 0 or not np.all(np.isfinite(g)) or np.any(g <= 0):
        raise ValueError(f"gamma must be a positive number or a non-empty list of them; got {gamma!r}.")
    return g


def kernel_sum(
    a: np.ndarray,
    b: np.ndarray,
    gammas: np.ndarray,
    *,
    same: bool = False,
    block_size: int = _DEFAULT_BLOCK,
) -> np.ndarray:
    """Sum over all pairs of ``exp(-gamma |a_i - b_j|^2)`` for each gamma, float64 accumulation.

    With ``same=True`` (``a is b``) the diagonal terms are excluded. Arrays must already share a
    centring (see :func:`mmd2`). Both are first divided by a power of two (exactly) to unit scale,
    with ``gamma`` multiplied by its square, so no scale overflows or underflows. Distances are
    then formed in float32, unless the float32 error bound ``gamma (d + 2) eps32 R^2`` (R: the
    largest row norm) exceeds :data:`FLOAT32_TOLERANCE`: then in float64 from exact differences
    (``scipy.spatial.distance.cdist``), in blocks of half the rows (the same memory).
    """
    return _kernel_sum(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), 0.0,
                       np.asarray(gammas, dtype=np.float64), 0, same, block_size)


#: Largest worst-case error of one float32 kernel value accepted before switching to float64.
FLOAT32_TOLERANCE = 1e-4


def _effective_gammas(gammas: np.ndarray, gamma_exp: int, dtype: type) -> np.ndarray:
    """``gammas * 2**gamma_exp``, clipped to the positive normal range of ``dtype``.

    A gamma above the range gives a kernel of exactly 0 between distinct cells at that precision
    anyway, one below it a kernel of exactly 1; clipping keeps ``0 * inf`` (the excluded diagonal)
    from turning into NaN.
    """
    with np.errstate(over="ignore", under="ignore"):
        g = np.ldexp(gammas, gamma_exp)
    info = np.finfo(dtype)
    return np.clip(g, info.tiny, info.max).astype(dtype)


def _kernel_sum(
    a: np.ndarray,
    b: np.ndarray,
    shift: np.ndarray | float,
    gammas: np.ndarray,
    gamma_exp: int,
    same: bool,
    block_size: int,
) -> np.ndarray:
    """:func:`kernel_sum` of ``a, b`` with the bandwidths ``gammas * 2**gamma_exp``.

    The float32 expansion works on ``a - shift, b - shift`` (a centring that keeps ``|a|^2``
    small); the float64 fallback forms exact differences of ``a`` and ``b`` themselves, which need
    no centring (and keep distinctions that a centring would round away).
    """
    ac, bc = a - shift, b - shift
    k = pow2_exponent(ac, bc)
    ac, bc = rescale(k, ac, bc)
    r2 = max(float(np.einsum("ij,ij->i", ac, ac).max()), float(np.einsum("ij,ij->i", bc, bc).max()))
    g64 = _effective_gammas(gammas, gamma_exp + 2 * k, np.float64)
    bound32 = float(g64.max()) * (a.shape[1] + 2) * float(np.finfo(np.float32).eps) * r2
    totals = np.zeros(gammas.size, dtype=np.float64)
    if bound32 <= FLOAT32_TOLERANCE:
        a32, b32 = ac.astype(np.float32), bc.astype(np.float32)
        b32_sq = np.einsum("ij,ij->i", b32, b32)
        g = _effective_gammas(gammas, gamma_exp + 2 * k, np.float32)
        rows = block_size
    else:
        from scipy.spatial.distance import cdist

        k = pow2_exponent(a, b)
        a, b = rescale(k, a, b)
        g = g64 = _effective_gammas(gammas, gamma_exp + 2 * k, np.float64)
        rows = max(1, block_size // 2)  # float64 blocks: half the rows, the same memory
    for start in range(0, a.shape[0], rows):
        if g is g64:
            d2 = cdist(a[start : start + rows], b, "sqeuclidean")
        else:
            blk = a32[start : start + rows]
            d2 = np.einsum("ij,ij->i", blk, blk)[:, None] + b32_sq[None, :]
            d2 -= 2.0 * (blk @ b32.T)
            np.maximum(d2, 0.0, out=d2)
        if same:
            idx = np.arange(d2.shape[0])
            d2[idx, start + idx] = np.inf  # exp(-inf) = 0: the diagonal drops out exactly
        with np.errstate(over="ignore"):  # gamma * d2 beyond the range: exp(-inf) = 0, exact
            for j, gj in enumerate(g):
                totals[j] += np.exp(-gj * d2).sum(dtype=np.float64)
    return totals


def mmd2(
    x: Any,
    y: Any,
    gamma: float | Sequence[float] | None = None,
    unbiased: bool = True,
    *,
    block_size: int = _DEFAULT_BLOCK,
) -> float:
    """Squared maximum mean discrepancy between samples ``x`` and ``y`` with an RBF kernel.

    Parameters
    ----------
    x, y
        Samples of shape (m, d) and (n, d), cells as rows.
    gamma
        Kernel bandwidth ``exp(-gamma |u - v|^2)``; a sequence averages MMD^2 over the bandwidths
        (e.g. :data:`CELLOT_GAMMAS`). ``None`` uses :func:`median_heuristic_gamma` on ``x`` and
        ``y`` pooled; in a benchmark pass the gamma computed on the training split instead.
    unbiased
        Unbiased U-statistic (diagonal terms dropped; can be slightly negative) or the biased
        V-statistic.
    block_size
        Rows per block; memory is ``O(block_size * max(m, n))``.

    Returns
    -------
    float
        MMD^2 (averaged over gammas when several are given).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.normal(size=(200, 3)), rng.normal(size=(200, 3))
    >>> abs(mmd2(a, b, gamma=0.5)) < 0.02
    True

    """
    unbiased = check_bool(unbiased, "unbiased")
    block_size = check_int(block_size, "block_size", minimum=1)
    xa, ya = check_pair(x, y, source_name="x", target_name="y", min_samples=2 if unbiased else 1)
    # an exact power-of-two rescaling to unit scale first (see trackability.metrics._scale):
    # the kernel only sees gamma |u - v|^2, which it leaves unchanged when gamma takes the square
    k = pow2_exponent(xa, ya)
    xa, ya = rescale(k, xa, ya)
    if gamma is None:
        gammas, gamma_exp = _as_gammas(median_heuristic_gamma(
            xa, ya, max_samples=2000, random_state=0)), 0
    else:
        gammas, gamma_exp = _as_gammas(gamma), 2 * k
    # Distances are formed in float32 as |a|^2 + |b|^2 - 2 a.b, which loses precision when the
    # points are far from the origin. Within-sample sums are centred on their own sample's mean (a
    # pooled centring leaves each sample far from 0 when the two are far apart); the cross sum on
    # the pooled mean.
    m, n = xa.shape[0], ya.shape[0]
    kxx = _kernel_sum(xa, xa, xa.mean(axis=0), gammas, gamma_exp, True, block_size)
    kyy = _kernel_sum(ya, ya, ya.mean(axis=0), gammas, gamma_exp, True, block_size)
    shift = np.concatenate([xa, ya]).mean(axis=0)
    kxy = _kernel_sum(xa, ya, shift, gammas, gamma_exp, False, block_size)
    if unbiased:
        val = kxx / (m * (m - 1)) + kyy / (n * (n - 1)) - 2.0 * kxy / (m * n)
    else:  # V-statistic: the dropped diagonal terms are exactly 1 each
        val = (kxx + m) / m**2 + (kyy + n) / n**2 - 2.0 * kxy / (m * n)
    return float(np.mean(val))


def median_heuristic_gamma(
    *arrays: Any, max_samples: int | None = None, random_state: Any = None
) -> float:
    """Bandwidth ``gamma = 1 / median`` of the pairwise squared distances of the pooled arrays.

    Pass the training split only, so that the test cells do not choose their own metric.

    Parameters
    ----------
    *arrays
        One or more (n_i, d) arrays, pooled by rows.
    max_samples
        If the pool is larger, a seeded random subsample of this many rows is used.
    random_state
        Seed for the subsample.

    Returns
    -------
    float

    """
    pool = check_pooled(arrays, "median_heuristic_gamma")
    if max_samples is not None:
        max_samples = check_int(max_samples, "max_samples", minimum=2)
    if max_samples is None and pool.shape[0] > _MAX_EXACT_MEDIAN:
        raise ValueError(
            f"median_heuristic_gamma got {pool.shape[0]} cells; the exact median over all pairs is "
            f"limited to {_MAX_EXACT_MEDIAN} cells: pass max_samples (e.g. 5000) and random_state."
        )
    if pool.shape[0] < 2:
        raise ValueError("median_heuristic_gamma needs at least two cells in total.")
    if max_samples is not None and pool.shape[0] > max_samples:
        rng = check_random_state(random_state)
        pool = pool[rng.choice(pool.shape[0], size=max_samples, replace=False)]
    from scipy.spatial.distance import pdist

    # exact power-of-two rescaling: squared distances of data at 1e-200 or 1e200 neither
    # underflow to 0 nor overflow to inf; the median scales back exactly
    k = pow2_exponent(pool)
    # condensed distances (exact differences, n(n-1)/2 values): ~3x less memory and time than the
    # full n x n expansion with triu indices; the median may then sort it in place
    med = float(np.median(pdist(rescale(k, pool)[0], "sqeuclidean"), overwrite_input=True))
    if not med > 0:
        raise ValueError(
            "median pairwise squared distance is 0 (more than half the cells are identical); "
            "the median heuristic is undefined: pass gamma explicitly."
        )
    return unscale(1.0 / med, k, -2, "median_heuristic_gamma")
