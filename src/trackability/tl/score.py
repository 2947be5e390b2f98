"""``tl.score``: distances between predicted and observed cells, by the benchmark's metric code."""

from __future__ import annotations

from typing import Any

import numpy as np

from trackability._validation import check_array, check_positive
from trackability.metrics._sampling import subsample_rows
from trackability.tl._anndata import check_adata, get_matrix, group_mask

#: Metrics :func:`score` computes (labels and directions come from the metric registry).
METRICS: dict[str, tuple[str, bool]] = {
    "mmd2": ("MMD² (unbiased, RBF, train bandwidth)", False),
    "mmd2_cellot": ("MMD² (CellOT's biased, bandwidths 2, 1, 0.5, 0.1, 0.01, 0.005)", False),
    "energy": ("energy distance", False),
    "w2": ("W2 (exact OT, subsampled to 1500 cells)", False),
    "mean_r2": ("R² of the per-feature means", True),
    "mean_pearson": ("Pearson r of the per-feature means", True),
}


def _record(pred: Any) -> dict[str, Any]:
    for value in pred.uns.values():
        if isinstance(value, dict) and "gamma" in value and "space" in value:
            return value
    return {}


def score(
    pred: Any,
    observed: Any,
    *,
    metrics: list[str] | tuple[str, ...] = ("mmd2", "energy", "mean_r2"),
    gamma: float | None = None,
    use_rep: str | None = None,
    groupby: str | None = None,
    treated: Any = None,
    model: Any = None,
    seed: int = 0,
) -> Any:
    """Score predicted cells against observed treated cells with the benchmark's metric code.

    Parameters
    ----------
    pred
        Predicted cells: the AnnData of :func:`~trackability.tl.predict` (or an array).
    observed
        Observed treated cells: an AnnData (all its cells, or those with ``obs[groupby] ==
        treated``) or an array.
    metrics
        Names from :data:`METRICS`.
    gamma
        RBF bandwidth of ``mmd2``; default: the one recorded by :func:`~trackability.tl.fit`
        (median heuristic of the cells the model was fitted on, in its space). Compute it on
        training cells only, never on the cells scored.
    use_rep
        Space to score in: an ``obsm`` key, or ``"X"``; default: the space the model was fitted in
        (the recorded bandwidth belongs to that space; in another space pass ``gamma``).
    groupby, treated
        Select the observed treated cells of ``observed`` (default: the fit's ``groupby`` and
        ``treated`` when ``observed`` has that column, else every cell).
    model
        The :class:`~trackability.tl.FittedModel` that made ``pred``: scores in its space (through
        its ``preprocess`` or loadings, the observed cells too) with its training bandwidth. Needed
        for a model fitted with ``preprocess``; otherwise the record in ``pred.uns`` suffices.
    seed
        Seed of the subsamples of ``w2``.

    Returns
    -------
    pandas.DataFrame
        One row per metric: ``metric``, ``value``, ``label``, ``higher_is_better``, ``gamma``,
        ``n_pred``, ``n_observed``, ``space``.

    """
    if isinstance(metrics, str):
        metrics = [metrics]
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise ValueError(f"metrics: unknown {unknown or 'empty list'}; known: {sorted(METRICS)}.")
    if gamma is not None:
        gamma = check_positive(gamma, "gamma")
    rec: dict[str, Any] = {}
    is_ad = hasattr(pred, "obs") and hasattr(pred, "uns")
    if is_ad:
        check_adata(pred, "pred")
        rec = _record(pred)
    if model is not None:
        from trackability.tl.fit import FittedModel

        if not isinstance(model, FittedModel):
            raise TypeError(f"model must be the result of trackability.tl.fit; got {type(model).__name__}.")
        if use_rep is not None:
            raise ValueError("pass either model (score in its space) or use_rep, not both.")
        return _score_in_model_space(pred, observed, model, list(metrics), gamma, groupby, treated,
                                     seed)
    params = rec.get("params", {})
    fitted_rep = (rec.get("space") or {}).get("use_rep") or None
    space = use_rep if use_rep is not None else fitted_rep
    if gamma is None:
        if not rec:
            raise ValueError("gamma: pred carries no record of tl.fit, so pass gamma= (the median "
                             "heuristic of the training cells: trackability.metrics."
                             "median_heuristic_gamma(train_control, train_treated)).")
        if (space or None) != fitted_rep or (rec.get("space") or {}).get("preprocess"):
            raise ValueError(
                f"gamma: the recorded bandwidth belongs to the model's space "
                f"({rec['space'].get('description')}), not to use_rep={space!r}; pass gamma= "
                "computed on training cells in that space."
            )
        gamma = float(rec["gamma"])
        if not np.isfinite(gamma):
            raise ValueError("gamma: the median heuristic of the cells tl.fit used is undefined "
                             "(more than half of their pairwise distances are 0); pass gamma=.")
    p = _cells(pred, space, "pred") if is_ad else check_array(pred, "pred")
    if hasattr(observed, "obs"):
        check_adata(observed, "observed")
        col = groupby or params.get("groupby")
        lab = treated if treated is not None else params.get("treated")
        if groupby is not None and groupby not in observed.obs.columns:
            raise KeyError(f"groupby={groupby!r} is not a column of observed.obs (columns: "
                           f"{list(observed.obs.columns)}).")
        t = _cells(_observed_cells(observed, col, lab), space, "observed")
    else:
        t = check_array(observed, "observed")
    return _table(p, t, list(metrics), float(gamma), seed, space or "X")


