"""``tl.fit``: fit a perturbation model on two groups of an AnnData and keep it (scanpy style)."""

from __future__ import annotations

import inspect
import warnings
from typing import Any

import numpy as np

from trackability._version import provenance
from trackability.models.registry import get_model as _get_model
from trackability.tl._anndata import check_adata, check_key, group_masks, jsonish
from trackability.tl._space import FeatureSpace

#: Above this many features (and more features than cells) ``fit`` suggests a reduced space.
WIDE_FEATURES = 1000


class FittedModel:
    """A model fitted by :func:`fit`, with the AnnData context :func:`predict` needs.

    Attribute access falls through to the wrapped estimator, so ``fitted.W_``, ``fitted.history_``
    or ``fitted.matching_`` work as on the model itself.

    Attributes
    ----------
    model
        The fitted estimator (a :class:`~trackability.models.PerturbationModel`).
    method
        Its registered name (or class name).
    space
        The feature space (``use_rep`` / ``layer`` / preprocessing) and the way back to genes.
    params
        The call's parameters, as stored in ``adata.uns[key_added]["params"]``.
    gamma
        RBF bandwidth (median heuristic) of the cells the model was fitted on, in the model's space:
        the bandwidth :func:`~trackability.tl.score` uses by default.
    key_added
        Key of ``uns`` the fit was recorded under.

    """

    def __init__(self, model: Any, method: str, space: FeatureSpace, params: dict[str, Any],
                 gamma: float, key_added: str) -> None:
        self.model = model
        self.method = method
        self.space = space
        self.params = params
        self.gamma = gamma
        self.key_added = key_added

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in {"model", "method", "space", "params", "gamma",
                                             "key_added"}:
            raise AttributeError(name)
        return getattr(self.__dict__["model"], name)

    def __repr__(self) -> str:
        p = self.params
        return (f"FittedModel({self.model!r}, {p['groupby']}: {p['control']!r} -> {p['treated']!r}, "
                f"space: {self.space.describe()})")


def _make_model(method: Any, params: dict[str, Any] | None, random_state: Any) -> tuple[Any, str]:
    if not isinstance(method, str):
        if isinstance(method, type):
            raise TypeError(f"method must be a name or a model instance, not the class {method.__name__};"
                            f" pass {method.__name__}() or its registered name.")
        if not (hasattr(method, "fit") and hasattr(method, "predict")):
            raise TypeError(
                f"method must be a registered name, 'module:Class' or a model instance with fit and "
                f"predict; got {type(method).__name__}."
            )
        if params:
            raise ValueError("params can only be given with a method name, not a model instance.")
        return method, type(method).__name__
    if params is not None and not isinstance(params, dict):
        raise TypeError(f"params must be a dict of hyper-parameters; got {type(params).__name__}.")
    cls = _get_model(method)
    kw = dict(params or {})
    valid = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    unknown = sorted(set(kw) - set(valid))
    if unknown:
        hint = ""
        if "gamma" in unknown:
            hint = (" (gamma is the RBF bandwidth of scoring, not a model parameter: pass it to "
                    "trackability.tl.score(..., gamma=...))")
        raise ValueError(
            f"params: {cls.__name__} has no parameter(s) {unknown}{hint}; valid: {valid}."
        )
    if "random_state" in valid and "random_state" not in kw:
        kw["random_state"] = random_state
    return cls(**kw), method.lower()


def _announce_slow(model: Any, n_cells: int, d: int, space: FeatureSpace) -> None:
    cls = type(model).__name__
    if cls == "ScGen" and getattr(model, "max_epochs", 0) is None:
        from trackability.models.scgen import default_epochs

        warnings.warn(
            f"ScGen: max_epochs not set, so the scvi-tools rule gives {default_epochs(n_cells)} epochs "
            f"for {n_cells} cells (minutes on a CPU); pass params={{'max_epochs': 50}} for a quick fit.",
            UserWarning, stacklevel=3,
        )
    if d > WIDE_FEATURES and d > n_cells:
        warnings.warn(
            f"fitting {cls} on {d} features with only {n_cells} cells ({space.describe()}): slow and "
            "under-determined. Fit in a reduced space: use_rep='X_pca' (with varm['PCs'] the "
            "predictions still come back as genes) or preprocess=['standardize', ('pca', "
            "{'n_components': 50})].",
            UserWarning, stacklevel=3,
        )


