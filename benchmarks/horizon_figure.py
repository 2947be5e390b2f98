"""Horizon sweeps on real time courses: error vs gap (hours) per method, trackability on the same axis.

For each horizon config (``configs/chu_horizon.yaml``, ``kouno_horizon.yaml``,
``schiebinger_horizon.yaml``) and its finished bench folder, this script writes

- ``horizon_<metric>.csv``: one row per (task group, time point, method): the gap in hours,
  the raw metric and its calibrated score ``s = (u - b) / (r - b)`` (mean and sd over seeds);
- ``recoverability.csv``: one row per time point: the trackability estimate of the diagnostics
  (:func:`trackability.diagnostics.estimate_recoverability`) on that time point's *training* cells
  (control = the earliest time point, treated = this one; the bench's split and preprocessing of
  ``--seed``): the predicted fraction of cells an exact matching recovers at the measured gap, its
  interval, and ``gap_at_level_h``, the gap (h) at which it falls to one half (the critical gap);
- ``horizon_<name>.png``: per task group, the metric vs the gap per method (left axis) and the
  predicted recovery (right axis, black, with its interval); the dotted vertical line is the
  critical gap forecast from the *shortest* gap alone.

Usage::

    python benchmarks/horizon_figure.py \\
        --run configs/chu_horizon.yaml results/chu_horizon \\
        --run configs/kouno_horizon.yaml results/kouno_horizon \\
        --run configs/schiebinger_horizon.yaml results/schiebinger_horizon \\
        --out docs/results/horizon
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import numpy as np

#: y range of the calibrated panels (values outside are off the plot, not dropped from the csv)
CAL_YLIM = (-2.0, 1.5)
METHODS = ("identity", "meanshift", "laot", "laot_validated", "flow_matching")


def horizon_table(results: Any, metric: str = "mmd2") -> Any:
    """Raw and calibrated ``metric`` per (task group, time point, method), sorted by gap.

    Parameters
    ----------
    results
        A bench results table whose rows carry ``meta.gap_h`` (the horizon configs' tasks).
    metric
        Metric column.

    Returns
    -------
    pandas.DataFrame
        ``task_group, task, gap_h, method, mean, sd, n_seeds, calibrated_mean, calibrated_sd``
        (calibrated: NaN for the mean shift itself, the baseline).

    """

    from trackability.experiments.tables import _ok, calibrated

    df = _ok(results)
    for col in ("task", "method", "seed", "task_group", "meta.gap_h", metric):
        if col not in df.columns:
            raise ValueError(f"results: column {col!r} missing (is this a horizon bench table?).")
    raw = (df.groupby(["task_group", "task", "meta.gap_h", "method"], sort=False)[metric]
           .agg(mean="mean", sd="std", n_seeds="count").reset_index())
    cal = calibrated(df, metric)
    if not cal.empty:
        cal = (cal.groupby(["task", "method"])[metric]
               .agg(calibrated_mean="mean", calibrated_sd="std").reset_index())
        raw = raw.merge(cal, on=["task", "method"], how="left")
    else:
        raw["calibrated_mean"] = np.nan
        raw["calibrated_sd"] = np.nan
    raw = raw.rename(columns={"meta.gap_h": "gap_h"})
    return raw.sort_values(["task_group", "gap_h", "task", "method"],
                           kind="stable").reset_index(drop=True)


def recoverability_table(config: str | os.PathLike, *, seed: int = 0, n_sim: int = 8,
                         max_cells: int = 1000) -> Any:
    """The trackability estimate per time point of a horizon config, on its training cells.

    Parameters
    ----------
    config
        A horizon config (every task carries ``meta.gap_h``).
    seed
        The split seed (the bench's split and preprocessing of this seed).
    n_sim, max_cells
        Passed to :func:`~trackability.diagnostics.estimate_recoverability`.

    Returns
    -------
    pandas.DataFrame
        ``task_group, task, gap_h, n_control, n_treated, recovery, lo, hi, gap_at_level_h,
        noise_scale``, sorted by task group and gap.

    """
    import pandas as pd

    from trackability.diagnostics import estimate_recoverability
    from trackability.experiments.config import load_config

    cfg = load_config(config)
    rows = []
    for t in cfg.tasks:
        adata = t.load_data()
        for name in t.subtask_names():
            task, _, p = t.prepare(name, seed, adata)
            gap = task.meta.get("gap_h")
            if gap is None:
                raise ValueError(f"{config}: task {t.name}/{name} has no meta.gap_h; "
                                 "not a horizon config.")
            est = estimate_recoverability(p.source_train, p.target_train, gap=float(gap),
                                          n_sim=n_sim, max_cells=max_cells,
                                          cell_confidence=False, random_state=seed)
            rows.append({"task_group": t.name, "task": f"{t.name}/{name}", "gap_h": float(gap),
                         "n_control": int(p.source_train.shape[0]),
                         "n_treated": int(p.target_train.shape[0]), "n_matched": est.n,
                         "recovery": est.recovery, "lo": est.interval[0], "hi": est.interval[1],
                         "gap_at_level_h": est.gap_at_level, "noise_scale": est.noise_scale})
    return pd.DataFrame(rows).sort_values(["task_group", "gap_h", "task"],
                                          kind="stable").reset_index(drop=True)


def plot_horizon(table: Any, rec: Any, *, metric: str = "mmd2", calibrated: bool = False,
                 methods: tuple[str, ...] = METHODS, path: str | os.PathLike | None = None) -> Any:
    """One panel per task group: ``metric`` vs gap (h) per method; recovery on a twin axis."""
    import matplotlib
    import matplotlib.pyplot as plt

    from trackability.metrics.registry import get_metric

    groups = list(dict.fromkeys(table["task_group"]))
    fig, axes = plt.subplots(1, len(groups), figsize=(max(6.0, 4.6 * len(groups)), 4.2),
                             squeeze=False)
    style = {m: (f"C{i}", "os^vD"[i % 5], "-" if i % 2 == 0 else "--")
             for i, m in enumerate(methods)}
    ycol, scol = ("calibrated_mean", "calibrated_sd") if calibrated else ("mean", "sd")
    for ax, g in zip(axes[0], groups, strict=True):
        sub = table[table["task_group"] == g]
        lows = []
        for m in [m for m in methods if m in set(sub["method"])]:
            s = sub[sub["method"] == m].sort_values("gap_h")
            if s[ycol].isna().all():
                continue
            color, marker, ls = style[m]
            ax.errorbar(s["gap_h"], s[ycol], yerr=s[scol].fillna(0), marker=marker, ms=4,
                        color=color, ls=ls, capsize=2, label=m)
            lows.append(float(np.nanmin(s[ycol])))
        ax.set_xscale("log")
        gaps = sorted(set(sub["gap_h"]))
        ax.set_xticks(gaps, [f"{g:g}" for g in gaps])
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.set_xlim(min(gaps) / 1.5, max(gaps) * 1.5)
        if not calibrated and metric in ("mmd2", "energy", "w2"):
            ax.set_yscale("symlog", linthresh=1e-3)
            ax.set_ylim(bottom=-1e-3 if lows and min(lows) < 0 else 0)
        elif calibrated:
            # s is unstable where the mean shift is already near the ceiling (r - b -> 0):
            # the view is clipped to CAL_YLIM, the csv has every value
            ax.axhline(0, color="0.6", lw=0.8)
            ax.axhline(1, color="0.6", lw=0.8)
            ax.set_ylim(*CAL_YLIM)
        ax.set_xlabel("gap (h)")
        ax.set_ylabel(f"{get_metric(metric).label}"
                      + (f" calibrated (view {CAL_YLIM})" if calibrated else ""))
        ax.set_title(g)
        r = rec[rec["task_group"] == g].sort_values("gap_h")
        if len(r):
            ax2 = ax.twinx()
            ax2.plot(r["gap_h"], r["recovery"], "k--", marker="s", ms=4,
                     label="predicted recovery")
            ax2.fill_between(r["gap_h"], r["lo"], r["hi"], color="k", alpha=0.12)
            ax2.set_ylim(-0.02, 1.02)
            ax2.set_ylabel("predicted recovery of exact matching")
            crit = float(r["gap_at_level_h"].iloc[0])
            if np.isfinite(crit) and crit > 0:
                ax.axvline(crit, color="k", ls=":", lw=1)
                ax2.annotate(f"critical gap\n{crit:.3g} h", (crit, 0.55), fontsize=7,
                             ha="left")
    h1, l1 = axes[0][0].get_legend_handles_labels()
    fig.legend(h1 + [plt.Line2D([], [], color="k", ls="--", marker="s")],
               l1 + ["predicted recovery (right axis)"], loc="lower center",
               ncol=3, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.14, 1, 1))
    if path is not None:
        fig.savefig(path, dpi=130)
    return fig


def main(argv: list[str] | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from trackability.experiments.tables import read_results, to_markdown

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", nargs=2, action="append", metavar=("CONFIG", "RESULTS"),
                    required=True, help="a horizon config and its bench results folder")
    ap.add_argument("--out", required=True, help="folder for the tables and figures")
    ap.add_argument("--seed", type=int, default=0, help="split seed of the trackability estimate")
    ap.add_argument("--metric", default="mmd2")
    ap.add_argument("--reuse-recoverability", action="store_true",
                    help="read the estimates of OUT/recoverability.csv (written by an earlier "
                         "run with the same configs and seed) instead of recomputing them")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tabs, recs = [], []
    for config, res in args.run:
        name = Path(config).stem
        tab = horizon_table(read_results(res), args.metric).assign(config=name)
        if args.reuse_recoverability:
            old = pd.read_csv(out / "recoverability.csv")
            rec = old[old["config"] == name].reset_index(drop=True)
            if rec.empty:
                raise SystemExit(f"{out / 'recoverability.csv'} has no rows of {name}; "
                                 "run without --reuse-recoverability.")
        else:
            rec = recoverability_table(config, seed=args.seed).assign(config=name)
        for cal in (False, True):
            fig = plot_horizon(tab, rec, metric=args.metric, calibrated=cal,
                               path=out / f"horizon_{name}{'_calibrated' if cal else ''}.png")
            plt.close(fig)
        tabs.append(tab)
        recs.append(rec)
    tab, rec = pd.concat(tabs, ignore_index=True), pd.concat(recs, ignore_index=True)
    tab.to_csv(out / f"horizon_{args.metric}.csv", index=False)
    rec.to_csv(out / "recoverability.csv", index=False)
    shown = rec.drop(columns=["config"]).copy()
    for c in ("recovery", "lo", "hi", "noise_scale"):
        shown[c] = shown[c].map(lambda v: f"{v:.3f}")
    shown["gap_at_level_h"] = shown["gap_at_level_h"].map(lambda v: f"{v:.3g}")
    (out / "recoverability.md").write_text(to_markdown(shown.set_index("task")) + "\n")
    print(to_markdown(shown.set_index("task")))


if __name__ == "__main__":
    main()
