"""Frictions a new user met at the command line and in save/load, each fixed."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from trackability.cli import app

runner = CliRunner()


def test_version():
    from trackability import __version__

    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and res.output.strip() == f"trackability {__version__}"


def test_methods_without_baselines_says_how_to_drop_them():
    res = runner.invoke(app, ["bench", "configs/sachs.yaml", "--methods", "identity"])
    assert res.exit_code == 2
    out = " ".join(res.output.split())
    assert "drops the baseline(s) ['meanshift']" in out and "--no-require-baselines" in out
    assert "--methods identity,meanshift" in out


def test_missing_data_recommends_the_path_option(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACKABILITY_DATA", str(tmp_path))
    res = runner.invoke(app, ["bench", "configs/sachs.yaml", "--seeds", "1", "--out", str(tmp_path / "o")])
    assert res.exit_code in (1, 2) and "--path FOLDER" in " ".join(res.output.split())
    assert "path=..." not in res.output
    res = runner.invoke(app, ["bench", "configs/sachs.yaml", "--path", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "is not a folder" in res.output


def test_bench_progress_follows_the_environment_and_path_sets_the_data(monkeypatch, tmp_path):
    import pandas as pd

    import trackability.experiments.bench as bench_mod

    seen = {}

    def fake(cfg, out_dir, **kw):
        import os

        seen.update(kw, data=os.environ.get("TRACKABILITY_DATA"),
                    methods=[m.name for m in cfg.methods], tasks=len(cfg.tasks))
        return pd.DataFrame({"status": []})

    monkeypatch.setattr(bench_mod, "run_benchmark", fake)
    monkeypatch.setenv("TRACKABILITY_DATA", "/elsewhere")
    res = runner.invoke(app, ["bench", "configs/sachs.yaml", "--methods", "identity",
                              "--no-require-baselines", "--path", str(tmp_path), "--no-report"])
    assert res.exit_code == 0, res.output
    assert seen["progress"] is None  # None: TRACKABILITY_PROGRESS decides (it used to be True)
    assert seen["data"] == str(tmp_path.resolve()) and seen["methods"] == ["identity"]
    assert seen["tasks"] >= 1
    from trackability._progress import progress_enabled

    monkeypatch.setenv("TRACKABILITY_PROGRESS", "0")
    assert progress_enabled(seen["progress"]) is False


def test_save_and_load_take_the_same_path(tmp_path):
    from trackability.models import LAOT, PerturbationModel

    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 3))
    model = LAOT(random_state=0).fit(x, x + 1)
    written = model.save(tmp_path / "laot")
    assert written.name == "laot.npz"
    back = PerturbationModel.load(tmp_path / "laot")
    np.testing.assert_array_equal(back.W_, model.W_)
    with pytest.raises(FileNotFoundError, match="No saved model"):
        PerturbationModel.load(tmp_path / "other")
