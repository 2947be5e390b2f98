"""Issue 12's target for the validated LAOT, checked on finished bench results.

Target: on no task is the validated LAOT (alpha chosen on the validation split) worse than the
mean shift by more than one standard deviation over seeds, and it is strictly better where the
effect is more than a translation.

Per task (from the rows of ``meanshift``, ``laot`` and ``laot_validated``, paired by seed):

- ``diff`` = mean over seeds of (validated LAOT - mean shift) of the metric (MMD²: lower is
  better, so ``diff > 0`` is worse); ``sd_validated`` the sd over seeds of the validated LAOT,
  ``sd_diff`` that of the paired difference; ``worse_1sd``: ``diff > sd_validated`` (how a
  reader of the mean ± sd table sees it) or ``diff > sd_diff`` (paired);
- ``beyond_translation``: the plain LAOT (a full linear map) beats the mean shift, one-sided
  paired t-test p <= 0.05 over seeds: the data say the effect is more than a translation;
- ``strictly_better``: the validated LAOT beats the mean shift, one-sided paired t-test
  p <= 0.05 (and ``wilcoxon_p``: 0.031 is the smallest possible with 5 seeds);
- ``alpha``: the alphas chosen over seeds.

``--validated NAME`` checks another method of the results (e.g. a variant of the selection rule)
in the role of ``laot_validated``.

Usage::

    python benchmarks/laot_validated_target.py results/sachs results/bodenmiller_within ... \\
        [--out docs/results/laot_validated_target.md] [--validated laot_validated]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np


def _alpha(chosen: Any) -> str:
    try:
        return f"{float(json.loads(chosen)['alpha']):g}"
    except (TypeError, ValueError, KeyError, json.JSONDecodeError):
        return "?"


def target_table(results: Any, metric: str = "mmd2", *, level: float = 0.05,
                 validated: str = "laot_validated") -> Any:
    """One row per task: is the validated LAOT within 1 sd of the mean shift, better where it must be.

    ``validated``: the method in the role of the validated LAOT (its column keeps the name
    ``laot_validated``).
    """
    import pandas as pd

    from trackability.experiments.tables import _ok
    from trackability.metrics.significance import paired_test

    df = _ok(results)
    if validated != "laot_validated":
        df = df[df["method"] != "laot_validated"].copy()
        df.loc[df["method"] == validated, "method"] = "laot_validated"
    out = []
    for task, grp in df.groupby("task", sort=False):
        by = {m: grp[grp["method"] == m].set_index("seed") for m in
              ("meanshift", "laot", "laot_validated")}
        if any(v.empty for v in by.values()):
            continue
        seeds = sorted(set(by["meanshift"].index) & set(by["laot"].index)
                       & set(by["laot_validated"].index))
        ms, la, lv = (by[m].loc[seeds, metric].to_numpy(float) for m in
                      ("meanshift", "laot", "laot_validated"))
        d = lv - ms
        sd_v = float(np.std(lv, ddof=1)) if len(seeds) > 1 else np.nan
        sd_d = float(np.std(d, ddof=1)) if len(seeds) > 1 else np.nan
        plain = paired_test(la, ms, higher_is_better=False)
        val = paired_test(lv, ms, higher_is_better=False)
        alphas = Counter(_alpha(c) for c in by["laot_validated"].loc[seeds, "chosen"])
        out.append({
            "task": task, "n_seeds": len(seeds), "meanshift": float(ms.mean()),
            "laot": float(la.mean()), "laot_validated": float(lv.mean()),
            "diff": float(d.mean()), "sd_validated": sd_v, "sd_diff": sd_d,
            "worse_1sd": bool(d.mean() > sd_v), "worse_1sd_paired": bool(d.mean() > sd_d),
            "beyond_translation": bool(plain.ttest_p <= level),
            "strictly_better": bool(val.ttest_p <= level),
            "ttest_p": float(val.ttest_p), "wilcoxon_p": float(val.wilcoxon_p),
            "alpha": ", ".join(f"{a} x{n}" for a, n in sorted(alphas.items())),
        })
    return pd.DataFrame(out)


def verdict(table: Any) -> dict[str, Any]:
    """Counts of the target: tasks worse by > 1 sd; translation-plus tasks not strictly better."""
    beyond = table[table["beyond_translation"]]
    return {
        "tasks": int(len(table)),
        "worse_1sd": table.loc[table["worse_1sd"], "task"].tolist(),
        "worse_1sd_paired": table.loc[table["worse_1sd_paired"], "task"].tolist(),
        "beyond_translation": beyond["task"].tolist(),
        "beyond_translation_not_better": beyond.loc[~beyond["strictly_better"], "task"].tolist(),
        "met": bool(not table["worse_1sd"].any() and beyond["strictly_better"].all()),
    }


def main(argv: list[str] | None = None) -> None:
    from trackability.experiments.tables import read_results, to_markdown

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results", nargs="+", help="bench results folders")
    ap.add_argument("--metric", default="mmd2")
    ap.add_argument("--out", help="markdown file to write")
    ap.add_argument("--validated", default="laot_validated",
                    help="method in the role of the validated LAOT")
    args = ap.parse_args(argv)
    parts = []
    for res in args.results:
        tab = target_table(read_results(res), args.metric, validated=args.validated)
        if tab.empty:
            continue
        shown = tab.assign(config=Path(res).name)
        for c in ("meanshift", "laot", "laot_validated", "diff", "sd_validated", "sd_diff"):
            shown[c] = shown[c].map(lambda v: f"{v:.4f}")
        for c in ("ttest_p", "wilcoxon_p"):
            shown[c] = shown[c].map(lambda v: f"{v:.3g}")
        parts.append(f"### {Path(res).name}\n\n" + to_markdown(shown.drop(columns="config")
                                                              .set_index("task"))
                     + f"\n\n{verdict(tab)}\n")
    text = "\n".join(parts)
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
