"""Scores that read a raw metric against what a trivial baseline gets and what the noise allows.

- :func:`calibrated_score`: ``s = (u - b) / (r - b)`` with ``u`` the method's value, ``b`` the
  mean-shift baseline's and ``r`` the replicate ceiling (the same metric between two random halves
  of the observed treated cells). ``s = 0``: no better than a mean shift; ``s = 1``: as close as
  the data's own noise allows. Works for either direction of a metric.
- :func:`rank_metrics`: across the perturbations of one data set, is each prediction closer to its
  own observed condition than to the others' (PerturBench's rank metric, Systema's centroid
  accuracy)?
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trackability._validation import check_array


def calibrated_score(u: Any, baseline: Any, ceiling: Any) -> np.ndarray | float:
    """``(u - baseline) / (ceiling - baseline)``, elementwise; NaN where ``ceiling == baseline``.

    The baseline already reaching the ceiling leaves no room to improve, so the score is
    undefined there (NaN), not infinite.
    """
    u, b, r = (np.asarray(v, dtype=np.float64) for v in (u, baseline, ceiling))
    den = r - b
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(den != 0, (u - b) / np.where(den != 0, den, 1.0), np.nan)
    return float(out) if out.ndim == 0 else out


def rank_metrics(predicted: Any, observed: Any) -> tuple[np.ndarray, np.ndarray]:
    """Per-condition rank and centroid hit of predicted against observed condition means.

    Parameters
    ----------
    predicted, observed
        (T, d) arrays: row i is the mean predicted (observed) treated state of condition i, all T
        conditions in one feature space.

    Returns
    -------
    rank : numpy.ndarray
        For each condition, the fraction of *other* conditions whose observed mean is strictly
        closer (Euclidean) to the prediction than its own: 0 is perfect, 0.5 is chance
        (PerturBench's normalised rank).
    hit : numpy.ndarray
        1.0 where the prediction's nearest observed mean is its own (ties count as misses), else
        0.0; its mean is Systema's centroid accuracy.

    """
    p = check_array(predicted, "predicted")
    o = check_array(observed, "observed")
    if p.shape != o.shape:
        raise ValueError(f"predicted has shape {p.shape} but observed has {o.shape}.")
    t = p.shape[0]
    if t < 2:
        raise ValueError("rank_metrics needs at least 2 conditions.")
    from scipy.spatial.distance import cdist

    d = cdist(p, o)
    own = np.diag(d)
    closer = (d < own[:, None]).sum(axis=1)  # the diagonal is never strictly closer than itself
    ties = (d == own[:, None]).sum(axis=1) - 1
    return closer / (t - 1), ((closer == 0) & (ties == 0)).astype(np.float64)
