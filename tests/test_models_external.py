"""The file-based ``external`` method and the split export: an external tool's predictions are
scored with the harness's own split and metrics, and predictions for another split are refused.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from _scripts import load_benchmark
from trackability.experiments.bench import run_benchmark
from trackability.experiments.config import validate_config
from trackability.experiments.export import export_splits
from trackability.models import PerturbationModel
from trackability.models.external import External, entry_key
from trackability.models.registry import get_model as resolve_method

REPO = Path(__file__).resolve().parents[1]
SYN = {"dims": [3], "gaps": [0.05, 1.0], "n": 60, "noise": 0.0}


def _peer_io():
    return load_benchmark("peers/peer_io")


def _config(methods, seeds=2):
    return validate_config({
        "name": "syn", "seeds": seeds,
        "tasks": [{"name": "syn", "dataset": "synthetic", "options": SYN,
                   "preprocessing": ["standardize"]}],
        "methods": methods, "metrics": {"w2_max_cells": 50},
    })


def test_external_mean_shift_scores_exactly_as_the_builtin(tmp_path):
    """A 'tool' that computes the mean shift from the exported files gets the built-in's scores."""
    cfg = _config([{"name": "identity"}, {"name": "meanshift"}])
    entries = export_splits(cfg, tmp_path / "splits")
    assert len(entries) == 2 * 2  # 2 tasks x 2 seeds
    peer = _peer_io()
    for info, arr in peer.iter_splits(tmp_path / "splits"):
        assert set(info["sizes"]) == {"source_train", "target_train", "source_val", "target_val",
                                      "source_test"}  # never the test targets
        shift = arr["target_train"].mean(0) - arr["source_train"].mean(0)
        peer.write_prediction(tmp_path / "pred", info, arr["source_test"] + shift,
                              tool="toy", version="1.0", fit_seconds=0.5)
    ext = {"name": "toy_external", "method": "external",
           "params": {"predictions_dir": str(tmp_path / "pred"), "tool": "toy", "version": "1.0"}}
    cfg2 = _config([{"name": "identity"}, {"name": "meanshift"}, ext])
    df = run_benchmark(cfg2, tmp_path / "bench", backend="serial", progress=False)
    assert (df["status"] == "ok").all(), df["error"].tolist()
    a = df[df.method == "meanshift"].set_index(["task", "seed"]).sort_index()
    b = df[df.method == "toy_external"].set_index(["task", "seed"]).sort_index()
    for metric in ("mmd2", "energy", "w2", "mean_r2"):
        np.testing.assert_allclose(b[metric], a[metric], rtol=1e-10, atol=1e-12)
    assert (b["model_fit_seconds"] == 0.5).all()
    assert json.loads(b["hyperparameters"].iloc[0])["tool"] == "toy"


def test_export_matches_the_bench_split(tmp_path):
    """The exported test controls are the bench's (column sums checked by External on predict)."""
    cfg = _config([{"name": "identity"}, {"name": "meanshift"}], seeds=1)
    export_splits(cfg, tmp_path / "s", tasks=["syn/d=3 gap=1"])
    index = json.loads((tmp_path / "s/index.json").read_text())
    assert [e["task"] for e in index["entries"]] == ["syn/d=3 gap=1"]
    info = json.loads((tmp_path / "s/syn/d=3 gap=1/seed0/split.json").read_text())
    x = np.load(tmp_path / "s/syn/d=3 gap=1/seed0/source_test.npy")
    np.testing.assert_allclose(info["source_test_sum"], x.sum(0))
    assert info["preprocessing"] == [{"step": "standardize"}]
    with pytest.raises(ValueError, match="not in config"):
        export_splits(cfg, tmp_path / "t", tasks=["syn/nope"])


