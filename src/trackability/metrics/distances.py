"""Distribution distances beyond MMD: energy distance and the exact 2-Wasserstein distance."""

from __future__ import annotations

from typing import Any

import numpy as np

from trackability._validation import check_pair

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
    square root). Computed in float64 blocks, memory ``O(block_size * n)``.
    """
    xa, ya = check_pair(x, y, source_name="x", target_name="y")
    if not isinstance(block_size, int | np.integer) or block_size < 1:
        # a non-positive step would skip every block and silently return 0
        raise ValueError(f"block_size must be a positive integer; got {block_size!r}.")
    shift = np.concatenate([xa, ya]).mean(axis=0)
    xa, ya = xa - shift, ya - shift
    exy = _mean_pairwise_distance(xa, ya, block_size)
    exx = _mean_pairwise_distance(xa, xa, block_size)
    eyy = _mean_pairwise_distance(ya, ya, block_size)
    return float(max(2.0 * exy - exx - eyy, 0.0))


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

    """
    from trackability._pot import import_ot

    ot = import_ot()

    xa, ya = check_pair(x, y, source_name="x", target_name="y")
    m, n = xa.shape[0], ya.shape[0]
    if m * n > max_pairs:
        raise ValueError(
            f"wasserstein2 on {m} x {n} cells needs a {m * n:,}-entry cost matrix (limit "
            f"{max_pairs:,}, ~{8 * max_pairs / 1e9:.1f} GB); subsample both sets (e.g. to "
            f"{int(np.sqrt(max_pairs))} cells each) or raise max_pairs."
        )
    from trackability.matching.costs import squared_distances

    cost = squared_distances(xa, ya)
    a = np.full(m, 1.0 / m)
    b = np.full(n, 1.0 / n)
    w2sq = float(ot.emd2(a, b, cost, numItermax=max(100_000, 50 * (m + n) ** 2 // 10)))
    w2sq = max(w2sq, 0.0)
    return w2sq if squared else float(np.sqrt(w2sq))
