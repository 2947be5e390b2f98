"""Method comparison across several metrics: one panel per metric, methods side by side per task.

A thin layout over :func:`trackability.plotting.benchmark.plot_method_comparison` (mean +- sd over
seeds, single seeds as dots), used by the demo; it reads a results table and computes nothing.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from trackability.plotting._axes import subplots


def plot_metric_panels(
    results: Any,
    metrics: Sequence[str] = ("mmd2", "energy", "mean_r2"),
    *,
    methods: Sequence[str] | None = None,
    title: str | None = None,
    ax: Any = None,
    path: str | os.PathLike | None = None,
) -> Any:
    """One panel per metric: every method's mean +- sd over seeds, grouped by task.

    Parameters
    ----------
    results
        A results table (pandas DataFrame) with columns ``task``, ``method``, ``seed`` and the
        metrics (one row per task, method and seed), e.g. ``run_demo(...).methods``.
    metrics
        Metric columns, one panel each.
    methods
        Order (and subset) of methods; default the order of the table.
    title
        Figure title.
    ax
        Axes to draw into (one per panel, row-major); default: a new figure.
    path
        Save the figure there (PNG, 150 dpi).

    Returns
    -------
    matplotlib.figure.Figure

    """
    import pandas as pd

    from trackability.plotting.benchmark import METRIC_LABELS, plot_method_comparison

    if not isinstance(results, pd.DataFrame):
        raise TypeError(f"results must be a pandas DataFrame; got {type(results).__name__}.")
    metrics = list(metrics)
    if not metrics:
        raise ValueError("metrics must name at least one column.")
    missing = [c for c in ("task", "method", "seed", *metrics) if c not in results.columns]
    if missing:
        raise ValueError(f"results is missing column(s) {missing}.")
    fig, axes = subplots(ax, 1, len(metrics), figsize=(3.9 * len(metrics) + 1.6, 4.0),
                         constrained_layout=True)
    for k, (ax, metric) in enumerate(zip(axes[0], metrics, strict=True)):
        plot_method_comparison(results, metric, methods=methods, ax=ax)
        ax.set_title(METRIC_LABELS.get(metric, metric), fontsize=10)
        ax.set_ylabel(_axis_label(metric, ax))
        if k < len(metrics) - 1 and ax.get_legend() is not None:
            ax.get_legend().remove()
        if k > 0:
            ax.set_xlabel("")
    fig.suptitle(
        (title + "\n" if title else "")
        + "mean ± sd over seeds (dots: single seeds)",
        fontsize=10,
    )
    if path is not None:
        fig.savefig(path, dpi=150)
    return fig


def _axis_label(metric: str, ax: Any) -> str:
    direction = "higher is better" if metric in ("mean_r2", "mean_pearson", "recovery") else (
        "lower is better")
    scale = " (log scale)" if ax.get_yscale() == "log" else ""
    return f"{direction}{scale}"
