"""``trackability demo`` and ``trackability phase-transition`` end to end, checked on their outputs.

The demo runs once per module at its ``tiny`` size (about 20 s); its numbers are checked against
independent computations: the original run's published recovery values, a naive unbiased MMD^2 and
median-heuristic bandwidth, and the ground truth of the synthetic tasks.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import cdist, pdist
from typer.testing import CliRunner

from trackability._version import __version__
from trackability.cli import app
from trackability.experiments.demo import (
    DEMO_CONFIGS,
    DemoTask,
    method_comparison,
    reference_check,
    summarize_methods,
    synthetic_split,
)

runner = CliRunner()
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PROVENANCE = ("package_version", "git_revision", "random_state", "config")


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "run"
    res = runner.invoke(app, ["demo", "--out", str(out), "--quick", "--size", "tiny",
                              "--seed", "0", "--no-progress"])
    assert res.exit_code == 0, res.output
    return out, res.output


def test_demo_writes_every_file(demo_dir):
    out, output = demo_dir
    for name in ("index.html", "phase_transition.csv", "methods.csv", "methods_summary.csv",
                 "reference_check.csv"):
        assert (out / name).is_file(), name
    for name in ("phase_heatmap.png", "recovery_curves.png", "method_comparison.png"):
        data = (out / "figures" / name).read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 20_000, name
    assert f"wrote {out / 'index.html'}" in output.replace("\n", "")


def test_demo_methods_table_rows_columns_and_provenance(demo_dir):
    out, _ = demo_dir
    m = pd.read_csv(out / "methods.csv")
    cfg = DEMO_CONFIGS["tiny"]
    assert len(m) == len(cfg.tasks) * 3 * cfg.replicates
    assert set(m["method"]) == {"identity", "meanshift", "laot"}
    assert set(m["task"]) == {"trackable", "untrackable"}
    for col in ("mmd2", "energy", "mean_r2", "rmse_paired", "recovery", "map_error", "seed",
                *PROVENANCE):
        assert col in m.columns, col
    assert (m["package_version"] == __version__).all()
    assert m["git_revision"].astype(str).str.len().min() >= 7
    assert (m["random_state"] == 0).all()
    config = json.loads(m["config"].iloc[0])
    assert config["demo"]["size"] == "tiny" and config["demo"]["n_train"] == cfg.n_train
    # every method saw the same replicate seeds
    seeds = m.groupby("method")["seed"].apply(lambda s: tuple(sorted(s)))
    assert seeds.nunique() == 1


def test_demo_laot_recovers_the_trackable_task_and_beats_identity(demo_dir):
    out, _ = demo_dir
    m = pd.read_csv(out / "methods.csv")
    track = m[m["task"] == "trackable"]
    laot = track[track["method"] == "laot"].set_index("replicate")
    ident = track[track["method"] == "identity"].set_index("replicate")
    assert (laot["recovery"] == 1.0).all()
    assert (laot["map_error"] < 0.1).all()  # only the 5 % noise keeps it off 0
    assert (laot["mmd2"] < ident["mmd2"]).all()
    assert (laot["rmse_paired"] < 0.1 * ident["rmse_paired"]).all()
    # untrackable: the correspondence is lost, and with it the per-cell prediction
    un = m[(m["task"] == "untrackable") & (m["method"] == "laot")]
    un_id = m[(m["task"] == "untrackable") & (m["method"] == "identity")]
    assert (un["recovery"] < 0.5).all()
    assert un["map_error"].min() > 1.0
    assert un["rmse_paired"].mean() > 0.8 * un_id["rmse_paired"].mean()


def _naive_unbiased_mmd2(x, y, gamma):
    kxx = np.exp(-gamma * cdist(x, x, "sqeuclidean"))
    kyy = np.exp(-gamma * cdist(y, y, "sqeuclidean"))
    kxy = np.exp(-gamma * cdist(x, y, "sqeuclidean"))
    m, n = len(x), len(y)
    return ((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
            - 2 * kxy.mean())


def test_demo_identity_mmd_matches_a_naive_computation_with_train_bandwidth(demo_dir):
    """Held-out MMD^2 of 'no change', recomputed from scratch: bandwidth from the train split."""
    out, _ = demo_dir
    m = pd.read_csv(out / "methods.csv")
    row = m[(m["task"] == "trackable") & (m["method"] == "identity")].iloc[0]
    cfg = DEMO_CONFIGS["tiny"]
    task = next(t for t in cfg.tasks if t.name == "trackable")
    data = synthetic_split(task, cfg.n_train, cfg.n_test, int(row["seed"]))
    pool = np.vstack([data["source_train"], data["target_train"]])
    gamma = 1.0 / np.median(pdist(pool, "sqeuclidean"))
    assert row["gamma"] == pytest.approx(gamma, rel=1e-9)
    ref = _naive_unbiased_mmd2(data["source_test"], data["target_test"], gamma)
    assert row["mmd2"] == pytest.approx(ref, rel=1e-6, abs=1e-9)


def test_synthetic_split_pairs_training_cells_and_keeps_test_samples_independent():
    task = DemoTask("t", 3, 0.5, 0.0)
    d = synthetic_split(task, 20, 10, seed=5)
    assert d["source_train"].shape == (20, 3) and d["target_test"].shape == (10, 3)
    # noiseless: each training treated cell is exactly W applied to its training control cell
    np.testing.assert_allclose(d["target_train"], d["source_train"][d["train_permutation"]] @ d["W"])
    np.testing.assert_allclose(d["test_truth"], d["source_test"] @ d["W"])
    # the test treated cells are images of OTHER control cells: no test or training control cell
    # maps onto any of them (independent test samples, as when each cell is measured once)
    for src in (d["source_test"], d["source_train"]):
        assert cdist(d["target_test"], src @ d["W"]).min() > 1e-6
    with pytest.raises(ValueError, match="n_test"):
        synthetic_split(task, 20, 1, seed=5)


def test_demo_phase_transition_reproduces_the_original_run(demo_dir):
    out, output = demo_dir
    phase = pd.read_csv(out / "phase_transition.csv")
    for col in ("d", "gap", "recovery", "recovery_sd", "trials", "generator", *PROVENANCE):
        assert col in phase.columns, col
    assert set(phase["generator"]) == {"seed_faithful", "centered"}
    cfg = DEMO_CONFIGS["tiny"]
    assert len(phase) == (len(cfg.faithful_dims) * len(cfg.faithful_gaps)
                          + len(cfg.centered_dims) * len(cfg.centered_gaps))
    sf = phase[phase["generator"] == "seed_faithful"].set_index(["d", "gap"])["recovery"]
    # published values of the original run (50 trials, n = 100)
    for (d, g), ref in {(100, 15.0): 1.0, (100, 100.0): 0.484, (10, 15.0): 0.927,
                        (10, 20.0): 0.786}.items():
        assert round(sf[(d, g)], 3) == ref, (d, g)
    check = pd.read_csv(out / "reference_check.csv")
    assert len(check) == 5 and check["match"].all()  # d = 10, gap = 100 has no published value
    assert "5 of 5 grid points reproduce" in output


def test_demo_html_is_self_contained_and_says_how_to_regenerate(demo_dir):
    out, _ = demo_dir
    text = (out / "index.html").read_text()
    assert text.count("src='data:image/png;base64,") == 3
    assert f"trackability demo --out {out} --quick --size tiny --seed 0" in text
    assert "LAOT recovered 100.0% of the training correspondence" in text
    assert "5 of 5 grid points reproduce" in text
    # the method tables are the report's (tables.pivot + report.table_html): mean ± sd per task
    assert re.search(r"<h3>MMD² \(unbiased, train-median γ\)</h3><table><tr><th>task</th>"
                     r"<th>identity</th><th>meanshift</th><th>laot</th></tr><tr><td>trackable</td>",
                     text)
    methods = pd.read_csv(out / "methods.csv")
    e = methods[(methods["task"] == "untrackable") & (methods["method"] == "identity")]["energy"]
    assert abs(e.mean()) >= 1e-3  # formatted with 4 decimals by the table writer
    assert f"<td>{e.mean():.4f} ± {e.std(ddof=1):.4f}</td>" in text
    for rel in ("methods.csv", "phase_transition.csv", "figures/phase_heatmap.png"):
        assert f"href='{rel}'" in text


def test_method_comparison_is_seeded():
    cfg = DEMO_CONFIGS["tiny"]
    a = method_comparison(cfg, 3, progress=False).drop(columns="fit_seconds")
    b = method_comparison(cfg, 3, progress=False).drop(columns="fit_seconds")
    c = method_comparison(cfg, 4, progress=False).drop(columns="fit_seconds")
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["mmd2"], c["mmd2"])


def test_phase_transition_command_seed_faithful(tmp_path):
    out = tmp_path / "pt"
    res = runner.invoke(app, ["phase-transition", "--seed-faithful", "--dims", "10",
                              "--gaps", "10, 15,20", "--trials", "50", "--out", str(out),
                              "--no-progress"])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out / "phase_transition.csv")
    assert table["recovery"].round(3).tolist() == [1.0, 0.927, 0.786]  # the original run
    assert (table["generator"] == "seed_faithful").all()
    assert json.loads(table["config"].iloc[0])["phase_transition"]["gaps"] == [10.0, 15.0, 20.0]
    assert "0.927" in res.output and "0.786" in res.output
    for name in ("phase_heatmap.png", "recovery_curves.png"):
        assert (out / name).read_bytes()[:8] == PNG_MAGIC


def test_phase_transition_command_centred_is_seeded(tmp_path):
    args = ["phase-transition", "--dims", "10", "--gaps", "2,8", "--trials", "3", "--n", "40",
            "--no-progress", "--seed", "7"]
    r1 = runner.invoke(app, [*args, "--out", str(tmp_path / "a")])
    r2 = runner.invoke(app, [*args, "--out", str(tmp_path / "b")])
    assert r1.exit_code == 0 and r2.exit_code == 0, r1.output + r2.output
    a = pd.read_csv(tmp_path / "a" / "phase_transition.csv")
    b = pd.read_csv(tmp_path / "b" / "phase_transition.csv")
    pd.testing.assert_series_equal(a["recovery"], b["recovery"])
    assert (a["generator"] == "centered").all() and (a["random_state"] == 7).all()
    assert a.loc[a["gap"] == 2.0, "recovery"].item() == 1.0  # trackable at a small gap


def test_phase_transition_command_dask_backend_equals_serial(tmp_path):
    """``--backend dask`` (a LocalCluster) runs the same trials as the serial backend."""
    pytest.importorskip("distributed")
    args = ["phase-transition", "--seed-faithful", "--dims", "10", "--gaps", "15,20",
            "--trials", "4", "--no-progress"]
    r1 = runner.invoke(app, [*args, "--backend", "serial", "--out", str(tmp_path / "s")])
    r2 = runner.invoke(app, [*args, "--backend", "dask", "--jobs", "2", "--out", str(tmp_path / "d")])
    assert r1.exit_code == 0 and r2.exit_code == 0, r1.output + r2.output
    a = pd.read_csv(tmp_path / "s" / "phase_transition.csv")
    b = pd.read_csv(tmp_path / "d" / "phase_transition.csv")
    pd.testing.assert_series_equal(a["recovery"], b["recovery"])
    assert json.loads(b["config"].iloc[0])["phase_transition"]["backend"] == "dask"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["demo", "--jobs", "0"], "--jobs must be a positive integer or -1"),
        (["demo", "--size", "huge"], "--size must be one of tiny, quick, full"),
        (["demo", "--seed", "-1"], "greater than or equal to 0"),
        (["phase-transition", "--dims", "100,abc"], "--dims: 'abc' is not a number"),
        (["phase-transition", "--dims", "10.5"], "--dims: '10.5' must be a positive integer"),
        (["phase-transition", "--gaps", "1,-2"], "--gaps: '-2' must be non-negative"),
        (["phase-transition", "--gaps", "1,nan"], "--gaps: 'nan' is not finite"),
        (["phase-transition", "--gaps", "1,1"], "--gaps: values must be distinct"),
        (["phase-transition", "--backend", "spark"], "--backend must be one of serial, joblib, dask"),
        (["phase-transition", "--scheduler", "tcp://127.0.0.1:8786"], "--scheduler needs --backend dask"),
        (["phase-transition", "--gaps", " , "], "--gaps is empty"),
        (["phase-transition", "--seed-faithful", "--dims", "15", "--gaps", "1"],
         "d=15 is not in the original grid"),
        (["phase-transition", "--seed-faithful", "--dims", "10", "--gaps", "3"],
         "gap=3.0 is not in the original grid"),
        (["phase-transition", "--trials", "0"], "--trials"),
        (["phase-transition", "--n", "1"], "--n"),
    ],
)
def test_bad_options_fail_with_a_clear_message(args, message, tmp_path):
    res = runner.invoke(app, [*args, "--out", str(tmp_path / "o"), "--no-progress"])
    assert res.exit_code == 2, res.output
    assert message in " ".join(res.output.split()), res.output
    assert not (tmp_path / "o" / "index.html").exists()


def test_out_must_be_a_folder(tmp_path):
    f = tmp_path / "file.txt"
    f.write_text("x")
    for cmd in ("demo", "phase-transition"):
        res = runner.invoke(app, [cmd, "--out", str(f), "--no-progress", "--dims", "10"]
                            if cmd == "phase-transition" else [cmd, "--out", str(f)])
        assert res.exit_code == 2 and "exists and is not a folder" in res.output, res.output


def test_summarize_methods_against_numpy():
    rows = [{"task": "t", "method": m, "replicate": r, "mmd2": v, "recovery": rec,
             "map_error": 0.1 * r}
            for m, vals in (("identity", [0.2, 0.4, 0.9]), ("laot", [0.01, 0.03, 0.02]))
            for r, v in enumerate(vals)
            for rec in ([1.0] if m == "laot" else [np.nan])]
    s = summarize_methods(pd.DataFrame(rows)).set_index("method")
    assert s.loc["identity", "mmd2_mean"] == pytest.approx(np.mean([0.2, 0.4, 0.9]))
    assert s.loc["identity", "mmd2_sd"] == pytest.approx(np.std([0.2, 0.4, 0.9], ddof=1))
    assert s.loc["laot", "recovery_mean"] == 1.0 and s.loc["laot", "replicates"] == 3
    assert np.isnan(s.loc["identity", "map_error_mean"])  # LAOT's quantity only


def test_reference_check_flags_mismatches_and_short_runs():
    phase = pd.DataFrame({
        "d": [10, 10, 100, 100], "gap": [15.0, 20.0, 100.0, 3.0],
        "recovery": [0.9274, 0.79, 0.4838, 1.0], "trials": [50, 50, 10, 50],
        "generator": "seed_faithful",
    })
    check = reference_check(phase).set_index(["d", "gap"])
    assert len(check) == 3  # gap 3 is not in the original grid
    assert bool(check.loc[(10, 15.0), "match"])
    assert not bool(check.loc[(10, 20.0), "match"])  # 0.790 != 0.786
    assert not bool(check.loc[(100, 100.0), "match"])  # right value, but only 10 trials
