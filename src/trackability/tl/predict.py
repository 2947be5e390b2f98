"""``tl.predict``: predicted treated cells of new control cells, as a new AnnData."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from trackability._validation import check_bool
from trackability.tl._anndata import check_adata, check_key
from trackability.tl.fit import FittedModel, fit

#: Label of predicted cells in the condition column.
PREDICTED = "predicted"


def predict(
    model: FittedModel,
    adata: Any,
    *,
    only_control: bool = True,
    predicted_label: str = PREDICTED,
    key_added: str | None = None,
) -> Any:
    """Predict the treated state of the cells of ``adata``; return them as a new AnnData.

    Parameters
    ----------
    model
        A model returned by :func:`~trackability.tl.fit`.
    adata
        AnnData with the features the model was fitted on: the same genes (``X`` or the layer) and,
        for a model fitted on ``use_rep``, that ``obsm`` entry (or the genes and the loadings, to
        project them).
    only_control
        If ``adata.obs`` has the fitted ``groupby`` column, predict only the cells labelled with
        the fitted control label (all cells when the column is absent). False: every cell.
    predicted_label
        Value of the condition column (``obs[groupby]``) of the predicted cells.
    key_added
        ``uns`` key of the record in the result (default: the model's ``key_added``).

    Returns
    -------
    anndata.AnnData
        One predicted cell per input control cell: ``obs`` copied from the input cells, with
        ``obs[groupby] = predicted_label`` and ``obs[key + "_from"]`` the input ``obs_name``
        (``obs_names`` get a ``"-predicted"`` suffix, so ``anndata.concat`` with the observed
        cells keeps them unique). ``X`` holds genes (``var`` copied) when the model was fitted on
        genes, on ``X_pca`` with ``varm["PCs"]``, or through an invertible ``preprocess``; otherwise
        the model's features. ``obsm[use_rep]`` holds the prediction in the fitted embedding.
        ``uns[key]`` records the model's fit (``params``, ``gamma``, ``space``). No NaN anywhere:
        the result goes straight into ``anndata.concat`` and ``sc.pp.neighbors``.

    """
    import anndata as ad
    import pandas as pd

    if not isinstance(model, FittedModel):
        raise TypeError(
            f"model must be the result of trackability.tl.fit; got {type(model).__name__}. For a "
            "bare estimator use its own predict(array)."
        )
    check_adata(adata)
    key = check_key(key_added if key_added is not None else model.key_added, "key_added")
    if not isinstance(predicted_label, str) or not predicted_label:
        raise ValueError(f"predicted_label must be a non-empty string; got {predicted_label!r}.")
    check_bool(only_control, "only_control")
    groupby, control = model.params["groupby"], model.params["control"]
    cells = adata
    if only_control and groupby in adata.obs.columns:
        mask = adata.obs[groupby].astype(str).to_numpy() == control
        if not mask.any():
            raise ValueError(
                f"adata has no cell with obs[{groupby!r}] == {control!r} to predict from (groups: "
                f"{sorted(set(adata.obs[groupby].astype(str)))}); pass only_control=False to "
                "predict every cell."
            )
        cells = adata[mask]
    space = model.space
    z = space.model_input(cells)
    z_pred = np.asarray(model.model.predict(z), dtype=np.float64)
    x_out, names = space.output(cells, z, z_pred)
    if not np.all(np.isfinite(x_out)):
        raise FloatingPointError(
            f"{model.method} predicted {int((~np.isfinite(x_out)).sum())} non-finite value(s); the "
            "model did not train (check its history_)."
        )
    obs = cells.obs.copy()
    stale = [c for c in obs.columns if str(c).startswith(f"{model.key_added}_partner")]
    obs = obs.drop(columns=stale)  # partners of the fitted cells, not of the predicted ones
    obs[f"{key}_from"] = np.asarray(cells.obs_names, dtype=str)
    if groupby in obs.columns or only_control:
        obs[groupby] = pd.Categorical([predicted_label] * cells.n_obs)
    obs.index = pd.Index([f"{n}-{predicted_label}" for n in cells.obs_names])
    if names == space.var_names and len(names) == cells.n_vars:
        var = cells.var.copy()
    else:
        var = pd.DataFrame(index=pd.Index(list(names)))
    out = ad.AnnData(np.asarray(x_out, dtype=np.float64), obs=obs, var=var)
    if space.in_rep:
        out.obsm[space.use_rep] = z_pred
    elif space.preprocessor is not None:
        out.obsm[f"X_{key}"] = z_pred
    out.uns[key] = {"params": dict(model.params), "gamma": model.gamma, "space": space.record(),
                    "method": model.method, "predicted_label": predicted_label}
    return out


def fit_predict(
    adata: Any,
    method: str | Any = "laot",
    *,
    groupby: str,
    control: Any = None,
    treated: Any = None,
    source: Any = None,
    target: Any = None,
    key_added: str = "trackability",
    **kwargs: Any,
) -> Any:
    """:func:`~trackability.tl.fit` then :func:`predict` on the same control cells (a convenience).

    ``source`` / ``target`` are the former names of ``control`` / ``treated``; other keyword
    arguments go to :func:`~trackability.tl.fit`. ``adata`` gets the fit's record (``uns``, partner
    columns); the predicted cells come back as a new AnnData (in-sample: the model saw the
    treated cells; for a held-out prediction fit on one AnnData and predict another).
    """
    if control is None:
        control = source
    elif source is not None:
        raise ValueError("pass control (or its former name source), not both.")
    if treated is None:
        treated = target
    elif target is not None:
        raise ValueError("pass treated (or its former name target), not both.")
    if control is None or treated is None:
        raise TypeError("fit_predict needs control=... and treated=... (the two labels in "
                        "adata.obs[groupby]).")
    if "copy" in kwargs:
        warnings.warn("fit_predict(copy=...) is gone: adata gets only the record; the predictions "
                      "are the returned AnnData.", FutureWarning, stacklevel=2)
        kwargs.pop("copy")
    model = fit(adata, method, groupby=groupby, control=control, treated=treated,
                key_added=key_added, **kwargs)
    return predict(model, adata)