def _observed_cells(observed: Any, col: str | None, lab: Any) -> Any:
    if col and col in observed.obs.columns and lab is not None:
        return observed[group_mask(observed, col, lab, "treated")]
    return observed


def _score_in_model_space(pred: Any, observed: Any, model: Any, metrics: list[str],
                          gamma: float | None, groupby: str | None, treated: Any, seed: int) -> Any:
    space = model.space
    key = f"X_{model.key_added}"
    if hasattr(pred, "obsm") and space.in_rep and space.use_rep in pred.obsm:
        p = np.asarray(pred.obsm[space.use_rep], dtype=np.float64)
    elif hasattr(pred, "obsm") and key in pred.obsm:
        p = np.asarray(pred.obsm[key], dtype=np.float64)
    elif hasattr(pred, "obs"):
        p = space.model_input(pred)
    else:
        p = np.asarray(pred, dtype=np.float64)
    if hasattr(observed, "obs"):
        check_adata(observed, "observed")
        obs = _observed_cells(observed, groupby or model.params["groupby"],
                              treated if treated is not None else model.params["treated"])
        t = space.model_input(obs)
    else:
        t = np.asarray(observed, dtype=np.float64)
    g = model.gamma if gamma is None else float(gamma)
    return _table(p, t, metrics, g, seed, space.describe())


def _table(p: np.ndarray, t: np.ndarray, metrics: list[str], gamma: float, seed: int,
           space: str) -> Any:
    import pandas as pd

    values = score_arrays(p, t, metrics, gamma=gamma, seed=seed)
    from trackability.metrics.registry import higher_is_better, label

    rows = [{"metric": m, "value": values[m], "label": label(m),
             "higher_is_better": higher_is_better(m), "gamma": float(gamma), "n_pred": p.shape[0],
             "n_observed": t.shape[0], "space": space} for m in metrics]
    return pd.DataFrame(rows)


def score_arrays(p: np.ndarray, t: np.ndarray, metrics: list[str], *, gamma: float,
                 seed: int = 0, w2_max_cells: int = 1500) -> dict[str, float]:
    """The metrics of ``p`` against ``t``, computed as the benchmark's ``score`` computes them."""
    from trackability.metrics import (
        CELLOT_GAMMAS,
        energy_distance,
        mean_pearson,
        mean_r2,
        mmd2,
        wasserstein2,
    )

    if p.shape[1] != t.shape[1]:
        raise ValueError(f"pred has {p.shape[1]} features but observed has {t.shape[1]}.")
    rng = np.random.default_rng([int(seed), 7])
    out: dict[str, float] = {}
    for m in metrics:
        if m == "mmd2":
            out[m] = float(mmd2(p, t, gamma=gamma, unbiased=True))
        elif m == "mmd2_cellot":
            out[m] = float(mmd2(p, t, gamma=list(CELLOT_GAMMAS), unbiased=False))
        elif m == "energy":
            out[m] = float(energy_distance(p, t))
        elif m == "w2":
            out[m] = float(wasserstein2(subsample_rows(p, w2_max_cells, rng),
                                        subsample_rows(t, w2_max_cells, rng)))
        else:
            fn = mean_r2 if m == "mean_r2" else mean_pearson
            try:
                out[m] = float(fn(p, t))
            except ValueError:
                out[m] = float("nan")
    return out


def _cells(adata: Any, use_rep: str | None, name: str) -> np.ndarray:
    try:
        return get_matrix(adata, use_rep, None)[0]
    except KeyError as exc:
        raise KeyError(f"{name}: {exc.args[0]}") from exc