def _folder(tmp_path, pred, *, tool="t", entry=None, name="g/a", seed=0, suffix=".npy"):
    root = tmp_path / "pred"
    (root / name).mkdir(parents=True, exist_ok=True)
    path = root / f"{entry_key(name, seed)}{suffix}"
    if suffix == ".npy":
        np.save(path, pred)
    else:
        np.savetxt(path, pred, delimiter=",", header="f0,f1", comments="")
    entries = {entry_key(name, seed): entry} if entry is not None else {}
    (root / "manifest.json").write_text(json.dumps({"tool": tool, "version": "2",
                                                    "entries": entries}))
    return root


def test_reads_npy_and_csv_and_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    x, pred = rng.normal(size=(5, 2)), rng.normal(size=(5, 2))
    for suffix in (".npy", ".csv"):
        root = _folder(tmp_path, pred, suffix=suffix, entry={"source_test_sum": x.sum(0).tolist()})
        if suffix == ".csv":
            (root / "g/a/seed0.npy").unlink()
        m = External(str(root), tool="t", version="2").fit(x, x, task_name="g/a")
        np.testing.assert_allclose(m.predict(x), pred)
        loaded = PerturbationModel.load(m.save(tmp_path / f"m{suffix}"))
        np.testing.assert_allclose(loaded.predict(x), pred)
    assert resolve_method("external") is External


