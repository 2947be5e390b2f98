"""Benchmark figures: method comparison per task, and a metric against the gap of a sweep.

Both read a results table (:func:`trackability.experiments.bench.run_benchmark`) and only
aggregate it (mean and standard deviation over seeds); no metric is computed here.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from trackability.metrics.registry import label as _label
from trackability.metrics.registry import metric_names as _metric_names
from trackability.plotting._axes import subplots

#: Axis labels of the metrics (from the metric registry).
METRIC_LABELS = {name: _label(name) for name in _metric_names()}

#: Fixed colours so a method keeps its colour across figures.
METHOD_COLORS = {
    "identity": "#9e9e9e", "meanshift": "#616161", "laot": "#d62728", "cellot": "#1f77b4",
    "compact_cellot": "#17becf", "scgen": "#2ca02c",
}


def _colors(methods: Sequence[str]) -> dict[str, Any]:
    import matplotlib

    cmap = matplotlib.colormaps["tab10"]
    out, k = {}, 0
    for m in methods:
        if m in METHOD_COLORS:
            out[m] = METHOD_COLORS[m]
        else:
            out[m] = cmap(k % 10)
            k += 1
    return out


def _ok(results: Any, metric: str) -> Any:
    df = results
    if "status" in df.columns:
        df = df[df["status"] == "ok"]
    if metric not in df.columns:
        raise ValueError(f"metric {metric!r} is not a column of the results table.")
    df = df[np.isfinite(df[metric].astype(float))]
    if df.empty:
        raise ValueError(f"no successful rows with a finite {metric!r} to plot.")
    return df


def _short_task(tasks: Sequence[str]) -> dict[str, str]:
    groups = {t.split("/", 1)[0] for t in tasks}
    if len(groups) == 1:
        return {t: t.split("/", 1)[-1] for t in tasks}
    return {t: t for t in tasks}


def plot_method_comparison(
    results: Any,
    metric: str = "mmd2",
    *,
    methods: Sequence[str] | None = None,
    log: bool | None = None,
    title: str | None = None,
    ax: Any = None,
    path: str | os.PathLike | None = None,
) -> Any:
    """Mean +- sd over seeds of ``metric`` for every method, grouped by task.

    Each method is a coloured marker with an error bar (one standard deviation over seeds), the
    individual seeds are the small dots behind it; tasks are along the x-axis.

    Parameters
    ----------
    results
        A results table (pandas DataFrame).
    metric
        Column to plot.
    methods
        Order (and subset) of methods; default: the order of the table.
    log
        Log-scaled y axis (default: when all values are positive and span > 2 decades).
    title, ax
        Figure title; an existing axes to draw into.
    path
        Save the figure there (PNG, 150 dpi) when given.

    Returns
    -------
    matplotlib.figure.Figure

    """
    import matplotlib.pyplot as plt

    df = _ok(results, metric)
    tasks = list(dict.fromkeys(df["task"]))
    methods = list(methods) if methods is not None else list(dict.fromkeys(df["method"]))
    short = _short_task(tasks)
    colors = _colors(methods)
    if ax is None:
        width_in = max(6.5, len(tasks) * (0.45 + 0.15 * len(methods)) + 3.0)
        fig, ax = plt.subplots(figsize=(min(width_in, 14.0), 5.0), constrained_layout=True)
    else:
        fig = ax.figure
    width = 0.8 / max(len(methods), 1)
    for k, m in enumerate(methods):
        sub = df[df["method"] == m]
        if sub.empty:
            continue
        xs, means, sds = [], [], []
        for i, t in enumerate(tasks):
            v = sub.loc[sub["task"] == t, metric].astype(float).to_numpy()
            if v.size == 0:
                continue
            x = i - 0.4 + width * (k + 0.5)
            ax.scatter(np.full(v.size, x), v, s=8, color=colors[m], alpha=0.35, linewidths=0,
                       zorder=2)
            xs.append(x)
            means.append(v.mean())
            sds.append(v.std(ddof=1) if v.size > 1 else 0.0)
        n_seeds = int(sub.groupby("task")["seed"].nunique().min())
        ax.errorbar(xs, means, yerr=sds, fmt="o", color=colors[m], ms=5, capsize=3, lw=1.2,
                    label=f"{m} (n={n_seeds} seeds)", zorder=3)
    ax.set_xticks(range(len(tasks)))
    labels = [short[t] for t in tasks]
    tilt = len(tasks) > 3 or max(len(lab) for lab in labels) > 10
    ax.set_xticklabels(labels, rotation=30 if tilt else 0, ha="right" if tilt else "center")
    ax.set_xlim(-0.6, len(tasks) - 0.4)
    vals = df[metric].astype(float).to_numpy()
    pos = vals[vals > 0]
    if log is None:
        log = bool(pos.size and pos.max() / pos.min() > 100)
    scale_note = ""
    if log and np.all(vals > 0):
        ax.set_yscale("log")
        scale_note = "; log y axis"
    elif log:
        # unbiased MMD^2 can be slightly negative: symmetric log, linear within +-linthresh
        linthresh = float(10 ** np.floor(np.log10(np.quantile(np.abs(vals[vals != 0]), 0.1))))
        ax.set_yscale("symlog", linthresh=linthresh)
        ax.axhspan(-linthresh, linthresh, color="0.93", zorder=0)
        scale_note = f"; symlog y axis, linear in the shaded band |y| < {linthresh:.0e}"
    ax.set_ylabel(METRIC_LABELS.get(metric, metric))
    ax.set_xlabel("task (held-out test cells)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0),
              title="method", title_fontsize=8)
    ax.set_title(title or f"mean ± sd over seeds (dots: single seeds){scale_note}", fontsize=10)
    if path is not None:
        fig.savefig(path, dpi=150)
    return fig


def plot_metric_vs_gap(
    results: Any,
    metric: str = "mmd2",
    *,
    gap: str = "meta.gap",
    facet: str | None = "meta.d",
    critical_gap: str | float | None = "meta.critical_gap",
    gap_label: str = "gap t",
    methods: Sequence[str] | None = None,
    log: bool = True,
    logx: bool | None = None,
    ax: Any = None,
    path: str | os.PathLike | None = None,
) -> Any:
    """``metric`` (mean +- sd over seeds) against the gap, one line per method, a panel per facet.

    The computed critical gap Delta (mean over seeds of the ``critical_gap`` column, or a
    number) is marked as a dashed vertical line when available; beyond it the correspondence is
    not recoverable in general (untrackable).

    Parameters
    ----------
    results
        A results table with a gap column (``meta.gap`` for the synthetic and time sweeps).
    metric
        Column to plot.
    gap, facet
        Columns of the x axis and of the panels (``facet=None``: one panel).
    critical_gap
        Column (or value) of Delta; skipped when absent or not finite.
    gap_label
        x-axis label, with its unit.
    methods
        Order and subset of methods.
    log
        Log-scaled y axis (when every value is positive).
    logx
        Log-scaled gap axis (default: when every gap is positive and they span > 1.5 decades).
    ax
        Axes to draw into (one per panel, row-major); default: a new figure.
    path
        Save the figure there when given.

    Returns
    -------
    matplotlib.figure.Figure

    """
    df = _ok(results, metric)
    if gap not in df.columns:
        raise ValueError(f"results have no gap column {gap!r}; is this a sweep?")
    facets = [None] if facet is None or facet not in df.columns else sorted(df[facet].unique())
    methods = list(methods) if methods is not None else list(dict.fromkeys(df["method"]))
    colors = _colors(methods)
    fig, axes = subplots(ax, 1, len(facets), figsize=(4.2 * len(facets) + 0.8, 3.8),
                         sharey=True, constrained_layout=True)
    use_log = log and bool(np.all(df[metric].astype(float) > 0))
    gaps = df[gap].astype(float).to_numpy()
    if logx is None:
        logx = bool(np.all(gaps > 0) and gaps.max() / gaps.min() > 30)
    for ax, fv in zip(axes[0], facets, strict=True):
        sub = df if fv is None else df[df[facet] == fv]
        for m in methods:
            s = sub[sub["method"] == m]
            if s.empty:
                continue
            agg = s.groupby(gap)[metric].agg(["mean", "std", "count"]).reset_index()
            agg["std"] = agg["std"].fillna(0.0)
            ax.errorbar(agg[gap], agg["mean"], yerr=agg["std"], marker="o", ms=4, capsize=3,
                        lw=1.4, color=colors[m], label=m, ls="--" if m == "identity" else "-",
                        zorder=3 if m == "identity" else 2)
        delta = None
        if isinstance(critical_gap, int | float):
            delta = float(critical_gap)
        elif isinstance(critical_gap, str) and critical_gap in sub.columns:
            vals = sub[critical_gap].astype(float)
            vals = vals[np.isfinite(vals)]
            delta = float(vals.mean()) if vals.size else None
        if delta is not None and np.isfinite(delta) and delta > 0:
            ax.axvline(delta, color="k", ls="--", lw=1)
            ax.text(delta, 0.98, f" Δ = {delta:.3g}", transform=ax.get_xaxis_transform(),
                    va="top", ha="left", fontsize=8)
        if use_log:
            ax.set_yscale("log")
        if logx:
            ax.set_xscale("log")
        ax.set_xlabel(gap_label + (" (log scale)" if logx else ""))
        ax.grid(alpha=0.3)
        if fv is not None:
            ax.set_title(f"{facet.removeprefix('meta.')} = {fv}")
    axes[0][0].set_ylabel(METRIC_LABELS.get(metric, metric) + (" (log)" if use_log else ""))
    axes[0][-1].legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                       title="method", title_fontsize=8)
    fig.suptitle(f"{METRIC_LABELS.get(metric, metric)} vs gap (mean ± sd over seeds; "
                 "dashed: computed critical gap Δ)", fontsize=10)
    if path is not None:
        fig.savefig(path, dpi=150)
    return fig
