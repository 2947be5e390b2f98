"""``trackability diagnose`` on .npy, .csv and .h5ad inputs, against the library call."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from trackability.cli import app
from trackability.data.synthetic import near_identity
from trackability.diagnostics import diagnose

runner = CliRunner()


@pytest.fixture(scope="module")
def pair():
    return near_identity(40, 4, gap=0.05, random_state=4)


def _run(*args: str):
    return runner.invoke(app, ["diagnose", *args])


def test_npy_json_matches_library(tmp_path, pair):
    np.save(tmp_path / "x0.npy", pair.control)
    np.save(tmp_path / "xt.npy", pair.treated)
    res = _run(str(tmp_path / "x0.npy"), str(tmp_path / "xt.npy"), "--gap", "0.05", "--json",
               "--n-boot", "30", "--seed", "3")
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout)
    ref = diagnose(pair.control, pair.treated, 0.05, n_boot=30, random_state=3, progress=False)
    assert got["delta"] == pytest.approx(ref.delta)
    assert got["Delta"] == pytest.approx(ref.Delta)
    assert got["ratio"] == pytest.approx(ref.ratio)
    assert got["regime"] == ref.regime
    assert got["ci"]["L"] == pytest.approx(list(ref.ci["L"]))
    # with a given L, and as text
    res = _run(str(tmp_path / "x0.npy"), str(tmp_path / "xt.npy"), "--gap", "0.05", "--L", "2.0")
    assert res.exit_code == 0, res.output
    ref2 = diagnose(pair.control, pair.treated, 0.05, L=2.0, progress=False)
    assert ref2.regime.upper() in res.stdout and f"{ref2.Delta:.4g}" in res.stdout


def test_csv_groupby_and_transform(tmp_path, pair):
    x0, xt = np.exp(pair.control), np.exp(pair.treated)
    frame = pd.DataFrame(np.vstack([x0, xt]), columns=list("abcd"))
    frame.insert(0, "condition", ["ctrl"] * 40 + ["drug"] * 40)
    frame["note"] = "x"
    path = tmp_path / "cells.csv"
    frame.to_csv(path, index=False)
    res = _run(str(path), "--groupby", "condition", "--source-group", "ctrl", "--target-group",
               "drug", "--gap", "0.05", "--transform", "log", "--json", "--n-boot", "0")
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout)
    ref = diagnose(pair.control, pair.treated, 0.05, n_boot=0, progress=False)
    assert got["Delta"] == pytest.approx(ref.Delta, rel=1e-9)
    assert got["details"]["input"]["features"] == list("abcd")
    # a subset of features
    res = _run(str(path), "--groupby", "condition", "--source-group", "ctrl", "--target-group",
               "drug", "--gap", "0.05", "--transform", "log", "--json", "--features", "a,b")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["d"] == 2


def test_h5ad_groupby(tmp_path, pair):
    import anndata

    adata = anndata.AnnData(
        np.vstack([pair.control, pair.treated]),
        obs=pd.DataFrame({"cond": ["c"] * 40 + ["t"] * 40}, index=[str(i) for i in range(80)]),
    )
    adata.obsm["X_pca"] = adata.X[:, :2].copy()
    path = tmp_path / "cells.h5ad"
    adata.write_h5ad(path)
    args = [str(path), "--groupby", "cond", "--source-group", "c", "--target-group", "t",
            "--gap", "0.05", "--json", "--n-boot", "0"]
    res = _run(*args)
    assert res.exit_code == 0, res.output
    ref = diagnose(pair.control, pair.treated, 0.05, n_boot=0, progress=False)
    assert json.loads(res.stdout)["Delta"] == pytest.approx(ref.Delta, rel=1e-9)
    res = _run(*args, "--obsm", "X_pca")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["d"] == 2
    res = _run(*args, "--obsm", "X_umap")
    assert res.exit_code == 2 and "X_umap" in res.output
    res = _run(str(path), "--groupby", "batch", "--source-group", "c", "--target-group", "t",
               "--gap", "1")
    assert res.exit_code == 2 and "no obs column 'batch'" in res.output


def test_cli_errors(tmp_path, pair):
    np.save(tmp_path / "x0.npy", pair.control)
    np.save(tmp_path / "x3.npy", pair.control[:, :3])
    (tmp_path / "bad.txt").write_text("1,2\n")
    cases = [
        ([str(tmp_path / "missing.npy"), str(tmp_path / "x0.npy"), "--gap", "1"], "does not exist"),
        ([str(tmp_path / "bad.txt"), str(tmp_path / "x0.npy"), "--gap", "1"], "unsupported file"),
        ([str(tmp_path / "x0.npy"), str(tmp_path / "x3.npy"), "--gap", "1"], "features"),
        ([str(tmp_path / "x0.npy"), str(tmp_path / "x0.npy"), "--gap", "-1"], "gap"),
        ([str(tmp_path / "x0.npy"), "--gap", "1"], "TARGET"),
        ([str(tmp_path / "x0.npy"), str(tmp_path / "x0.npy"), "--gap", "1", "--transform", "sqrt"],
         "--transform"),
        ([str(tmp_path / "x0.npy"), str(tmp_path / "x0.npy"), "--gap", "1", "--transform", "log"],
         "strictly positive"),
    ]
    for args, msg in cases:
        res = _run(*args)
        assert res.exit_code == 2, (args, res.output)
        assert msg in res.output, (args, res.output)


def test_recoverability_verdict_and_intermediate_groups_of_a_csv(tmp_path):
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal((60, 3))
    x1 = x0 + 0.05 * rng.standard_normal(x0.shape)
    x2 = x1 + 0.05 * rng.standard_normal(x0.shape)
    df = pd.DataFrame(np.concatenate([x0, x1[rng.permutation(60)], x2[rng.permutation(60)]]),
                      columns=["a", "b", "c"])
    df["time"] = np.repeat(["0h", "6h", "12h"], 60)
    path = tmp_path / "course.csv"
    df.to_csv(path, index=False)
    common = [str(path), "--groupby", "time", "--source-group", "0h", "--target-group", "12h",
              "--gap", "12", "--features", "a,b,c", "--n-boot", "0", "--time-unit", "h", "--json"]
    res = _run(*common, "--intermediate", "6h=6")
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout)
    # the library call on the same cells, composed over the same course
    ref = diagnose(x0, x2[np.random.default_rng(0).permutation(60)], 12.0, n_boot=0,
                   intermediate=[(6.0, x1)], time_unit="h", random_state=0, progress=False)
    assert got["recoverability"]["growth"] == "composed"
    assert [s["to"] for s in got["recoverability"]["steps"]] == [6.0, 12.0]
    assert got["verdict"].startswith("at 12 h about")
    assert got["Delta"] == pytest.approx(ref.Delta)
    assert abs(got["recoverability"]["recovery"] - ref.recoverability["recovery"]) < 0.1
    assert got["details"]["input"]["intermediate"] == ["6h=6"]
    plain = json.loads(_run(*common, "--no-recoverability").stdout)
    assert plain["recoverability"] is None and plain["Delta"] == pytest.approx(got["Delta"])
    for bad, match in ((["--intermediate", "6h"], "GROUP=TIME"),
                       (["--intermediate", "6h=soon"], "TIME must be a number"),
                       (["--intermediate", "3h=3"], "3h"),
                       (["--intermediate", "6h=20"], "between 0 and gap=12")):
        res = _run(*common, *bad)
        assert res.exit_code != 0 and match in res.output, (bad, res.output)
