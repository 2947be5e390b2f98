"""One registry of the metrics every table, figure and report reads: name, label, direction, needs.

A :class:`Metric` says what a results column means: its label in tables and figures, whether
higher is better, and what computing it needs besides the predicted and observed treated cells
(``gamma``: the training split's RBF bandwidth; ``control``: the control cells the prediction was
made from; ``truth``: the true treated state of each test cell, synthetic data only; ``seed``: a
seeded subsample or permutation; ``train_permutation`` / ``true_map``: the generator's training
correspondence and map, synthetic data only, scored on the fitted model rather than on its
prediction). ``scope`` says where it is computed: ``"row"`` by the benchmark
scorer for one (task, method, seed), ``"table"`` across the rows of a results table (e.g. the rank
metric needs every task of a data set), ``"cost"`` a resource column (fit time). ``calibrate``
says whether the calibrated score ``(u - b) / (r - b)`` against the mean shift and the replicate
ceiling is meaningful (not for a p-value).

Adding a metric touches this file (its entry) and the function that computes it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from trackability._validation import check_choice


@dataclass(frozen=True)
class Metric:
    """One metric of the registry (see the module docstring)."""

    name: str
    label: str
    higher_is_better: bool
    function: Callable[..., Any] | None = None
    needs: tuple[str, ...] = ()
    scope: str = "row"
    description: str = ""
    calibrate: bool = True


def _fn(module: str, name: str) -> Callable[..., Any]:
    """A lazy reference to ``trackability.metrics.<module>.<name>`` (imports on first call)."""

    def call(*args: Any, **kwargs: Any) -> Any:
        import importlib

        return getattr(importlib.import_module(f"trackability.metrics.{module}"), name)(
            *args, **kwargs)

    call.__name__ = name
    call.__qualname__ = f"{module}.{name}"
    return call


_REGISTRY: dict[str, Metric] = {}


def register_metric(metric: Metric) -> Metric:
    """Add ``metric`` (its name must be new)."""
    if not isinstance(metric, Metric):
        raise TypeError(f"metric must be a Metric; got {type(metric).__name__}.")
    check_choice(metric.scope, "scope", ("row", "table", "cost"))
    if metric.name in _REGISTRY:
        raise ValueError(f"metric {metric.name!r} is already registered.")
    _REGISTRY[metric.name] = metric
    return metric


for _m in (
    Metric("mmd2", "MMD² (unbiased, train-median γ)", False, _fn("mmd", "mmd2"), ("gamma",),
           description="unbiased MMD² with the RBF bandwidth of the training split"),
    Metric("mmd2_cellot", "MMD² (biased, CellOT γ set)", False, _fn("mmd", "mmd2"),
           description="CellOT's evaluation, for comparison with published numbers"),
    Metric("energy", "energy distance", False, _fn("distances", "energy_distance")),
    Metric("w2", "W2 distance", False, _fn("distances", "wasserstein2"), ("seed",),
           description="exact 2-Wasserstein distance (seeded subsamples above w2_max_cells)"),
    Metric("mean_r2", "R² of feature means", True, _fn("agreement", "mean_r2")),
    Metric("mean_pearson", "Pearson r of feature means", True, _fn("agreement", "mean_pearson")),
    Metric("rmse_paired", "paired RMSE to the true map", False, None, ("truth",),
           description="RMSE to the true treated state of each test cell (synthetic data)"),
    Metric("recovery", "recovery of the training correspondence", True,
           _fn("agreement", "recovery_rate"), ("train_permutation",),
           description="fraction of training treated cells a model's one-to-one matching_ pairs "
           "with their true origin (synthetic data; NaN for models without a matching)",
           calibrate=False),
    Metric("map_error", "map error |W_ − Wᵀ|_F", False, _fn("agreement", "map_error"),
           ("true_map",),
           description="Frobenius distance of a model's linear map W_ to the true map "
           "(synthetic data, no preprocessing; NaN for models without W_)", calibrate=False),
    Metric("delta_pearson", "Pearson r of Δ (all features)", True,
           _fn("gene", "delta_pearson"), ("control",),
           description="correlation of predicted and observed mean change from control"),
    Metric("delta_pearson_top", "Pearson r of Δ (top-k changed)", True,
           _fn("gene", "delta_pearson"), ("control",),
           description="the same on the top_k features with the largest observed change"),
    Metric("deg_sign", "sign agreement of top-k Δ", True, _fn("gene", "deg_sign_agreement"),
           ("control",), description="fraction of the top_k changed features with the right sign"),
    Metric("etest_p", "E-test p (prediction vs truth)", True, _fn("significance", "energy_test"),
           ("seed",), description="permutation p-value; large: indistinguishable from the truth",
           calibrate=False),
    Metric("rank", "rank of own condition", False, _fn("calibration", "rank_metrics"),
           scope="table", description="PerturBench's normalised rank across a data set's tasks"),
    Metric("centroid_acc", "centroid accuracy", True, _fn("calibration", "rank_metrics"),
           scope="table", description="Systema's: prediction nearest its own observed condition"),
    Metric("fit_time_s", "fit time (s)", False, scope="cost"),
):
    register_metric(_m)


def get_metric(name: str) -> Metric:
    """The registered metric ``name`` (a clear error listing the known ones otherwise)."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown metric {name!r}; known: {list(_REGISTRY)}.") from None


def metric_names(scope: str | None = None) -> tuple[str, ...]:
    """Registered metric names in registry order, optionally of one ``scope``."""
    if scope is not None:
        check_choice(scope, "scope", ("row", "table", "cost"))
    return tuple(n for n, m in _REGISTRY.items() if scope is None or m.scope == scope)


def label(name: str) -> str:
    """The display label of a metric column (the name itself when unregistered)."""
    m = _REGISTRY.get(name)
    return m.label if m is not None else name


def higher_is_better(name: str) -> bool:
    """Whether larger values of metric ``name`` are better."""
    return get_metric(name).higher_is_better
