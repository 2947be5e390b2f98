"""``trackability demo`` and ``trackability phase-transition`` end to end, checked on their outputs.

The demo runs once per module at its ``tiny`` size (about 20 s); its numbers are checked against
independent computations: the original run's published recovery values, a naive unbiased MMD^2 and
median-heuristic bandwidth, and the ground truth of the synthetic tasks.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import cdist, pdist
from typer.testing import CliRunner

from trackability._version import __version__
from trackability.cli import app
from trackability.data.task_builders import build_task
from trackability.experiments.config import load_config
from trackability.experiments.demo import DEMO_CONFIGS, DEMO_YAML, demo_bench_config, reference_check
from trackability.metrics import recovery_rate
from trackability.models import LAOT

runner = CliRunner()
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PROVENANCE = ("package_version", "git_revision", "random_state", "config")
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "run"
    res = runner.invoke(app, ["demo", "--out", str(out), "--quick", "--size", "tiny",
                              "--seed", "0", "--no-progress"])
    assert res.exit_code == 0, res.output
    return out, res.output


def test_demo_writes_every_file(demo_dir):
    out, output = demo_dir
    for name in ("index.html", "phase_transition.csv", "results.csv", "config.yaml",
                 "tables/summary.csv", "tables/recovery.md", "reference_check.csv"):
        assert (out / name).is_file(), name
    for name in ("phase_heatmap.png", "recovery_curves.png", "comparison_mmd2.png"):
        data = (out / "figures" / name).read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 20_000, name
    assert f"wrote {out / 'index.html'}" in output.replace("\n", "")


def _results(out):
    return pd.read_csv(out / "results.csv")


def test_demo_results_are_the_benchmark_rows_with_provenance(demo_dir):
    out, _ = demo_dir
    m = _results(out)
    cfg = DEMO_CONFIGS["tiny"]
    assert len(m) == 2 * 3 * cfg.replicates and (m["status"] == "ok").all()
    assert set(m["method"]) == {"identity", "meanshift", "laot"}
    assert set(m["task_group"]) == {"trackable", "untrackable"}
    for col in ("mmd2", "energy", "mean_r2", "rmse_paired", "recovery", "map_error", "seed",
                "config_hash", "job_key", "package_version", "git_revision"):
        assert col in m.columns, col
    assert (m["package_version"] == __version__).all()
    assert m["git_revision"].astype(str).str.len().min() >= 7
    assert sorted(set(m["seed"])) == list(range(cfg.replicates))  # --seed 0: seeds 0, 1
    assert (m["n_source_train"] == cfg.n_train).all() and (m["n_target_test"] == cfg.n_test).all()
    # the baselines have no matching and no map: empty, not a stand-in value
    base = m[m["method"] != "laot"]
    assert base[["recovery", "map_error"]].isna().all().all()


def _naive_unbiased_mmd2(x, y, gamma):
    kxx = np.exp(-gamma * cdist(x, x, "sqeuclidean"))
    kyy = np.exp(-gamma * cdist(y, y, "sqeuclidean"))
    kxy = np.exp(-gamma * cdist(x, y, "sqeuclidean"))
    m, n = len(x), len(y)
    return ((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
            - 2 * kxy.mean())


def test_demo_rows_equal_a_direct_computation(demo_dir):
    """Every LAOT and Identity row recomputed outside the harness: the generated pair of the
    row's seed, LAOT fitted directly, recovery / map error / naive MMD^2 with the train bandwidth."""
    out, _ = demo_dir
    m = _results(out)
    cfg = demo_bench_config(DEMO_CONFIGS["tiny"], 0)
    for t in cfg.tasks:
        opts = t.builder_options()
        for seed in cfg.seeds:
            rows = m[(m["task_group"] == t.name) & (m["seed"] == seed)].set_index("method")
            task = build_task("synthetic", rows["subtask"].iloc[0], seed, **opts)
            # the generator's truth: training treated cells are W of their control cells + noise
            resid = task.target_train - task.source_train[task.train_permutation] @ task.true_map
            assert np.sqrt(np.mean(resid ** 2)) < 0.1
            pool = np.vstack([task.source_train, task.target_train])
            gamma = 1.0 / np.median(pdist(pool, "sqeuclidean"))
            assert rows.loc["identity", "gamma"] == pytest.approx(gamma, rel=1e-9)
            assert rows.loc["identity", "mmd2"] == pytest.approx(
                _naive_unbiased_mmd2(task.source_test, task.target_test, gamma), rel=1e-6, abs=1e-8)
            model = LAOT(random_state=seed).fit(task.source_train, task.target_train)
            lao = rows.loc["laot"]
            assert lao["recovery"] == pytest.approx(recovery_rate(task.train_permutation,
                                                                  model.matching_))
            assert lao["map_error"] == pytest.approx(np.linalg.norm(model.W_ - task.true_map.T))
            # MMD^2 is a small difference of O(1) kernel means: the two summation orders agree
            # to about 1e-9 absolute
            assert lao["mmd2"] == pytest.approx(_naive_unbiased_mmd2(
                model.predict(task.source_test), task.target_test, gamma), rel=1e-6, abs=1e-8)


