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
    # the command line resolves --progress itself: TRACKABILITY_PROGRESS (0 under the tests) wins
    assert seen["progress"] is False
    assert seen["data"] == str(tmp_path.resolve()) and seen["methods"] == ["identity"]
    assert seen["tasks"] >= 1
    monkeypatch.delenv("TRACKABILITY_PROGRESS")  # unset: the command line shows progress
    res = runner.invoke(app, ["bench", "configs/sachs.yaml", "--methods", "identity",
                              "--no-require-baselines", "--path", str(tmp_path), "--no-report"])
    assert res.exit_code == 0, res.output
    assert seen["progress"] is True


@pytest.mark.parametrize(("env", "arg", "default", "expected"), [
    (None, None, False, False),   # a library call: off unless asked for
    (None, None, True, True),     # the command line: on
    ("0", None, True, False), ("off", None, True, False), ("1", None, False, True),
    ("", None, False, False),     # an empty variable counts as unset
    ("1", False, True, False), ("0", True, False, True),  # an explicit argument wins
])
def test_progress_off_in_library_calls_unless_asked(monkeypatch, env, arg, default, expected):
    from trackability._progress import progress_enabled

    if env is None:
        monkeypatch.delenv("TRACKABILITY_PROGRESS", raising=False)
    else:
        monkeypatch.setenv("TRACKABILITY_PROGRESS", env)
    assert progress_enabled(arg, default=default) is expected


def test_library_call_draws_no_bar_by_default(monkeypatch, capsys):
    from trackability.models import LAOT

    monkeypatch.delenv("TRACKABILITY_PROGRESS", raising=False)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3))
    LAOT(max_iter=3).fit(x, x[rng.permutation(40)] + 0.1)
    assert "LAOT" not in capsys.readouterr().err
    LAOT(max_iter=3, progress=True).fit(x, x[rng.permutation(40)] + 0.1)
    assert "LAOT" in capsys.readouterr().err


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
