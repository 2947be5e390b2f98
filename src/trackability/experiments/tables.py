"""Summary tables of a benchmark: mean +- sd over seeds per task and method."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

#: Metrics where smaller is better (all others: larger is better).
LOWER_IS_BETTER = {"mmd2", "mmd2_cellot", "energy", "w2", "rmse_paired"}


def read_results(path: str | os.PathLike) -> Any:
    """Read ``results.csv`` (or the folder holding it), keeping only successful rows."""
    import pandas as pd

    p = Path(path)
    if p.is_dir():
        p = p / "results.csv"
    if not p.is_file():
        raise FileNotFoundError(f"no results table at {p}; run `trackability bench` first.")
    df = pd.read_csv(p)
    missing = [c for c in ("task", "method", "seed") if c not in df.columns]
    if missing:
        raise ValueError(f"{p} is not a benchmark results table (missing columns {missing}).")
    if "status" in df.columns:
        df = df[df["status"] == "ok"]
    return df


def summarize(results: Any, metrics: Sequence[str] | None = None) -> Any:
    """Mean, standard deviation (ddof=1) and number of seeds per (task, method).

    Parameters
    ----------
    results
        The table of :func:`~trackability.experiments.bench.run_benchmark` (failed rows, with
        ``status != "ok"``, are dropped).
    metrics
        Metric columns to summarise (default: every metric column present).

    Returns
    -------
    pandas.DataFrame
        Columns ``task, method, n_seeds`` and ``<metric>_mean``, ``<metric>_sd`` for each metric, in
        the order tasks and methods first appear.

    """
    import pandas as pd

    from trackability.experiments.bench import METRICS

    df = results
    if "status" in df.columns:
        df = df[df["status"] == "ok"]
    if metrics is None:
        metrics = [m for m in METRICS if m in df.columns and df[m].notna().any()]
    missing = [m for m in metrics if m not in df.columns]
    if missing:
        raise ValueError(f"metric column(s) {missing} not in the results table.")
    tasks = list(dict.fromkeys(df["task"]))
    methods = list(dict.fromkeys(df["method"]))
    g = df.groupby(["task", "method"], sort=False)
    out = g.size().rename("n_seeds").to_frame()
    for m in metrics:
        vals = g[m]
        out[f"{m}_mean"] = vals.mean()
        out[f"{m}_sd"] = vals.std(ddof=1)
    out = out.reset_index()
    out["_t"] = out["task"].map({t: i for i, t in enumerate(tasks)})
    out["_m"] = out["method"].map({m: i for i, m in enumerate(methods)})
    out = out.sort_values(["_t", "_m"]).drop(columns=["_t", "_m"]).reset_index(drop=True)
    return pd.DataFrame(out)


def _fmt(mean: float, sd: float, digits: int) -> str:
    if not np.isfinite(mean):
        return "n/a"
    if abs(mean) < 10 ** -(digits - 1) and mean != 0:
        body = f"{mean:.{digits}g}"
        sd_s = f"{sd:.{max(digits - 1, 1)}g}" if np.isfinite(sd) else "n/a"
    else:
        body = f"{mean:.{digits}f}"
        sd_s = f"{sd:.{digits}f}" if np.isfinite(sd) else "n/a"
    return f"{body} ± {sd_s}"


def pivot(results: Any, metric: str = "mmd2", *, digits: int = 4, mark_best: bool = True) -> Any:
    """A tasks x methods table of ``"mean ± sd"`` strings for one metric (best per task in bold).

    The best method per task (lowest mean, or highest for R^2/Pearson) is wrapped in ``**``.
    """
    summ = summarize(results, [metric])
    lower = metric in LOWER_IS_BETTER
    tasks = list(dict.fromkeys(summ["task"]))
    methods = list(dict.fromkeys(summ["method"]))
    import pandas as pd

    table = pd.DataFrame(index=tasks, columns=methods, dtype=object)
    for t in tasks:
        sub = summ[summ["task"] == t]
        means = sub.set_index("method")[f"{metric}_mean"]
        best = means.idxmin() if lower else means.idxmax()
        for _, r in sub.iterrows():
            cell = _fmt(r[f"{metric}_mean"], r[f"{metric}_sd"], digits)
            if mark_best and r["method"] == best and len(sub) > 1:
                cell = f"**{cell}**"
            table.loc[t, r["method"]] = cell
    table.index.name = "task"
    return table.fillna("")


def to_markdown(table: Any) -> str:
    """A pipe table (GitHub markdown) of a :func:`pivot` result, without extra dependencies."""
    cols = [table.index.name or ""] + [str(c) for c in table.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for idx, row in table.iterrows():
        lines.append("| " + " | ".join([str(idx)] + [str(v) for v in row.tolist()]) + " |")
    return "\n".join(lines)


def win_counts(results: Any, metric: str = "mmd2") -> Any:
    """How often each method is best per (task, seed) on ``metric``: a robustness summary."""
    df = results[results["status"] == "ok"] if "status" in results.columns else results
    lower = metric in LOWER_IS_BETTER
    idx = (df.groupby(["task", "seed"])[metric].idxmin() if lower
           else df.groupby(["task", "seed"])[metric].idxmax())
    return df.loc[idx.dropna().astype(int), "method"].value_counts().rename("wins")
