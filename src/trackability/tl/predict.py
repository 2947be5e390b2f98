"""Fit a perturbation model on two groups of an AnnData and write the results back (scanpy style)."""

from __future__ import annotations

from typing import Any

import numpy as np

from trackability._validation import check_array
from trackability._version import provenance


def _get_matrix(adata: Any, use_rep: str | None, layer: str | None) -> tuple[np.ndarray, list[str]]:
    if use_rep is not None and layer is not None:
        raise ValueError("pass either use_rep or layer, not both.")
    if use_rep is not None:
        if use_rep == "X":
            x, names = adata.X, list(map(str, adata.var_names))
        elif use_rep in adata.obsm:
            x = adata.obsm[use_rep]
            names = [f"{use_rep}_{i}" for i in range(np.shape(x)[1])]
        else:
            raise KeyError(f"use_rep={use_rep!r} is not in adata.obsm (keys: {list(adata.obsm)}).")
    elif layer is not None:
        if layer not in adata.layers:
            raise KeyError(f"layer={layer!r} is not in adata.layers (keys: {list(adata.layers)}).")
        x, names = adata.layers[layer], list(map(str, adata.var_names))
    else:
        x, names = adata.X, list(map(str, adata.var_names))
    where = f"adata.obsm[{use_rep!r}]" if use_rep not in (None, "X") else (
        f"adata.layers[{layer!r}]" if layer else "adata.X")
    return check_array(x, where), names


def _group_masks(adata: Any, groupby: str, source: Any, target: Any) -> tuple[np.ndarray, np.ndarray]:
    if groupby not in adata.obs.columns:
        raise KeyError(
            f"groupby={groupby!r} is not a column of adata.obs (columns: {list(adata.obs.columns)})."
        )
    col = adata.obs[groupby].astype(str).to_numpy()
    present = sorted(set(col))
    masks = []
    for arg, val in (("source", source), ("target", target)):
        m = col == str(val)
        if m.sum() < 2:
            raise ValueError(
                f"{arg}={val!r}: {int(m.sum())} cell(s) in adata.obs[{groupby!r}] (needs >= 2); "
                f"groups present: {present}."
            )
        masks.append(m)
    if str(source) == str(target):
        raise ValueError("source and target must be different groups.")
    return masks[0], masks[1]


def _jsonish(v: Any) -> Any:
    """Values that AnnData can write to .uns (h5ad): arrays, numbers, strings, dicts thereof."""
    if isinstance(v, dict):
        return {str(k): _jsonish(x) for k, x in v.items() if x is not None}
    if isinstance(v, list | tuple):
        try:
            arr = np.asarray(v)
            if arr.dtype != object:
                return arr
        except ValueError:
            pass
        return {str(i): _jsonish(x) for i, x in enumerate(v)}
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, bool | int | float | str | np.ndarray):
        return v
    return str(v)