def fit(
    adata: Any,
    method: str | Any = "laot",
    *,
    groupby: str,
    control: Any,
    treated: Any,
    use_rep: str | None = None,
    layer: str | None = None,
    loadings_key: str | None = None,
    preprocess: Any = None,
    labels_key: str | None = None,
    params: dict[str, Any] | None = None,
    key_added: str = "trackability",
    random_state: Any = 0,
) -> FittedModel:
    """Fit ``method`` from the ``control`` to the ``treated`` cells of ``adata`` and return it.

    Parameters
    ----------
    adata
        AnnData holding cells of both groups (others are ignored).
    method
        A registered name (``"identity"``, ``"meanshift"``, ``"laot"``, ``"cellot"``,
        ``"compact_cellot"``, ``"scgen"``, case-insensitive), ``"module:Class"`` of a
        :class:`~trackability.models.PerturbationModel` subclass, or an unfitted model instance.
    groupby
        Column of ``adata.obs`` with the condition of each cell.
    control, treated
        The control and treated labels in ``adata.obs[groupby]``.
    use_rep
        ``obsm`` key to fit in (e.g. ``"X_pca"``), or ``"X"``. With ``"X_pca"`` and
        ``varm["PCs"]`` (scanpy's PCA) predictions are mapped back to genes.
    layer
        ``layers`` key to use instead of ``X`` (for genes).
    loadings_key
        ``varm`` key of the loadings of ``use_rep`` (default: ``"PCs"`` for ``"X_pca"``).
    preprocess
        Preprocessing fitted here on the control and treated cells (a
        :class:`~trackability.data.preprocessing.Preprocessor` or its steps, e.g.
        ``["standardize", ("pca", {"n_components": 50})]``); the model is fitted on its output and
        predictions go back through it.
    labels_key
        ``obs`` column of cell-type labels, passed to models that use them (scGen balances cell
        types with them).
    params
        Hyper-parameters of the model (with a method name), e.g. ``{"max_epochs": 50}``.
    key_added
        ``uns`` key of the record.
    random_state
        Seed passed to the model when it takes one and ``params`` does not set it.

    Returns
    -------
    FittedModel
        The fitted model with its context; pass it to :func:`~trackability.tl.predict`.
        ``adata.uns[key_added]`` gets ``params`` (this call's parameters), ``method``,
        ``n_control`` / ``n_treated``, ``space``, ``feature_names``, ``gamma``, ``fitted`` (e.g.
        ``W``, ``intercept``, ``n_iter``, ``history``), ``matching_info`` and ``provenance``.
        Models with a one-to-one matching (LAOT with equal group sizes) also write
        ``obs[key_added + "_partner"]`` and ``obs[key_added + "_partner_cost"]``.

    Examples
    --------
    >>> import trackability as tk
    >>> model = tk.tl.fit(adata, "laot", groupby="condition", control="control",
    ...                   treated="stimulated", use_rep="X_pca")  # doctest: +SKIP
    >>> pred = tk.tl.predict(model, held_out)                       # doctest: +SKIP

    """
    check_adata(adata)
    key = check_key(key_added)
    if labels_key is not None and labels_key not in adata.obs.columns:
        raise KeyError(f"labels_key={labels_key!r} is not a column of adata.obs "
                       f"(columns: {list(adata.obs.columns)}).")
    ctrl, trt = group_masks(adata, groupby, control, treated)
    model, name = _make_model(method, params, random_state)
    fit_mask = ctrl | trt
    space, x = FeatureSpace.fit(adata, fit_mask, use_rep=use_rep, layer=layer,
                                loadings_key=loadings_key, preprocess=preprocess)
    xs, xt = x[ctrl], x[trt]
    _announce_slow(model, int(fit_mask.sum()), x.shape[1], space)
    fit_kw: dict[str, Any] = {}
    if labels_key is not None:
        fit_sig = inspect.signature(model._fit if hasattr(model, "_fit") else model.fit).parameters
        labels = adata.obs[labels_key].astype(str).to_numpy()
        if "source_labels" in fit_sig:
            fit_kw = {"source_labels": labels[ctrl], "target_labels": labels[trt]}
    model.fit(xs, xt, **fit_kw)

    from trackability.metrics import median_heuristic_gamma

    try:
        gamma = float(median_heuristic_gamma(xs, xt, max_samples=2000, random_state=0))
    except ValueError:  # most cells identical: no default bandwidth; tl.score then asks for gamma
        gamma = float("nan")
    call = {"method": name, "groupby": groupby, "control": str(control), "treated": str(treated),
            "use_rep": use_rep or "", "layer": layer or "", "loadings_key": space.loadings_key or "",
            "labels_key": labels_key or "", "random_state": str(random_state),
            "model_params": jsonish(model.get_params() if hasattr(model, "get_params") else {})}
    if preprocess is not None:
        call["preprocess"] = [str(s) for s in space.preprocessor.describe()]
    uns: dict[str, Any] = {
        "params": call, "method": name, "n_control": int(ctrl.sum()), "n_treated": int(trt.sum()),
        "space": space.record(), "feature_names": np.asarray(space.feature_names, dtype=str),
        "gamma": gamma, "fitted": _fitted_record(model), "provenance": provenance(),
    }
    matching = getattr(model, "matching_", None)
    if matching is not None and not hasattr(matching, "target"):
        # a soft TransportPlan (entropic LAOT) has no partner per cell: no partner columns
        uns["matching_info"] = jsonish({"cost": matching.total_cost, "cost_name": matching.cost_name,
                                        "method": matching.method, **dict(matching.info),
                                        "one_to_one": False})
    elif matching is not None:
        from trackability.tl.match import write_partners

        uns["matching_info"] = jsonish({"cost": matching.cost, "cost_name": matching.cost_name,
                                        "method": matching.method, **dict(matching.info)})
        pred = np.asarray(model.predict(xs), dtype=np.float64)
        uns["matching_info"]["one_to_one"] = write_partners(
            adata, ctrl, trt, matching.source, matching.target, pred, xt, matching.cost_name, key)
    adata.uns[key] = uns
    return FittedModel(model, name, space, call, gamma, key)


def _fitted_record(model: Any) -> dict[str, Any]:
    fitted: dict[str, Any] = {}
    for attr in ("W_", "intercept_", "shift_", "delta_", "n_iter_", "converged_", "objective_",
                 "best_epoch_", "n_epochs_"):
        if hasattr(model, attr):
            value = getattr(model, attr)
            if value is not None:
                fitted[attr.rstrip("_")] = jsonish(value)
    hist = getattr(model, "history_", None)
    if hist is not None and hasattr(hist, "columns"):
        fitted["history"] = {str(c): np.asarray(hist[c]) for c in hist.columns
                             if np.asarray(hist[c]).dtype != object}
    return fitted