def test_demo_laot_recovers_the_trackable_task_and_beats_identity(demo_dir):
    out, _ = demo_dir
    m = _results(out)
    track = m[m["task_group"] == "trackable"]
    laot = track[track["method"] == "laot"].set_index("seed")
    ident = track[track["method"] == "identity"].set_index("seed")
    assert (laot["recovery"] == 1.0).all()
    assert (laot["map_error"] < 0.1).all()  # only the 5 % noise keeps it off 0
    assert (laot["mmd2"] < ident["mmd2"]).all()
    assert (laot["rmse_paired"] < 0.1 * ident["rmse_paired"]).all()
    # untrackable: the correspondence is lost, and with it the per-cell prediction
    un = m[(m["task_group"] == "untrackable") & (m["method"] == "laot")]
    un_id = m[(m["task_group"] == "untrackable") & (m["method"] == "identity")]
    assert (un["recovery"] < 0.5).all()
    assert un["map_error"].min() > 1.0
    assert un["rmse_paired"].mean() > 0.8 * un_id["rmse_paired"].mean()


def test_demo_config_is_the_shipped_yaml_at_each_size():
    shipped = load_config(REPO / "configs" / "demo.yaml")
    assert (REPO / "configs" / "demo.yaml").resolve() == DEMO_YAML.resolve()
    quick = demo_bench_config(DEMO_CONFIGS["quick"], 0)
    assert quick.hash() == shipped.hash()  # --quick is exactly configs/demo.yaml
    opts = {t.name: t.options for t in shipped.tasks}
    assert opts["trackable"]["gaps"] == [2.0] and opts["untrackable"]["gaps"] == [16.0]
    assert all(o["dims"] == [10] and o["noise"] == 0.05 for o in opts.values())
    assert shipped.seeds == [0, 1, 2] and shipped.metrics.etest_permutations == 0
    full = demo_bench_config(DEMO_CONFIGS["full"], 4)
    assert full.seeds == list(range(4, 14))
    assert all(t.options["n_train"] == t.options["n_test"] == 1000 for t in full.tasks)


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


def test_demo_html_is_the_report_with_the_phase_transition(demo_dir):
    out, _ = demo_dir
    text = (out / "index.html").read_text()
    assert text.count("src='data:image/png;base64,") == 2  # the phase transition's figures
    assert f"trackability demo --out {out} --quick --size tiny --seed 0" in text
    assert "LAOT recovered 100.0% of the training correspondence" in text
    assert "5 of 5 grid points reproduce" in text
    # the phase transition comes first, then the report writer's own tables
    assert text.index("<h2>Phase transition</h2>") < text.index("<h2>Tables</h2>")
    assert re.search(r"<h3>MMD² \(unbiased, train-median γ\) \(mmd2\)</h3><table><tr><th>task"
                     r"</th><th>identity</th><th>meanshift</th><th>laot</th></tr><tr><td>"
                     r"trackable/d=10 gap=2</td>", text)
    methods = _results(out)
    e = methods[(methods["task_group"] == "untrackable") & (methods["method"] == "identity")]
    e = e["energy"]
    assert abs(e.mean()) >= 1e-3  # formatted with 4 decimals by the table writer
    assert f"<td>{e.mean():.4f} ± {e.std(ddof=1):.4f}</td>" in text
    assert "href='phase_transition.csv'" in text


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
