"""Summary tables of a benchmark: mean +- sd over seeds per task and method.

Beside them, the readings that give them meaning:

- the replicate ceiling (``ceiling.<metric>`` of each row: the metric between two halves of the
  observed treated cells, once per task and seed) as the ``replicate`` column of every raw table;
- :func:`calibrated`: ``s = (u - b) / (r - b)`` per task and seed against the mean shift ``b``
  and the ceiling ``r``, summarised by :func:`pivot_calibrated`;
- :func:`paired_tests`: does each method beat the mean shift over seeds (Wilcoxon, paired t);
- :func:`rank_table`: the rank metric across the tasks of a data set, from the per-task means
  each row saves.

Directions and labels come from :mod:`trackability.metrics.registry`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from trackability.metrics.registry import get_metric, metric_names

#: Metrics where smaller is better (all others: larger is better), from the metric registry.
LOWER_IS_BETTER = {n for n in metric_names() if not get_metric(n).higher_is_better}

#: The pseudo-method of the replicate ceiling and the baseline of the calibrated score.
CEILING = "replicate"
BASELINE = "meanshift"


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

    df = results
    if "status" in df.columns:
        df = df[df["status"] == "ok"]
    if metrics is None:
        metrics = [m for m in metric_names("row") if m in df.columns and df[m].notna().any()]
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


def pivot(
    results: Any,
    metric: str = "mmd2",
    *,
    digits: int = 4,
    mark_best: bool = True,
    higher: bool | None = None,
) -> Any:
    """A tasks x methods table of ``"mean ± sd"`` strings for one metric (best per task in bold).

    ``higher`` overrides the metric's direction from the registry (e.g. for calibrated scores).
    The best method per task (lowest mean, or highest for R^2/Pearson; every method tied with it
    to 1e-6 relative) is wrapped in ``**``; the
    replicate ceiling (the rows' ``ceiling.<metric>``), when present, is the last column
    ``replicate`` and never marked best.
    """
    summ = summarize(results, [metric])
    lower = metric in LOWER_IS_BETTER if higher is None else not higher
    tasks = list(dict.fromkeys(summ["task"]))
    methods = list(dict.fromkeys(summ["method"]))
    import pandas as pd

    table = pd.DataFrame(index=tasks, columns=methods, dtype=object)
    ceil = _ceiling_summary(results, metric)
    if ceil is not None:  # the ceiling last: a reference, not a competitor
        table[CEILING] = ""
        for t, (mean, sd) in ceil.items():
            if t in table.index:
                table.loc[t, CEILING] = _fmt(mean, sd, digits)
    for t in tasks:
        sub = summ[summ["task"] == t]
        means = sub.set_index("method")[f"{metric}_mean"]
        best = (means.min() if lower else means.max()) if means.notna().any() else None
        for _, r in sub.iterrows():
            cell = _fmt(r[f"{metric}_mean"], r[f"{metric}_sd"], digits)
            # ties are all marked: a validated LAOT that kept alpha = inf is the mean shift
            # (to 1e-6 relative: reruns of one method under another numpy/BLAS differ by ~1e-8)
            tie = best is not None and np.isclose(r[f"{metric}_mean"], best, rtol=1e-6, atol=0.0)
            if mark_best and tie and means.notna().sum() > 1:
                cell = f"**{cell}**"
            table.loc[t, r["method"]] = cell
    table.index.name = "task"
    return table.fillna("")


def _ceiling_summary(results: Any, metric: str) -> dict[str, tuple[float, float]] | None:
    """Mean and sd over seeds of the replicate ceiling ``ceiling.<metric>`` per task (or None)."""
    col = f"ceiling.{metric}"
    df = _ok(results)
    if col not in df.columns or not df[col].notna().any():
        return None
    per_seed = df.groupby(["task", "seed"], sort=False)[col].first().reset_index()
    g = per_seed.groupby("task", sort=False)[col]
    return {t: (float(m), float(s)) for t, m, s in zip(
        g.mean().index, g.mean().to_numpy(), g.std(ddof=1).to_numpy(), strict=True)}


def to_markdown(table: Any) -> str:
    """A pipe table (GitHub markdown) of a :func:`pivot` result, without extra dependencies."""
    cols = [table.index.name or ""] + [str(c) for c in table.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for idx, row in table.iterrows():
        lines.append("| " + " | ".join([str(idx)] + [str(v) for v in row.tolist()]) + " |")
    return "\n".join(lines)


def win_counts(results: Any, metric: str = "mmd2") -> Any:
    """How often each method is best per (task, seed) on ``metric``: a robustness summary."""
    df = _ok(results)
    lower = metric in LOWER_IS_BETTER
    idx = (df.groupby(["task", "seed"])[metric].idxmin() if lower
           else df.groupby(["task", "seed"])[metric].idxmax())
    return df.loc[idx.dropna().astype(int), "method"].value_counts().rename("wins")


def _ok(results: Any) -> Any:
    return results[results["status"] == "ok"] if "status" in results.columns else results


def _role(df: Any) -> Any:
    """The registry name of each row's method (``method_key`` when present, else ``method``)."""
    if "method_key" in df.columns:
        return df["method_key"].fillna(df["method"]).astype(str).str.lower()
    return df["method"].astype(str).str.lower()


def calibrated(results: Any, metric: str = "mmd2", *, baseline: str = BASELINE) -> Any:
    """Calibrated score ``s = (u - b) / (r - b)`` of every row, per (task, seed).

    ``b`` is the ``baseline`` method's value (the mean shift) and ``r`` the replicate ceiling
    (the row's ``ceiling.<metric>`` column) on the same task and seed. ``s = 0``: no better than the mean
    shift; ``s = 1``: as close to the truth as two halves of the observed cells are to each other.

    Returns
    -------
    pandas.DataFrame
        Columns ``task, method, seed, <metric>`` (the calibrated score) for every method other
        than the baseline; empty when the table has no ceiling columns (older results).

    """
    import pandas as pd

    from trackability.metrics.calibration import calibrated_score

    df = _ok(results)
    if metric not in df.columns:
        raise ValueError(f"metric column {metric!r} not in the results table.")
    col = f"ceiling.{metric}"
    ref = df.assign(_role=_role(df))
    b = ref[ref["_role"] == baseline].groupby(["task", "seed"])[metric].mean().rename("_b")
    rows = ref[ref["_role"] != baseline]
    if col not in df.columns or b.empty or rows.empty:
        return pd.DataFrame(columns=["task", "method", "seed", metric])
    r = ref.groupby(["task", "seed"])[col].first().rename("_r")
    rows = rows.join(b, on=["task", "seed"]).join(r, on=["task", "seed"])
    out = rows[["task", "method", "seed"]].copy()
    out[metric] = calibrated_score(rows[metric].to_numpy(), rows["_b"].to_numpy(),
                                   rows["_r"].to_numpy())
    return out.reset_index(drop=True)


def pivot_calibrated(results: Any, metric: str = "mmd2", *, digits: int = 2) -> Any:
    """A tasks x methods table of the calibrated score (mean ± sd over seeds; best in bold)."""
    import pandas as pd

    cal = calibrated(results, metric)
    if cal.empty:
        return pd.DataFrame()
    cal = cal.assign(status="ok")
    tab = pivot(cal, metric, digits=digits, higher=True)
    return tab


def paired_tests(results: Any, metric: str = "mmd2", *, baseline: str = BASELINE) -> Any:
    """Does each method beat the baseline over seeds? One-sided Wilcoxon and paired t per task.

    Returns
    -------
    pandas.DataFrame
        ``task, method, n_seeds, mean_improvement, wilcoxon_p, ttest_p`` (improvement: positive
        when the method is better, in the metric's direction).

    """
    import pandas as pd

    from trackability.metrics.significance import paired_test

    df = _ok(results)
    df = df.assign(_role=_role(df))
    hib = get_metric(metric).higher_is_better
    out = []
    for task, grp in df.groupby("task", sort=False):
        base = grp[grp["_role"] == baseline].groupby("seed")[metric].mean()
        if base.empty:
            continue
        for method, sub in grp[grp["_role"] != baseline].groupby(
                "method", sort=False):
            vals = sub.groupby("seed")[metric].mean()
            seeds = sorted(set(vals.index) & set(base.index))
            res = paired_test(vals.loc[seeds].to_numpy(), base.loc[seeds].to_numpy(),
                              higher_is_better=hib)
            out.append({"task": task, "method": method, "n_seeds": res.n,
                        "mean_improvement": res.mean_improvement,
                        "wilcoxon_p": res.wilcoxon_p, "ttest_p": res.ttest_p})
    return pd.DataFrame(out, columns=["task", "method", "n_seeds", "mean_improvement",
                                      "wilcoxon_p", "ttest_p"])


def rank_table(results: Any) -> Any:
    """The rank metric and centroid accuracy across the tasks of each task group.

    Every row saves its mean prediction and the observed mean (``pred_mean``, ``target_mean``,
    in the scoring space). Within one task group, method and seed, each task's prediction is
    compared with the observed means of all the group's tasks (:func:`~trackability.metrics.
    calibration.rank_metrics`). Only groups whose tasks share one scoring space qualify: scored
    in the input space (``score_space: input``) or with no preprocessing step, and the same
    number of scoring features; others are left out (a per-task PCA or standardisation gives each
    task its own coordinates).

    Returns
    -------
    pandas.DataFrame
        ``task_group, method, n_tasks, n_seeds, rank_mean, rank_sd, centroid_acc_mean,
        centroid_acc_sd`` (mean and sd over seeds of the per-seed means over tasks).

    """
    import json

    import pandas as pd

    from trackability.metrics.calibration import rank_metrics

    cols = ["task_group", "method", "n_tasks", "n_seeds", "rank_mean", "rank_sd",
            "centroid_acc_mean", "centroid_acc_sd"]
    df = _ok(results)
    need = {"pred_mean", "target_mean", "task_group"}
    if not need <= set(df.columns):
        return pd.DataFrame(columns=cols)
    df = df[df["pred_mean"].notna() & df["target_mean"].notna()]
    shared = (df.get("score_space", pd.Series("model", index=df.index)) == "input") | (
        df.get("preprocessing", pd.Series("[]", index=df.index)).fillna("[]") == "[]")
    df = df[shared]
    out = []
    for (group, method), grp in df.groupby(["task_group", "method"], sort=False):
        per_seed = []
        for _, sub in grp.groupby("seed"):
            sub = sub.drop_duplicates("task")
            if len(sub) < 2:
                continue
            pm = [json.loads(v) for v in sub["pred_mean"]]
            tm = [json.loads(v) for v in sub["target_mean"]]
            if len({len(v) for v in pm + tm}) != 1:
                continue
            rank, hit = rank_metrics(np.array(pm), np.array(tm))
            per_seed.append((len(sub), rank.mean(), hit.mean()))
        if not per_seed:
            continue
        arr = np.array(per_seed)

        def sd(v: np.ndarray) -> float:
            return float(np.std(v, ddof=1)) if v.size > 1 else float("nan")

        out.append({"task_group": group, "method": method, "n_tasks": int(arr[:, 0].max()),
                    "n_seeds": len(per_seed), "rank_mean": float(arr[:, 1].mean()),
                    "rank_sd": sd(arr[:, 1]), "centroid_acc_mean": float(arr[:, 2].mean()),
                    "centroid_acc_sd": sd(arr[:, 2])})
    return pd.DataFrame(out, columns=cols)
