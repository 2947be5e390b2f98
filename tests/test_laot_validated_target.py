"""benchmarks/laot_validated_target.py: the validated-LAOT target of issue 12, per task."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from _scripts import load_benchmark

REPO = Path(__file__).resolve().parents[1]


def _load():
    return load_benchmark("laot_validated_target")


def _rows(task, ms, la, lv, alpha=0.0):
    out = []
    for seed, (a, b, c) in enumerate(zip(ms, la, lv, strict=True)):
        out += [{"task": task, "method": "meanshift", "seed": seed, "mmd2": a, "status": "ok",
                 "chosen": None},
                {"task": task, "method": "laot", "seed": seed, "mmd2": b, "status": "ok",
                 "chosen": None},
                {"task": task, "method": "laot_validated", "seed": seed, "mmd2": c,
                 "status": "ok", "chosen": json.dumps({"alpha": alpha})}]
    return out


def test_target_table_flags_worse_and_strictly_better_tasks():
    import pandas as pd

    t = _load()
    ms = np.array([0.010, 0.012, 0.011, 0.013, 0.009])
    rows = (
        # a translation: plain LAOT worse, validated = mean shift + a little
        _rows("shift", ms, ms + 0.01, ms + 0.0001, alpha=1e6)
        # more than a translation: plain LAOT better on every seed, and so is the validated
        + _rows("linear", ms, ms - 0.005, ms - 0.004 + [0, 1e-4, -1e-4, 2e-4, 0], alpha=0.0)
        # validated much worse than the mean shift on every seed (beyond its sd)
        + _rows("bad", ms, ms + 0.01, ms + 0.01 + [0, 1e-4, 2e-4, 3e-4, 4e-4], alpha=100.0)
    )
    tab = t.target_table(pd.DataFrame(rows)).set_index("task")
    assert not tab.loc["shift", "worse_1sd"]
    assert not tab.loc["shift", "beyond_translation"]
    assert tab.loc["linear", "beyond_translation"] and tab.loc["linear", "strictly_better"]
    assert tab.loc["bad", "worse_1sd"] and tab.loc["bad", "worse_1sd_paired"]
    assert tab.loc["bad", "diff"] == pytest.approx(0.0102)
    assert tab.loc["bad", "sd_validated"] == pytest.approx(np.std(ms + [0, 1e-4, 2e-4, 3e-4, 4e-4],
                                                                  ddof=1))
    assert tab.loc["shift", "alpha"] == "1e+06 x5"
    v = t.verdict(tab.reset_index())
    assert v["worse_1sd"] == ["bad"] and v["beyond_translation"] == ["linear"]
    assert v["beyond_translation_not_better"] == [] and v["met"] is False
    assert t.verdict(tab.drop(index="bad").reset_index())["met"] is True


def test_real_summary_counts_wins_and_losses_against_the_mean_shift():
    import pandas as pd

    rs = load_benchmark("real_summary")
    ms = np.array([0.010, 0.012, 0.011, 0.013, 0.009])
    rows = (_rows("a", ms, ms + 0.01 + [0, 1e-3, 2e-3, 0, 1e-3], ms - 0.005 + [0, 1e-4, 0, 2e-4, 0])
            + _rows("b", ms, ms + 0.02 + [0, 1e-3, 0, 2e-3, 0], ms + [1e-4, -1e-4, 0, 2e-4, -2e-4]))
    df = pd.DataFrame(rows).assign(**{"ceiling.mmd2": 0.0, "fit_cpu_s": 1.0})
    tab = rs.summary(df).set_index("method")
    assert set(tab.index) == {"laot", "laot_validated"}
    assert tab.loc["laot", "beats_meanshift"] == 0 and tab.loc["laot", "worse_than_meanshift"] == 2
    assert tab.loc["laot_validated", "beats_meanshift"] == 1
    assert tab.loc["laot_validated", "worse_than_meanshift"] == 0
    # calibrated score of the means with a zero ceiling: 1 - mean(u) / mean(b); median over tasks
    want = np.median([1 - (ms - 0.005 + [0, 1e-4, 0, 2e-4, 0]).mean() / ms.mean(),
                      1 - (ms + [1e-4, -1e-4, 0, 2e-4, -2e-4]).mean() / ms.mean()])
    assert tab.loc["laot_validated", "median_calibrated_of_means"] == pytest.approx(want)


def test_target_table_checks_another_method_in_the_validated_role():
    import pandas as pd

    t = _load()
    ms = np.array([0.010, 0.012, 0.011, 0.013, 0.009])
    rows = _rows("bad", ms, ms + 0.01, ms + 0.01 + [0, 1e-4, 2e-4, 3e-4, 4e-4], alpha=100.0)
    rows += [{"task": "bad", "method": "variant", "seed": s, "mmd2": float(v), "status": "ok",
              "chosen": json.dumps({"alpha": "inf"})} for s, v in enumerate(ms)]
    df = pd.DataFrame(rows)
    assert t.target_table(df).loc[0, "worse_1sd"]
    var = t.target_table(df, validated="variant")
    assert not var.loc[0, "worse_1sd"] and var.loc[0, "diff"] == 0.0
    assert var.loc[0, "alpha"] == "inf x5"
