"""Agreement of summary statistics (feature means) and of recovered cell correspondences."""

from __future__ import annotations

from typing import Any

import numpy as np

from trackability._validation import check_pair
from trackability.metrics._scale import pow2_exponent, rescale


def _feature_means(pred: Any, true: Any) -> tuple[np.ndarray, np.ndarray]:
    """Feature means of both, divided by one power of two (exact; R^2 and r are scale-free).

    Neither the sums (data near 1e308) nor the squares (1e-200, 1e200) then leave float64's range.
    """
    p, t = check_pair(pred, true, source_name="pred", target_name="true")
    p, t = rescale(pow2_exponent(p, t), p, t)
    return p.mean(axis=0), t.mean(axis=0)


def mean_r2(pred: Any, true: Any) -> float:
    """Coefficient of determination of the predicted feature means against the true ones.

    ``R^2 = 1 - sum_j (mu_true_j - mu_pred_j)^2 / sum_j (mu_true_j - mean(mu_true))^2`` over
    features j; 1 is perfect, and it is negative when the predicted means are worse than a constant.
    This is a true R^2, not the squared Pearson correlation some tools report under that name
    (see :func:`mean_pearson`).
    """
    mp, mt = _feature_means(pred, true)
    ss_tot = float(np.sum((mt - mt.mean()) ** 2))
    if ss_tot == 0.0:
        raise ValueError("true feature means are all equal; R^2 is undefined (one feature?).")
    return 1.0 - float(np.sum((mt - mp) ** 2)) / ss_tot


def mean_pearson(pred: Any, true: Any) -> float:
    """Pearson correlation between predicted and true feature means (scGen's 'R^2' is its square)."""
    mp, mt = _feature_means(pred, true)
    if mp.size < 2 or np.std(mp) == 0 or np.std(mt) == 0:
        raise ValueError("Pearson correlation of means needs >= 2 features with non-constant means.")
    return float(np.corrcoef(mp, mt)[0, 1])


def map_error(fitted_map: Any, true_map: Any) -> float:
    """Frobenius distance ``|W_ - W^T|_F`` of a fitted linear map to the true one.

    Parameters
    ----------
    fitted_map
        A model's ``W_`` (it predicts ``x @ W_.T``), shape ``(d, d)``.
    true_map
        The generator's map ``W`` (treated = ``x @ W``), shape ``(d, d)``.

    Returns
    -------
    float

    """
    w, t = np.asarray(fitted_map, dtype=float), np.asarray(true_map, dtype=float)
    if w.ndim != 2 or w.shape != t.shape:
        raise ValueError(
            f"fitted_map and true_map must be matrices of the same shape; got {w.shape} and "
            f"{t.shape}."
        )
    return float(np.linalg.norm(w - t.T))


def recovery_rate(true_permutation: Any, matching: Any) -> float:
    """Fraction of matched pairs that are the true correspondence.

    Parameters
    ----------
    true_permutation
        Integer array over target cells: target cell ``j`` came from source cell
        ``true_permutation[j]`` (the convention of :mod:`trackability.data.synthetic`).
    matching
        A :class:`~trackability.matching.Matching`, or an integer array giving the matched source
        of each target cell (``-1`` for unmatched).

    Returns
    -------
    float
        Correct pairs / matched pairs.

    """
    perm = np.asarray(true_permutation)
    if perm.ndim != 1 or perm.size == 0 or not np.issubdtype(perm.dtype, np.integer):
        raise ValueError("true_permutation must be a non-empty 1-D integer array.")
    if hasattr(matching, "source") and hasattr(matching, "target"):
        src, tgt = np.asarray(matching.source), np.asarray(matching.target)
        if tgt.size and (tgt.max() >= perm.size or tgt.min() < 0):
            raise ValueError(
                f"matching refers to target cell {int(tgt.max())} but true_permutation covers "
                f"{perm.size} target cells."
            )
    else:
        arr = np.asarray(matching)
        if arr.shape != perm.shape or not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(
                f"matching must be a Matching or an integer array of shape {perm.shape}; got "
                f"{arr.dtype} array of shape {arr.shape}."
            )
        tgt = np.flatnonzero(arr >= 0)
        src = arr[tgt]
    if src.size == 0:
        raise ValueError("matching is empty.")
    return float(np.mean(perm[tgt] == src))
