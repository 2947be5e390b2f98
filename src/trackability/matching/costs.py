"""Cost functions between two cell populations (cells as rows)."""

from __future__ import annotations

import numpy as np

from trackability._validation import check_choice

COSTS = ("sqeuclidean", "euclidean")


def squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """All pairwise squared Euclidean distances, ``|a_i - b_j|^2``, clipped at zero.

    Both arrays are centred on ``a``'s mean first: distances do not change, and the expansion
    ``|a|^2 + |b|^2 - 2 a.b`` loses far less precision on data far from the origin.
    """
    shift = a.mean(axis=0)
    a = a - shift
    b = b - shift
    d2 = np.einsum("ij,ij->i", a, a)[:, None] + np.einsum("ij,ij->i", b, b)[None, :]
    d2 -= 2.0 * (a @ b.T)
    np.maximum(d2, 0.0, out=d2)
    return d2


def cost_matrix(source: np.ndarray, target: np.ndarray, cost: str = "sqeuclidean") -> np.ndarray:
    """Dense ``(n_source, n_target)`` cost matrix for ``cost`` in :data:`COSTS`."""
    check_choice(cost, "cost", COSTS)
    d2 = squared_distances(source, target)
    if cost == "euclidean":
        np.sqrt(d2, out=d2)
    return d2


def pair_costs(
    source: np.ndarray,
    target: np.ndarray,
    src_idx: np.ndarray,
    tgt_idx: np.ndarray,
    cost: str = "sqeuclidean",
) -> np.ndarray:
    """Exact cost of each matched pair ``(source[src_idx[k]], target[tgt_idx[k]])``."""
    check_choice(cost, "cost", COSTS)
    diff = source[src_idx] - target[tgt_idx]
    d2 = np.einsum("ij,ij->i", diff, diff)
    return np.sqrt(d2) if cost == "euclidean" else d2
