"""Distribution distances beyond MMD: energy distance and the exact 2-Wasserstein distance."""

from __future__ import annotations

from typing import Any

import numpy as np

from trackability._validation import check_bool, check_int, check_pair
from trackability.metrics._scale import pow2_exponent, rescale, unscale

#: Largest ``m * n`` for which :func:`wasserstein2` builds the dense cost matrix (~400 MB).
MAX_W2_PAIRS = 50_000_000


def _mean_pairwise_distance(
    a: np.ndarray, b: np.ndarray, block_size: int = 2048
) -> float:
    total = 0.0
    b_sq = np.einsum("ij,ij->i", b, b)
    for start in range(0, a.shape[0], block_size):
        blk = a[start : start + block_size]
        d2 = np.einsum("ij,ij->i", blk, blk)[:, None] + b_sq[None, :] - 2.0 * (blk @ b.T)
        total += float(np.sqrt(np.maximum(d2, 0.0)).sum())
    return total / (a.shape[0] * b.shape[0])


def energy_distance(x: Any, y: Any, *, block_size: int = 2048) -> float:
    """Energy distance ``2 E|X - Y| - E|X - X'| - E|Y - Y'|`` (V-statistic, Szekely & Rizzo).

    Zero only when the two samples have the same empirical distribution; the square of the
    multivariate generalisation of the Cramer distance (scipy's 1-D ``energy_distance`` is its
    square root). Computed in float64 blocks, memory ``O(block_size * n)``, on the data divided
    by a power of two (exact; the distance is homogeneous of degree 1 and is scaled back), so no
    finite scale overflows or underflows; a result beyond float64's range is refused.
    """
    # a non-positive step would skip every block and silently return 0
    block_size = check_int(block_size, "block_size", minimum=1)
    xa, ya = check_pair(x, y, source_name="x", target_name="y")
    k = pow2_exponent(xa, ya)
    xa, ya = rescale(k, xa, ya)
    shift = np.concatenate([xa, ya]).mean(axis=0)
    xa, ya = xa - shift, ya - shift
    exy = _mean_pairwise_distance(xa, ya, block_size)
    exx = _mean_pairwise_distance(xa, xa, block_size)
    eyy = _mean_pairwise_distance(ya, ya, block_size)
    return unscale(max(2.0 * exy - exx - eyy, 0.0), k, 1, "energy_distance",
                   underflow_ok=True)


def wasserstein2(x: Any, y: Any, *, squared: bool = False, max_pairs: int = MAX_W2_PAIRS) -> float:
    """Exact 2-Wasserstein distance between the empirical distributions (uniform weights), by POT.

    Parameters
    ----------
    x, y
        Samples of shape (m, d) and (n, d).
    squared
        Return ``W2^2`` (the optimal mean squared displacement) instead of ``W2``.
    max_pairs
        Refuse (with a clear error) when ``m * n`` exceeds this: the exact solver needs the dense
        ``m x n`` cost matrix and super-quadratic time. Subsample both sets first.

    Notes
    -----
    The cost matrix is built from the data divided by a power of two (exact), and ``W2`` is scaled
    back (it is homogeneous of degree 1), so no finite scale overflows or underflows; a result
    beyond float64's range is refused.

    """
    from trackability._pot import import_ot

    ot = import_ot()

    squared = check_bool(squared, "squared")
    max_pairs = check_int(max_pairs, "max_pairs", minimum=1)
    xa, ya = check_pair(x, y, source_name="x", target_name="y")
    m, n = xa.shape[0], ya.shape[0]
    if m * n > max_pairs:
        raise ValueError(
            f"wasserstein2 on {m} x {n} cells needs a {m * n:,}-entry cost matrix (limit "
            f"{max_pairs:,}, ~{8 * max_pairs / 1e9:.1f} GB); subsample both sets (e.g. to "
            f"{int(np.sqrt(max_pairs))} cells each) or raise max_pairs."
        )
    from trackability.matching.costs import squared_distances

    k = pow2_exponent(xa, ya)
    cost = squared_distances(*rescale(k, xa, ya))
    a = np.full(m, 1.0 / m)
    b = np.full(n, 1.0 / n)
    w2sq = float(ot.emd2(a, b, cost, numItermax=max(100_000, 50 * (m + n) ** 2 // 10)))
    w2sq = max(w2sq, 0.0)
    if squared:
        return unscale(w2sq, k, 2, "wasserstein2 (squared)", underflow_ok=True)
    return unscale(float(np.sqrt(w2sq)), k, 1, "wasserstein2", underflow_ok=True)
