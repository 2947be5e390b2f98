"""Seeded row subsampling shared by the benchmark's ``score`` and :func:`trackability.tl.score`."""

from __future__ import annotations

import numpy as np


def subsample_rows(x: np.ndarray, m: int | None, rng: np.random.Generator) -> np.ndarray:
    """``m`` rows of ``x`` drawn without replacement, in their original order.

    Parameters
    ----------
    x
        Array of shape (n, ...).
    m
        Rows to keep; None, or ``m >= n``, keeps ``x`` as it is (no draw from ``rng``).
    rng
        The generator the rows are drawn from (one ``rng.choice`` call).

    Returns
    -------
    ndarray
        ``x`` itself or ``x[sorted random rows]``.

    """
    if m is None or x.shape[0] <= m:
        return x
    return x[np.sort(rng.choice(x.shape[0], size=m, replace=False))]
