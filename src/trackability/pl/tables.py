"""Tables: methods compared from a results table, and the transition heatmap of ``tl.match``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from trackability.pl._common import finish, new_axes


def method_comparison(
    results: Any,
    metric: str = "mmd2",
    *,
    methods: Sequence[str] | None = None,
    title: str | None = None,
    ax: Any = None,
    show: bool | None = None,
    save: str | os.PathLike | None = None,
) -> Any:
    """Every method's ``metric`` per task (mean ± sd over seeds, single seeds as dots).

    ``results`` is a benchmark table (``results.csv`` of ``trackability bench``, or
    :func:`trackability.tl.score` rows with ``task``, ``method``, ``seed`` and the metric columns).
    Each method keeps one colour across figures.
    """
    from trackability.plotting.benchmark import METRIC_LABELS, plot_method_comparison

    label = METRIC_LABELS.get(metric, metric)
    ax = new_axes(ax, (7.5, 4.6))
    plot_method_comparison(results, metric, methods=methods, ax=ax,
                           title=title or f"{label} of each method on held-out cells, per task")
    return finish(ax, show, save)


def transitions(
    table: Any,
    *,
    value: str = "fraction",
    title: str | None = None,
    annotate: bool = True,
    ax: Any = None,
    show: bool | None = None,
    save: str | os.PathLike | None = None,
) -> Any:
    """Heatmap of a transition table: control annotation (rows) -> treated annotation (columns).

    ``table`` is the result of :func:`trackability.tl.match` (columns ``control``, ``treated``,
    ``count``, ``fraction``) or an AnnData holding it under ``uns["trackability_match"]``.
    """
    import pandas as pd

    if hasattr(table, "uns"):
        rec = table.uns.get("trackability_match", {}).get("transitions")
        if rec is None:
            raise KeyError("adata.uns['trackability_match'] has no transitions; run tl.match(..., "
                           "annotation=...).")
        table = pd.DataFrame({k: np.asarray(v) for k, v in rec.items()})
    if value not in ("fraction", "count"):
        raise ValueError(f"value must be 'fraction' or 'count'; got {value!r}.")
    missing = [c for c in ("control", "treated", value) if c not in table.columns]
    if missing:
        raise ValueError(f"table is missing column(s) {missing}.")
    grid = table.pivot(index="control", columns="treated", values=value).fillna(0.0)
    ax = new_axes(ax, (1.2 + 0.7 * grid.shape[1] + 1.5, 1.0 + 0.5 * grid.shape[0] + 0.8))
    vmax = 1.0 if value == "fraction" else float(grid.to_numpy().max() or 1.0)
    im = ax.imshow(grid.to_numpy(), cmap="Blues", vmin=0, vmax=vmax, aspect="auto")
    ax.set_xticks(range(grid.shape[1]), [str(c) for c in grid.columns], rotation=45, ha="right")
    ax.set_yticks(range(grid.shape[0]), [str(r) for r in grid.index])
    ax.set_xlabel("treated cell annotation")
    ax.set_ylabel("control cell annotation")
    if annotate:
        for i in range(grid.shape[0]):
            for j in range(grid.shape[1]):
                v = grid.iat[i, j]
                ax.text(j, i, f"{v:.2f}" if value == "fraction" else f"{int(v)}", ha="center",
                        va="center", fontsize=8, color="white" if v > 0.6 * vmax else "black")
    what = "fraction of each control type's matched cells" if value == "fraction" else "matched pairs"
    ax.figure.colorbar(im, ax=ax, label=what, shrink=0.85)
    ax.set_title(title or "Where matched control cells go: control -> treated annotation", fontsize=10)
    return finish(ax, show, save)
