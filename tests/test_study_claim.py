"""benchmarks/study_claim.py: the original study's method ordering, tested per task."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from _scripts import load_benchmark

REPO = Path(__file__).resolve().parents[1]


def _load():
    return load_benchmark("study_claim")


def test_claims_counted_with_a_one_sided_paired_t_test():
    mod = _load()
    rng = np.random.default_rng(0)
    rows = []
    # task t0: compact clearly better; t1: clearly worse; t2: the same up to noise
    for task, shift in (("t0", -0.05), ("t1", 0.05), ("t2", 0.0)):
        base = rng.uniform(0.1, 0.2, 5)
        for seed in range(5):
            rows.append({"task": task, "method": "cellot", "seed": seed, "mmd2": base[seed],
                         "status": "ok"})
            rows.append({"task": task, "method": "compact_cellot", "seed": seed,
                         "mmd2": base[seed] + shift + rng.normal(0, 0.01 if shift else 0.02),
                         "status": "ok"})
    df = pd.DataFrame(rows)
    tab = mod.claim_table(df, [("compact_cellot", "cellot"), ("laot", "cellot")])
    first = tab.iloc[0]
    # independent: scipy's paired t-test, one-sided, per task
    want_holds = want_rev = 0
    for _, g in df.groupby("task"):
        w = g.pivot_table(index="seed", columns="method", values="mmd2")
        want_holds += stats.ttest_rel(w["compact_cellot"], w["cellot"], alternative="less").pvalue <= 0.05
        want_rev += stats.ttest_rel(w["cellot"], w["compact_cellot"], alternative="less").pvalue <= 0.05
    assert (first["tasks"], first["holds"], first["reversed"]) == (3, want_holds, want_rev)
    assert (want_holds, want_rev) == (1, 1)
    assert first["undecided"] == 1
    # a method the results lack: the claim is reported as not testable
    assert tab.iloc[1]["tasks"] == 0 and pd.isna(tab.iloc[1]["holds"])