def test_refuses_wrong_tool_missing_files_and_other_splits(tmp_path):
    rng = np.random.default_rng(1)
    x, pred = rng.normal(size=(5, 2)), rng.normal(size=(5, 2))
    root = _folder(tmp_path, pred, entry={"source_test_sum": (x.sum(0) + 1.0).tolist()})
    with pytest.raises(ValueError, match="manifest names tool 't', the config expects 'other'"):
        External(str(root), tool="other").fit(x, x, task_name="g/a")
    with pytest.raises(FileNotFoundError, match="for task 'g/b', seed 0"):
        External(str(root)).fit(x, x, task_name="g/b")
    with pytest.raises(FileNotFoundError, match="seed 3"):
        External(str(root), random_state=3).fit(x, x, task_name="g/a")
    with pytest.raises(ValueError, match="other test control cells"):
        External(str(root)).fit(x, x, task_name="g/a").predict(x)
    with pytest.raises(ValueError, match="holds 5 x 2 predictions, but the split has 4"):
        External(str(root)).fit(x, x, task_name="g/a").predict(x[:4])
    with pytest.raises(ValueError, match="needs the task name"):
        External(str(root)).fit(x, x)
    with pytest.raises(ValueError, match="predictions_dir must name"):
        External().fit(x, x, task_name="g/a")
    (root / "manifest.json").write_text(json.dumps({"tool": "t"}))
    with pytest.raises(ValueError, match="must name the version"):
        External(str(root)).fit(x, x, task_name="g/a")
    (root / "manifest.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"no manifest\.json"):
        External(str(root)).fit(x, x, task_name="g/a")


def test_peer_writer_checks_shape_and_tool(tmp_path):
    peer = _peer_io()
    info = {"task": "g/a", "seed": 0, "sizes": {"source_test": 3}, "n_features": 2,
            "source_test_sum": [0.0, 0.0], "config_hash": "h"}
    with pytest.raises(ValueError, match="expected \\(3, 2\\)"):
        peer.write_prediction(tmp_path, info, np.zeros((2, 2)), tool="a", version="1")
    with pytest.raises(ValueError, match="NaN"):
        peer.write_prediction(tmp_path, info, np.full((3, 2), np.nan), tool="a", version="1")
    peer.write_prediction(tmp_path, info, np.zeros((3, 2)), tool="a", version="1")
    with pytest.raises(ValueError, match="belongs to a 1"):
        peer.write_prediction(tmp_path, info, np.zeros((3, 2)), tool="b", version="1")


def _runner(name):
    """Load a peer runner (its tool is not installed here: only its own helpers are tested)."""
    import sys

    sys.path.insert(0, str(REPO / "benchmarks/peers"))
    try:
        mod = load_benchmark(f"peers/{name}")
    finally:
        sys.path.remove(str(REPO / "benchmarks/peers"))
    return mod


def test_pertpy_runner_seeds_unseeded_generators_and_restores_numpy():
    mod = _runner("run_pertpy_scgen")
    original = np.random.default_rng

    def draws(seed):
        with mod._seeded_default_rng(seed):
            # pertpy 1.4.0 calls np.random.default_rng() with no seed, several times per predict
            return [np.random.default_rng().integers(1 << 30, size=3).tolist() for _ in range(3)]

    first, again, other = draws(0), draws(0), draws(1)
    assert first == again and first != other
    assert len({tuple(x) for x in first}) == 3  # successive calls are independent streams
    assert np.random.default_rng is original
    # an explicit seed inside the block is honoured unchanged
    with mod._seeded_default_rng(5):
        assert (np.random.default_rng(3).integers(100, size=4)
                == original(3).integers(100, size=4)).all()


def test_pertpy_runner_builds_scgens_training_anndata(tmp_path):
    """Training cells: every exported control and treated cell, condition and cell type right."""
    export_splits(_config([{"name": "identity"}, {"name": "meanshift"}], seeds=1),
                  tmp_path / "splits")
    mod = _runner("run_pertpy_scgen")
    peer = _peer_io()
    info, arr = next(peer.iter_splits(tmp_path / "splits"))
    labels = {"source_train": ["a", "b"] * (len(arr["source_train"]) // 2)
              + ["a"] * (len(arr["source_train"]) % 2),
              "target_train": ["b"] * len(arr["target_train"])}
    adata = mod._adata(arr, {**info, "labels": labels})
    n0, nt = len(arr["source_train"]), len(arr["target_train"])
    assert adata.n_obs == n0 + nt and adata.n_vars == info["n_features"]
    np.testing.assert_allclose(adata.X, np.vstack([arr["source_train"], arr["target_train"]]),
                               rtol=1e-6)
    assert (adata.obs["condition"] == "control").sum() == n0
    assert list(adata.obs["cell_type"][:n0]) == labels["source_train"]
    assert set(adata.obs["cell_type"][n0:]) == {"b"}


def test_export_refuses_an_unknown_only_task_like_the_bench(tmp_path):
    from trackability.experiments.config import ConfigError

    cfg = validate_config({
        "name": "syn", "seeds": 1,
        "tasks": [{"name": "syn", "dataset": "synthetic", "options": SYN, "only": ["nope"]}],
        "methods": [{"name": "identity"}, {"name": "meanshift"}],
    })
    with pytest.raises(ConfigError, match="only lists unknown task.*nope"):
        export_splits(cfg, tmp_path / "splits")
    with pytest.raises(ConfigError, match="only lists unknown task.*nope"):
        run_benchmark(cfg, tmp_path / "bench", backend="serial", progress=False)
    assert not (tmp_path / "splits" / "index.json").exists()


def test_sachs_peers_config_scores_the_splits_the_peers_were_given(real_data_dir, tmp_path):
    """configs/sachs_peers.yaml (which scores the peers) splits block 1 exactly as configs/sachs.yaml
    (whose exported splits the peers are trained on): same cells, same standardisation."""
    task = ["block1/cd3cd28+u0126"]
    a = export_splits(REPO / "configs/sachs.yaml", tmp_path / "a", seeds=[3], tasks=task)
    b = export_splits(REPO / "configs/sachs_peers.yaml", tmp_path / "b", seeds=[3], tasks=task)
    assert len(a) == len(b) == 1
    files = sorted(p.name for p in (tmp_path / "a" / a[0]["path"]).glob("*.npy"))
    assert "source_test.npy" in files and "target_train.npy" in files
    for name in files:
        np.testing.assert_array_equal(np.load(tmp_path / "a" / a[0]["path"] / name),
                                      np.load(tmp_path / "b" / b[0]["path"] / name))
    # and another seed is another split (the comparison above can fail)
    c = export_splits(REPO / "configs/sachs_peers.yaml", tmp_path / "c", seeds=[4], tasks=task)
    assert not np.array_equal(np.load(tmp_path / "a" / a[0]["path"] / "source_test.npy"),
                              np.load(tmp_path / "c" / c[0]["path"] / "source_test.npy"))
