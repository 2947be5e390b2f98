"""One summary line per (config, method) of finished bench results: the docs' overview table.

Per method, over the tasks of a results folder: on how many tasks it beats the mean shift
(one-sided paired t-test over seeds, p <= 0.05, on MMD²), on how many it is worse (the same test
the other way), the median over tasks of its mean calibrated MMD² score (per seed, as the report's
tables), the median over tasks of the calibrated score of the means over seeds
``(mean u - mean b) / (mean r - mean b)`` (steadier where a seed's ceiling is within noise of the
mean shift, which makes that seed's ratio explode), and its median CPU seconds per fit.

Usage::

    python benchmarks/real_summary.py docs/results/bodenmiller_within docs/results/kouno_horizon ...
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np


def summary(results: Any, metric: str = "mmd2", *, level: float = 0.05) -> Any:
    """``method, tasks, beats_meanshift, worse_than_meanshift, median_calibrated,
    median_calibrated_of_means, median_fit_cpu_s``, one row per method other than the mean shift."""
    import pandas as pd

    from trackability.experiments.tables import _ok, calibrated
    from trackability.metrics.calibration import calibrated_score
    from trackability.metrics.registry import get_metric
    from trackability.metrics.significance import paired_test

    df = _ok(results)
    hib = get_metric(metric).higher_is_better
    cal = calibrated(df, metric)
    cal_task = cal.groupby(["method", "task"])[metric].mean() if not cal.empty else None
    base = df[df["method"] == "meanshift"].set_index(["task", "seed"])[metric]
    rows = []
    for method in dict.fromkeys(df["method"]):
        if method == "meanshift":
            continue
        sub = df[df["method"] == method]
        n_better = n_worse = 0
        of_means = []
        for task, grp in sub.groupby("task"):
            u = grp.set_index("seed")[metric]
            seeds = [s for s in u.index if (task, s) in base.index]
            u, b = u.loc[seeds].to_numpy(float), base.loc[[(task, s) for s in seeds]].to_numpy(float)
            n_better += paired_test(u, b, higher_is_better=hib).ttest_p <= level
            n_worse += paired_test(u, b, higher_is_better=not hib).ttest_p <= level
            col = f"ceiling.{metric}"
            if col in grp.columns and grp[col].notna().any():
                r = float(grp[col].mean())
                of_means.append(calibrated_score(float(u.mean()), float(b.mean()), r))
        c = (cal_task.loc[method] if cal_task is not None
             and method in cal_task.index.get_level_values(0) else pd.Series(dtype=float))
        cpu = sub["fit_cpu_s"] if "fit_cpu_s" in sub.columns else pd.Series(dtype=float)
        rows.append({
            "method": method, "tasks": int(sub["task"].nunique()),
            "beats_meanshift": int(n_better), "worse_than_meanshift": int(n_worse),
            "median_calibrated": float(np.nanmedian(c)) if len(c) else float("nan"),
            "median_calibrated_of_means": (float(np.nanmedian(of_means)) if of_means
                                           else float("nan")),
            "median_fit_cpu_s": float(np.median(cpu)) if len(cpu) else float("nan"),
        })
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> None:
    import pandas as pd

    from trackability.experiments.tables import read_results, to_markdown

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results", nargs="+")
    ap.add_argument("--metric", default="mmd2")
    args = ap.parse_args(argv)
    tabs = [summary(read_results(r), args.metric).assign(config=Path(r).name)
            for r in args.results]
    tab = pd.concat(tabs, ignore_index=True)
    for c in ("median_calibrated", "median_calibrated_of_means"):
        tab[c] = tab[c].map(lambda v: f"{v:.2f}")
    tab["median_fit_cpu_s"] = tab["median_fit_cpu_s"].map(lambda v: f"{v:.3g}")
    print(to_markdown(tab.set_index("config")))


if __name__ == "__main__":
    main()
