"""Cells: predicted against observed on an embedding, and the per-gene mean scatter (scGen's plot)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from trackability.pl._common import finish, new_axes

#: Colours of the conditions (others get tab10 colours).
CONDITION_COLORS = {"control": "#9e9e9e", "predicted": "#d62728", "stimulated": "#1f77b4",
                    "treated": "#1f77b4"}


def embedding(
    adata: Any,
    basis: str,
    *,
    color: str = "condition",
    order: Sequence[str] | None = None,
    size: float | None = None,
    title: str | None = None,
    ax: Any = None,
    show: bool | None = None,
    save: str | os.PathLike | None = None,
) -> Any:
    """Cells on the first two coordinates of ``obsm[basis]``, coloured by ``obs[color]``.

    Predicted cells (``"predicted"``) are drawn last, in red, so they can be compared with the
    observed ones (e.g. on ``anndata.concat([observed, pred])`` after ``sc.tl.umap``).
    """
    if basis not in adata.obsm:
        key = f"X_{basis}"
        if key not in adata.obsm:
            raise KeyError(f"basis={basis!r} is not in adata.obsm (keys: {list(adata.obsm)}).")
        basis = key
    if color not in adata.obs.columns:
        raise KeyError(f"color={color!r} is not a column of adata.obs (columns: {list(adata.obs.columns)}).")
    xy = np.asarray(adata.obsm[basis])[:, :2]
    label = basis.removeprefix("X_").upper()
    return _scatter(xy, adata.obs[color].astype(str).to_numpy(), (f"{label} 1", f"{label} 2"),
                    title or f"Cells on {label}, by {color}", order, size, ax, show, save)


def predicted_vs_observed(
    pred: Any,
    observed: Any,
    *,
    model: Any = None,
    basis: str | None = None,
    groupby: str | None = None,
    size: float | None = None,
    title: str | None = None,
    ax: Any = None,
    show: bool | None = None,
    save: str | os.PathLike | None = None,
) -> Any:
    """Predicted cells and the observed control and treated cells on a common 2-D PCA.

    Parameters
    ----------
    pred
        AnnData of :func:`trackability.tl.predict`.
    observed
        AnnData with the observed cells (control and treated) of the same cells' type.
    model
        The :class:`~trackability.tl.FittedModel`: the PCA is of its feature space (needed for a
        ``preprocess`` space). Otherwise ``basis`` (an ``obsm`` key both have) or the genes.
    basis
        ``obsm`` key both AnnData hold (e.g. ``"X_pca"``).
    groupby
        Condition column (default: the fit's ``groupby``).
    size, title, ax, show, save
        Marker size; title; scanpy conventions.

    """
    rec = next((v for v in pred.uns.values() if isinstance(v, dict) and "params" in v), {})
    col = groupby or rec.get("params", {}).get("groupby", "condition")
    if col not in observed.obs.columns:
        raise KeyError(f"groupby={col!r} is not a column of observed.obs.")
    if model is not None:
        space = model.space
        key = f"X_{model.key_added}"
        zp = (pred.obsm[space.use_rep] if space.in_rep and space.use_rep in pred.obsm else
              pred.obsm[key] if key in pred.obsm else space.model_input(pred))
        zo = space.model_input(observed)
        what = "the model's feature space"
    elif basis is not None:
        for name, a in (("pred", pred), ("observed", observed)):
            if basis not in a.obsm:
                raise KeyError(f"basis={basis!r} is not in {name}.obsm (keys: {list(a.obsm)}).")
        zp, zo, what = pred.obsm[basis], observed.obsm[basis], basis
    else:
        if list(pred.var_names) != list(observed.var_names):
            raise ValueError("pred and observed have different genes; pass model= or basis=.")
        zp, zo, what = _dense(pred.X), _dense(observed.X), "genes"
    z = np.vstack([np.asarray(zo, dtype=float), np.asarray(zp, dtype=float)])
    z = z - z.mean(axis=0)
    _, s, vt = np.linalg.svd(z, full_matrices=False)
    xy = z @ vt[:2].T
    var = s[:2] ** 2 / max(float((s**2).sum()), 1e-300)
    labels = np.concatenate([observed.obs[col].astype(str).to_numpy(),
                             pred.obs[col].astype(str).to_numpy() if col in pred.obs else
                             np.full(pred.n_obs, "predicted")])
    axis = (f"PC 1 ({100 * var[0]:.0f} % of variance)", f"PC 2 ({100 * var[1]:.0f} % of variance)")
    return _scatter(xy, labels, axis, title or f"Predicted and observed cells (PCA of {what})",
                    None, size, ax, show, save)


def _dense(x: Any) -> np.ndarray:
    return np.asarray(x.toarray() if hasattr(x, "toarray") else x, dtype=float)


def _scatter(xy: np.ndarray, labels: np.ndarray, axis: tuple[str, str], title: str,
             order: Sequence[str] | None, size: float | None, ax: Any, show: bool | None,
             save: Any) -> Any:
    import matplotlib

    ax = new_axes(ax, (5.6, 4.6))
    cats = list(order) if order is not None else sorted(set(labels), key=lambda c: (c == "predicted", c))
    cmap = matplotlib.colormaps["tab10"]
    s = size if size is not None else max(4.0, min(30.0, 3000.0 / max(len(labels), 1)))
    k = 0
    for c in cats:
        m = labels == c
        colour = CONDITION_COLORS.get(c)
        if colour is None:
            colour, k = cmap(k % 10), k + 1
        ax.scatter(xy[m, 0], xy[m, 1], s=s, color=colour, alpha=0.75 if c == "predicted" else 0.5,
                   linewidths=0, label=f"{c} ({int(m.sum())})")
    ax.set_xlabel(axis[0])
    ax.set_ylabel(axis[1])
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, markerscale=1.5, frameon=False, loc="best")
    return finish(ax, show, save)


def mean_scatter(
    pred: Any,
    observed: Any,
    *,
    groupby: str | None = None,
    control: Any = None,
    treated: Any = None,
    n_top: int = 10,
    gene_symbols: str | None = None,
    title: str | None = None,
    ax: Any = None,
    show: bool | None = None,
    save: str | os.PathLike | None = None,
) -> Any:
    """Per-gene mean of the predicted cells against the observed treated cells (scGen's plot).

    The ``n_top`` genes that change most between the observed control and treated cells are
    labelled; the diagonal is a perfect prediction. The legend gives R² of the means over all
    genes and over the labelled ones (``trackability.metrics.mean_r2``, the benchmark's code).

    Parameters
    ----------
    pred, observed
        AnnData of :func:`trackability.tl.predict` (genes) and of the observed cells (the same
        genes; control and treated cells).
    groupby, control, treated
        Condition column and labels (default: those of the fit).
    n_top
        Number of most changed genes to label.
    gene_symbols
        ``var`` column with the names to print (default ``var_names``).
    title, ax, show, save
        Title; scanpy conventions.

    """
    from trackability.metrics import mean_r2

    rec = next((v for v in pred.uns.values() if isinstance(v, dict) and "params" in v), {})
    p = rec.get("params", {})
    col = groupby if groupby is not None else p.get("groupby")
    ctrl = control if control is not None else p.get("control")
    trt = treated if treated is not None else p.get("treated")
    if col is None or ctrl is None or trt is None:
        raise ValueError("pass groupby, control and treated (pred has no record of tl.fit).")
    if list(pred.var_names) != list(observed.var_names):
        raise ValueError(
            f"pred has {pred.n_vars} features and observed {observed.n_vars} genes that differ: the "
            "mean scatter needs predictions in genes (fit with use_rep='X_pca' and varm['PCs'], or "
            "with preprocess=[...])."
        )
    labels = observed.obs[col].astype(str).to_numpy()
    xc, xt, xp = (_dense(observed.X[labels == str(ctrl)]), _dense(observed.X[labels == str(trt)]),
                  _dense(pred.X))
    if xc.shape[0] == 0 or xt.shape[0] == 0:
        raise ValueError(f"observed needs control ({ctrl!r}) and treated ({trt!r}) cells in obs[{col!r}].")
    mc, mt, mp = xc.mean(0), xt.mean(0), xp.mean(0)
    top = np.argsort(-np.abs(mt - mc), kind="stable")[: int(n_top)]
    names = (observed.var[gene_symbols].astype(str).to_numpy() if gene_symbols
             else np.asarray(observed.var_names, dtype=str))
    r2_all = mean_r2(xp, xt)
    r2_top = mean_r2(xp[:, top], xt[:, top]) if top.size >= 2 else float("nan")
    ax = new_axes(ax, (5.2, 5.0))
    ax.scatter(mt, mp, s=6, color="#9e9e9e", alpha=0.6, linewidths=0,
               label=f"all {mt.size} genes: R² = {r2_all:.3f}")
    ax.scatter(mt[top], mp[top], s=18, color="#d62728",
               label=f"{top.size} most changed genes: R² = {r2_top:.3f}")
    for i in top:
        ax.annotate(names[i], (mt[i], mp[i]), xytext=(3, 3), textcoords="offset points", fontsize=7)
    lo, hi = float(min(mt.min(), mp.min())), float(max(mt.max(), mp.max()))
    pad = 0.03 * (hi - lo or 1.0)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="0.4", lw=0.8, ls="--",
            label="perfect prediction")
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_xlabel(f"observed mean, {trt}")
    ax.set_ylabel("predicted mean")
    ax.set_title(title or f"Per-gene mean: predicted vs observed {trt} cells", fontsize=10)
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    return finish(ax, show, save)
