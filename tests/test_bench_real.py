"""``configs/ci_real.yaml``: one task of each benchmark kind on the real files, end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from trackability.data.task_builders import build_task
from trackability.experiments.bench import run_benchmark
from trackability.experiments.config import load_config

pytestmark = pytest.mark.realdata
CONFIG = Path(__file__).resolve().parents[1] / "configs" / "ci_real.yaml"


def test_ci_real_runs_every_kind(real_data_dir, tmp_path):
    from trackability.metrics import mmd2

    cfg = load_config(CONFIG)
    df = run_benchmark(cfg, tmp_path, progress=False)
    assert len(df) == 5 * 5 * 2 and set(df["status"]) == {"ok"}
    by_task = df.groupby("task_group")
    assert by_task["meta.split"].first().to_dict() == {
        "bm_within": "within", "bm_replicate": "replicate", "kang3_celltype": "holdout",
        "kouno": "within", "wot2017": "within"}
    gaps = by_task["meta.gap_h"].first()
    assert gaps["kouno"] == 6.0 and gaps["wot2017"] == 48.0
    assert set(df.loc[df["task_group"] == "wot2017", "meta.replicate_key"]) == {"capture"}
    # max_cells caps each group before the split: 300 control + 300 treated cells
    w = df[df["task_group"] == "bm_within"].iloc[0]
    assert w["n_source_train"] + w["n_source_val"] + w["n_source_test"] == 300
    # identity's score is the untouched test split's MMD^2 (independent rebuild of one task)
    row = df[(df["task"] == "kouno/time_h 6") & (df["method"] == "identity") & (df["seed"] == 1)]
    t = build_task("kouno", "time_h 6", 1, treated=[6.0])
    from trackability.data.preprocessing import Preprocessor

    p = Preprocessor(["standardize"]).fit_task(t)
    want = mmd2(p.source_test, p.target_test, gamma=float(row["gamma"].iloc[0]))
    assert float(row["mmd2"].iloc[0]) == pytest.approx(want, rel=1e-9)
    # validated LAOT chose its alpha (3-fold one-SE over the training cells); where it kept
    # alpha = inf its prediction is the mean shift's, so their scores agree exactly
    lv = df[df["method"] == "laot_validated"]
    assert lv["chosen"].notna().all()
    ms = df[df["method"] == "meanshift"].set_index(["task", "seed"])["mmd2"]
    inf = lv[lv["chosen"].map(lambda c: json.loads(c)["alpha"] == "inf")]
    for _, r in inf.iterrows():
        assert r["mmd2"] == pytest.approx(ms[(r["task"], r["seed"])], rel=1e-12, abs=1e-15)
    assert np.isfinite(df["mmd2"]).all()
    # the day-2 captures of wot2017 are replicate labels (for the ceiling), not contexts: flow
    # matching, which conditions on context labels, must fit it as one population
    fm = df[(df["method"] == "flow_matching") & (df["task_group"] == "wot2017")]
    assert len(fm) == 2 and np.isfinite(fm["ceiling.mmd2"]).all()