def fit_predict(
    adata: Any,
    method: str | Any = "laot",
    *,
    groupby: str,
    source: Any,
    target: Any,
    params: dict[str, Any] | None = None,
    use_rep: str | None = None,
    layer: str | None = None,
    key_added: str = "trackability",
    random_state: Any = 0,
    diagnostics: bool = False,
    copy: bool = False,
) -> Any:
    """Fit ``method`` from the ``source`` cells to the ``target`` cells and store the results.

    Parameters
    ----------
    adata
        AnnData with cells of both groups.
    method
        A registered method name (``"identity"``, ``"meanshift"``, ``"laot"``, ``"cellot"``,
        ``"compact_cellot"``, ``"scgen"``) or a model instance following the protocol.
    groupby
        Column of ``adata.obs`` that holds the groups.
    source, target
        The control and treated group names in ``adata.obs[groupby]``.
    params
        Hyper-parameters of the model (with a method name).
    use_rep
        Key of ``adata.obsm`` to use instead of ``adata.X`` (e.g. ``"X_pca"``); ``"X"`` for X.
    layer
        Key of ``adata.layers`` to use instead of ``adata.X``.
    key_added
        Prefix of every key written.
    random_state
        Seed passed to the model (when it takes one).
    diagnostics
        Also compute the (2, delta) restricted-isometry constant of the source cells (needs
        ``trackability.diagnostics``; sampled above its pair limit).
    copy
        Work on a copy and return it; otherwise modify ``adata`` in place and return None.

    Returns
    -------
    AnnData or None
        With ``copy=True`` the modified copy. Written keys:

        - ``obsm["X_<key_added>"]``: predicted treated state of every source cell (n_obs x d,
          NaN for the other cells);
        - ``obs["<key_added>_match"]`` (models with a matching, e.g. LAOT): the ``obs_name`` of the
          matched cell of the other group ('' when unmatched or not in either group), and
          ``obs["<key_added>_match_cost"]``: the cost of that pair in the fitted space;
        - ``uns["<key_added>"]``: ``method``, ``params``, ``groupby``/``source``/``target``,
          ``use_rep``/``layer``, ``n_source``/``n_target``, ``feature_names``, ``fitted`` (e.g.
          ``W``, ``intercept``, ``n_iter``, ``converged``, ``objective``, ``history``),
          ``matching_info`` (solver certificates), ``diagnostics`` and ``provenance``.

    """
    from trackability.experiments.methods import resolve_method

    if copy:
        adata = adata.copy()
    x, names = _get_matrix(adata, use_rep, layer)
    src_mask, tgt_mask = _group_masks(adata, groupby, source, target)
    if isinstance(method, str):
        cls = resolve_method(method)
        kw = dict(params or {})
        import inspect

        init = set(inspect.signature(cls.__init__).parameters)
        if "random_state" in init and "random_state" not in kw:
            kw["random_state"] = random_state
        model = cls(**kw)
        name = method
    else:
        if params:
            raise ValueError("params can only be given with a method name, not a model instance.")
        model, name = method, type(method).__name__
    xs, xt = x[src_mask], x[tgt_mask]
    model.fit(xs, xt)
    pred = np.asarray(model.predict(xs), dtype=np.float64)

    full = np.full((adata.n_obs, pred.shape[1]), np.nan)
    full[src_mask] = pred
    adata.obsm[f"X_{key_added}"] = full

    uns: dict[str, Any] = {
        "method": name, "params": _jsonish(model.get_params() if hasattr(model, "get_params")
                                           else {}),
        "groupby": groupby, "source": str(source), "target": str(target),
        "use_rep": use_rep or "", "layer": layer or "",
        "n_source": int(src_mask.sum()), "n_target": int(tgt_mask.sum()),
        "feature_names": np.asarray(names, dtype=object).astype(str),
        "provenance": provenance(),
    }
    fitted: dict[str, Any] = {}
    for attr in ("W_", "intercept_", "shift_", "n_iter_", "converged_", "objective_"):
        if hasattr(model, attr):
            fitted[attr.rstrip("_")] = _jsonish(getattr(model, attr))
    hist = getattr(model, "history_", None)
    if hist is not None and hasattr(hist, "to_dict"):
        fitted["history"] = {str(c): np.asarray(hist[c]) for c in hist.columns}
    uns["fitted"] = fitted

    matching = getattr(model, "matching_", None)
    if matching is not None and not hasattr(matching, "target"):
        # a soft TransportPlan (entropic LAOT) has no partner per cell: no match columns
        uns["matching_info"] = _jsonish({"cost": matching.total_cost, "cost_name": matching.cost_name,
                                         "method": matching.method, **dict(matching.info)})
    elif matching is not None:
        obs_names = np.asarray(adata.obs_names, dtype=object)
        src_ids, tgt_ids = np.flatnonzero(src_mask), np.flatnonzero(tgt_mask)
        s_idx, t_idx = src_ids[matching.source], tgt_ids[matching.target]
        match = np.full(adata.n_obs, "", dtype=object)
        match[s_idx] = obs_names[t_idx]
        match[t_idx] = obs_names[s_idx]
        cost = np.full(adata.n_obs, np.nan)
        diff = pred[matching.source] - xt[matching.target]
        pair_cost = np.einsum("ij,ij->i", diff, diff)
        if matching.cost_name == "euclidean":
            pair_cost = np.sqrt(pair_cost)
        cost[s_idx] = pair_cost
        cost[t_idx] = pair_cost
        adata.obs[f"{key_added}_match"] = match.astype(str)
        adata.obs[f"{key_added}_match_cost"] = cost
        uns["matching_info"] = _jsonish({"cost": matching.cost, "cost_name": matching.cost_name,
                                         "method": matching.method, **dict(matching.info)})
    if diagnostics:
        uns["diagnostics"] = _diagnostics(xs)
    adata.uns[key_added] = uns
    return adata if copy else None


def _diagnostics(xs: np.ndarray) -> dict[str, Any]:
    try:
        from trackability.diagnostics.rip import rip
    except ImportError:  # pragma: no cover
        return {"available": False}
    r = rip(xs, 2, progress=False)
    return _jsonish({"available": True, **r.to_dict()})


def score_prediction(
    adata: Any,
    key_added: str = "trackability",
    *,
    use_rep: str | None = None,
    layer: str | None = None,
    gamma: float | None = None,
) -> dict[str, float]:
    """Distances between the predicted cells of :func:`fit_predict` and the observed target cells.

    Uses the same metric code as the benchmark (unbiased MMD^2, energy distance, mean R^2). Note
    that here the model was fitted on these very target cells (in-sample); for an honest held-out
    score use :func:`trackability.experiments.bench.run_benchmark`. The result is also stored in
    ``adata.uns[key_added]["score"]``.
    """
    from trackability.metrics import energy_distance, mean_r2, median_heuristic_gamma, mmd2

    if key_added not in adata.uns or f"X_{key_added}" not in adata.obsm:
        raise KeyError(f"no fit_predict results under key_added={key_added!r}; run fit_predict.")
    info = adata.uns[key_added]
    x, _ = _get_matrix(adata, use_rep if use_rep is not None else (info.get("use_rep") or None),
                       layer if layer is not None else (info.get("layer") or None))
    src, tgt = _group_masks(adata, info["groupby"], info["source"], info["target"])
    pred_all = np.asarray(adata.obsm[f"X_{key_added}"])
    pred = pred_all[~np.isnan(pred_all).any(axis=1)]
    obs = x[tgt]
    # bandwidth from the observed cells the model was fitted on (source + target), as in bench
    g = gamma if gamma is not None else median_heuristic_gamma(x[src], obs, max_samples=2000,
                                                               random_state=0)
    out = {"mmd2": mmd2(pred, obs, gamma=g), "energy": energy_distance(pred, obs),
           "mean_r2": mean_r2(pred, obs), "gamma": float(g), "in_sample": True}
    info["score"] = out
    return out
