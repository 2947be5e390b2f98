"""The data-set registry and ``dataset: anndata``: a user's own .h5ad / .csv benchmarked with no code."""

from __future__ import annotations

import anndata
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from trackability.data import load_anndata
from trackability.data.registry import (
    DatasetOptions,
    dataset_names,
    get_dataset,
    register_dataset,
)
from trackability.data.task_builders import build_task, task_names
from trackability.experiments.config import ConfigError, validate_config


def _frame(rng: np.random.Generator) -> pd.DataFrame:
    n = 120
    cond = np.array(["ctrl", "drugA", "drugB"])[np.arange(n) % 3]
    line = np.array(["L1", "L2"])[(np.arange(n) // 3) % 2]
    x = rng.normal(size=(n, 4))
    x[cond == "drugA", 0] += 2.0
    x[cond == "drugB", 1] -= 1.5
    frame = pd.DataFrame(x, columns=["g0", "g1", "g2", "g3"])
    frame.insert(0, "condition", cond)
    frame.insert(1, "line", line)
    frame["hours"] = np.array([0.0, 6.0, 24.0])[np.arange(n) % 3]
    return frame


def _cfg(path: str, options: dict, split: dict | None = None, seeds: int = 2) -> dict:
    return {
        "name": "user", "seeds": seeds,
        "tasks": [{"name": "mine", "dataset": "anndata", "path": path, "options": options,
                   "split": split or {"kind": "within"}}],
        "methods": [{"name": "identity"}, {"name": "meanshift"}],
        "metrics": {"w2": False},
    }


def test_registry_lists_every_builtin_and_refuses_duplicates():
    names = dataset_names()
    for n in ("sachs", "kang", "synthetic", "anndata", "bodenmiller", "kang3", "chu", "kouno",
              "wot2017", "serum"):
        assert n in names
    with pytest.raises(ValueError, match="already registered"):
        register_dataset("sachs", options=DatasetOptions, tasks=lambda a, s, o: [])
    with pytest.raises(ValueError, match="dataset must be one of"):
        get_dataset("Sachs ")


def test_misspelt_option_is_refused_at_config_load_naming_valid_ones():
    cfg = _cfg("x.csv", {"groupby": "condition", "contrl": "ctrl"})
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['contrl'\].*allowed: .*'control'"):
        validate_config(cfg)
    cfg = _cfg("x.csv", {"groupby": "condition", "time_unit": "weeks"})
    with pytest.raises(ConfigError, match="time_unit"):
        validate_config(cfg)
    bad = {**cfg, "tasks": [{**cfg["tasks"][0], "dataset": "nope"}]}
    with pytest.raises(ConfigError, match="dataset must be one of"):
        validate_config(bad)


def test_load_anndata_csv_and_h5ad_agree(tmp_path, rng):
    frame = _frame(rng)
    frame.to_csv(tmp_path / "cells.csv", index=False)
    a = load_anndata(tmp_path / "cells.csv", keys=["condition", "line"])
    assert list(a.var_names) == ["g0", "g1", "g2", "g3", "hours"]  # numeric columns not in keys
    np.testing.assert_array_equal(a.X[:, :4], frame[["g0", "g1", "g2", "g3"]].to_numpy())
    ad = anndata.AnnData(frame[["g0", "g1", "g2", "g3"]].to_numpy(),
                         obs=frame[["condition", "line", "hours"]].set_axis(
                             [f"c{i}" for i in range(len(frame))]))
    ad.layers["scaled"] = ad.X * 2
    ad.obsm["X_pca"] = ad.X[:, :2]
    ad.write_h5ad(tmp_path / "cells.h5ad")
    b = load_anndata(tmp_path / "cells.h5ad", keys=["condition"], layer="scaled")
    np.testing.assert_array_equal(b.X, 2 * a.X[:, :4])
    c = load_anndata(tmp_path / "cells.h5ad", keys=["condition"], use_rep="X_pca")
    assert c.shape == (120, 2)
    with pytest.raises(ValueError, match="no layer 'nope'"):
        load_anndata(tmp_path / "cells.h5ad", layer="nope")
    with pytest.raises(ValueError, match=r"missing obs key\(s\) 'batch'"):
        load_anndata(tmp_path / "cells.h5ad", keys=["batch"])


def test_label_tasks_split_the_right_cells(tmp_path, rng):
    frame = _frame(rng)
    frame.to_csv(tmp_path / "cells.csv", index=False)
    opts = {"path": str(tmp_path / "cells.csv"), "groupby": "condition", "control": "ctrl",
            "features": ["g0", "g1", "g2", "g3"]}
    assert task_names("anndata", **opts) == ["drugA", "drugB"]
    t = build_task("anndata", "drugA", 3, **opts)
    x = frame[["g0", "g1", "g2", "g3"]].to_numpy()
    rows = {tuple(r) for r in x[frame["condition"] == "drugA"]}
    ctrl = {tuple(r) for r in x[frame["condition"] == "ctrl"]}
    got_t = {tuple(r) for r in np.vstack([t.target_train, t.target_val, t.target_test])}
    got_s = {tuple(r) for r in np.vstack([t.source_train, t.source_val, t.source_test])}
    assert got_t == rows and got_s == ctrl  # every cell once, nothing else
    assert t.sizes()["source_test"] == 8 and t.sizes()["target_test"] == 8  # round(40 * 0.2)
    # per context (within), held-out context, leave-one-out replicate
    ctx = {**opts, "context_key": "line", "treated": ["drugA"]}
    assert task_names("anndata", **ctx) == ["L1", "L2"]
    w = build_task("anndata", "L2", 0, **ctx)
    l2 = {tuple(r) for r in x[(frame["condition"] == "drugA") & (frame["line"] == "L2")]}
    assert {tuple(r) for r in np.vstack([w.target_train, w.target_val, w.target_test])} == l2
    h = build_task("anndata", "L2", 0, split={"kind": "holdout"}, **ctx)
    assert {tuple(r) for r in h.target_test} == l2
    assert not ({tuple(r) for r in h.target_train} & l2)
    assert set(h.labels["source_train"]) == {"L1", "L2"}
    r = build_task("anndata", "L2", 0, split={"kind": "replicate"}, **ctx)
    assert set(r.labels["source_train"]) == {"L1"} and r.meta["split"] == "replicate"
    # a time course: gap in the meta, in hours
    tc = {"path": str(tmp_path / "cells.csv"), "time_key": "hours",
          "features": ["g0", "g1", "g2", "g3"]}
    assert task_names("anndata", **tc) == ["hours 6", "hours 24"]
    assert build_task("anndata", "hours 24", 0, **tc).meta["gap_h"] == 24.0
    assert build_task("anndata", "hours 24", 0, time_unit="day", **tc).meta["gap_h"] == 24.0 * 24


def test_bench_cli_on_a_users_csv_and_h5ad(tmp_path, rng):
    import yaml

    from trackability.cli import app
    from trackability.metrics import mmd2

    frame = _frame(rng)
    frame.to_csv(tmp_path / "cells.csv", index=False)
    for path, options in (
        (tmp_path / "cells.csv", {"groupby": "condition", "control": "ctrl",
                                  "features": ["g0", "g1", "g2", "g3"]}),
        (tmp_path / "cells.h5ad", {"groupby": "condition", "control": "ctrl"}),
    ):
        if path.suffix == ".h5ad":
            anndata.AnnData(frame[["g0", "g1", "g2", "g3"]].to_numpy(),
                            obs=frame[["condition"]].set_axis([f"c{i}" for i in range(120)])
                            ).write_h5ad(path)
        cfg = tmp_path / f"{path.suffix[1:]}.yaml"
        cfg.write_text(yaml.safe_dump(_cfg(str(path), options)))
        out = tmp_path / f"out_{path.suffix[1:]}"
        res = CliRunner().invoke(app, ["bench", str(cfg), "--out", str(out), "--no-report",
                                       "--no-progress"])
        assert res.exit_code == 0, res.output
        df = pd.read_csv(out / "results.csv")
        assert len(df) == 2 * 2 * 2  # tasks x methods x seeds
        assert set(df["status"]) == {"ok"}
        assert set(df["task"]) == {"mine/drugA", "mine/drugB"}
        # identity's MMD^2 is that of the untouched test split (independent rebuild of the task)
        row = df[(df["method"] == "identity") & (df["seed"] == 1) & (df["task"] == "mine/drugA")]
        t = build_task("anndata", "drugA", 1, path=str(path), **options)
        want = mmd2(t.source_test, t.target_test, gamma=float(row["gamma"].iloc[0]))
        assert float(row["mmd2"].iloc[0]) == pytest.approx(want, rel=1e-9)
        # the shifted feature makes drugA far from its control: meanshift beats identity
        ms = df[(df["method"] == "meanshift") & (df["task"] == "mine/drugA")]["mmd2"].mean()
        ident = df[(df["method"] == "identity") & (df["task"] == "mine/drugA")]["mmd2"].mean()
        assert ms < ident


def test_plan_reads_no_data_set_in_the_parent(monkeypatch, tmp_path):
    # the names of these data sets come from their options and constants (or obs alone for Kang)
    from trackability.data import task_builders
    from trackability.experiments.bench import plan
    from trackability.experiments.config import load_config

    def refuse(*a, **k):
        raise AssertionError("plan loaded a data set")

    monkeypatch.setattr(task_builders, "_load_cached", refuse)
    root = __import__("pathlib").Path(__file__).resolve().parents[1] / "configs"
    for name, n_tasks in (("sachs_ci", 2), ("bodenmiller_replicate", 4), ("kouno_horizon", 7),
                          ("chu_horizon", 5), ("schiebinger_horizon", 4), ("2i_horizon", 9),
                          ("synthetic_degradation", None)):
        cfg = load_config(root / f"{name}.yaml")
        jobs = plan(cfg, tmp_path)
        if n_tasks is not None:
            assert len({(j.task_group, j.task) for j in jobs}) == n_tasks, name


def test_split_kind_the_data_set_cannot_make_is_refused_at_load():
    cfg = {"name": "x", "tasks": [{"name": "s", "dataset": "sachs", "split": {"kind": "holdout"}}],
           "methods": [{"name": "identity"}, {"name": "meanshift"}]}
    with pytest.raises(ConfigError, match=r"split.kind 'holdout' is not available for dataset "
                                          r"'sachs'; choose from \['within'\]"):
        validate_config(cfg)
    cfg["tasks"][0].update(dataset="bodenmiller", split={"kind": "replicate"})
    assert validate_config(cfg).tasks[0].split.kind == "replicate"
