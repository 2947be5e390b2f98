"""Gene-level agreement of a predicted perturbation effect with the observed one.

The effect of a perturbation on feature j is ``delta_j = mean(treated)_j - mean(control)_j``. A
prediction's effect uses the predicted treated cells and the *same* control cells. These metrics
compare the two effect vectors (scGen's and PerturBench's "Pearson delta", and the sign agreement of
differentially expressed genes), on all features or on the ``top_k`` features with the largest
observed ``|delta|``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trackability._validation import check_array, check_int, check_pair


def _deltas(pred: Any, true: Any, control: Any) -> tuple[np.ndarray, np.ndarray]:
    p, t = check_pair(pred, true, source_name="pred", target_name="true")
    c = check_array(control, "control")
    if c.shape[1] != t.shape[1]:
        raise ValueError(f"control has {c.shape[1]} features but true has {t.shape[1]}.")
    mc = c.mean(axis=0)
    return p.mean(axis=0) - mc, t.mean(axis=0) - mc


def _top(obs: np.ndarray, top_k: int | None) -> np.ndarray:
    """Indices of the ``top_k`` largest ``|obs|`` (ties broken by index; all when None)."""
    if top_k is None:
        return np.arange(obs.size)
    top_k = check_int(top_k, "top_k", minimum=1)
    k = min(top_k, obs.size)
    return np.argsort(-np.abs(obs), kind="stable")[:k]


def delta_pearson(pred: Any, true: Any, control: Any, *, top_k: int | None = None) -> float:
    """Pearson correlation of the predicted and observed effects ``mean(.) - mean(control)``.

    Parameters
    ----------
    pred, true
        Predicted and observed treated cells (n, d) and (m, d).
    control
        The control cells the prediction was made from (k, d).
    top_k
        Only the ``top_k`` features with the largest observed ``|delta|`` (None: all features).

    Returns
    -------
    float
        In [-1, 1]; higher is better.

    Raises
    ------
    ValueError
        Fewer than 2 features selected, or a constant effect vector (r undefined).

    """
    dp, dt = _deltas(pred, true, control)
    idx = _top(dt, top_k)
    a, b = dp[idx], dt[idx]
    if a.size < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        raise ValueError("delta_pearson needs >= 2 features with non-constant effects.")
    a, b = a - a.mean(), b - b.mean()
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:  # the centring rounded a near-constant vector to 0
        raise ValueError("delta_pearson needs >= 2 features with non-constant effects.")
    return float(np.clip((a / na) @ (b / nb), -1.0, 1.0))


def deg_sign_agreement(pred: Any, true: Any, control: Any, *, top_k: int = 20) -> float:
    """Fraction of the ``top_k`` most changed features whose predicted change has the right sign.

    The features are those with the largest observed ``|delta|`` (the differentially expressed
    genes of the observed data); a predicted change of exactly 0 counts as wrong.
    """
    dp, dt = _deltas(pred, true, control)
    idx = _top(dt, top_k)
    return float(np.mean(np.sign(dp[idx]) == np.sign(dt[idx])))
