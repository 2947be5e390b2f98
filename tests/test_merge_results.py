"""benchmarks/merge_results.py: a partial rerun merged into a complete results folder."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from _scripts import load_benchmark

REPO = Path(__file__).resolve().parents[1]


def _load():
    return load_benchmark("merge_results")


def _folder(path: Path, methods: list[str], value: float, seeds=(0, 1), tasks=("a", "b"),
            revision: str = "r") -> Path:
    rows = [{"task": t, "method": m, "seed": s, "mmd2": value + 0.01 * s, "status": "ok"}
            for t in tasks for m in methods for s in seeds]
    path.mkdir()
    pd.DataFrame(rows).to_csv(path / "results.csv", index=False)
    (path / "config.yaml").write_text(f"name: {path.name}\n")
    (path / "manifest.json").write_text(json.dumps({"git_revision": revision,
                                                    "config_hash": path.name}))
    return path


def test_new_methods_replace_old_rows_and_the_rest_are_kept(tmp_path):
    mod = _load()
    old = _folder(tmp_path / "old", ["identity", "meanshift", "laot_validated", "flow"], 1.0,
                  revision="old-rev")
    new = _folder(tmp_path / "new", ["identity", "meanshift", "laot_validated"], 2.0)
    out = tmp_path / "out"
    df = mod.merge(new, old, out)
    assert len(df) == 4 * 2 * 2
    by = df.groupby("method")["mmd2"].min().to_dict()
    # rerun methods from NEW, the others from OLD, nothing twice
    assert by == {"identity": 2.0, "meanshift": 2.0, "laot_validated": 2.0, "flow": 1.0}
    assert not df.duplicated(["task", "method", "seed"]).any()
    back = pd.read_csv(out / "results.csv")
    assert back.sort_values(["task", "method", "seed"]).reset_index(drop=True).equals(
        df.sort_values(["task", "method", "seed"]).reset_index(drop=True))
    assert (out / "config.yaml").read_text() == "name: new\n"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["merged_from"]["old"][0]["methods"] == ["flow"]
    assert manifest["merged_from"]["old"][0]["git_revision"] == "old-rev"
    assert manifest["merged_from"]["new"]["methods"] == ["identity", "laot_validated",
                                                         "meanshift"]


def test_different_tasks_or_seeds_are_refused(tmp_path):
    mod = _load()
    old = _folder(tmp_path / "old", ["identity", "flow"], 1.0, seeds=(0, 1, 2))
    new = _folder(tmp_path / "new", ["identity"], 2.0, seeds=(0, 1))
    with pytest.raises(ValueError, match=r"pairs that NEW does not: \[\('a', 2\)"):
        mod.merge(new, old, tmp_path / "out")
    assert not (tmp_path / "out" / "results.csv").exists()


def test_old_methods_may_cover_fewer_tasks(tmp_path):
    mod = _load()
    old = _folder(tmp_path / "old", ["identity", "flow"], 1.0, tasks=("a",))
    new = _folder(tmp_path / "new", ["identity"], 2.0, tasks=("a", "b"))
    df = mod.merge(new, old, tmp_path / "out")
    assert sorted(df.loc[df["method"] == "flow", "task"].unique()) == ["a"]
    assert len(df) == 2 * 2 + 2


def test_several_old_folders_each_add_the_methods_not_yet_present(tmp_path):
    mod = _load()
    new = _folder(tmp_path / "new", ["identity", "laot"], 3.0)
    first = _folder(tmp_path / "first", ["identity", "cellot"], 2.0)
    second = _folder(tmp_path / "second", ["identity", "cellot", "flow"], 1.0)
    df = mod.merge(new, [first, second], tmp_path / "out")
    by = df.groupby("method")["mmd2"].min().to_dict()
    assert by == {"identity": 3.0, "laot": 3.0, "cellot": 2.0, "flow": 1.0}
    assert not df.duplicated(["task", "method", "seed"]).any()
    olds = json.loads((tmp_path / "out" / "manifest.json").read_text())["merged_from"]["old"]
    assert [o["methods"] for o in olds] == [["cellot"], ["flow"]]


def test_rows_follow_the_config_method_order(tmp_path):
    mod = _load()
    old = _folder(tmp_path / "old", ["identity", "laot", "flow"], 1.0)
    new = _folder(tmp_path / "new", ["identity", "flow"], 2.0)
    (new / "config.yaml").write_text(
        "name: new\nmethods:\n  - {name: identity}\n  - {name: laot}\n  - {name: flow}\n")
    df = mod.merge(new, old, tmp_path / "out")
    assert list(dict.fromkeys(df["method"])) == ["identity", "laot", "flow"]


def _seeds_folder(path: Path, seeds, value: float, methods=("identity", "laot"), extra: str = "") -> Path:
    p = _folder(path, list(methods), value, seeds=seeds)
    ms = ", ".join(f"{{name: {m}}}" for m in methods)
    (p / "config.yaml").write_text(f"name: cfg\nseeds: {list(seeds)}\nmethods: [{ms}]\n{extra}")
    return p


def test_add_seeds_stacks_disjoint_seeds_and_the_config_lists_their_union(tmp_path):
    mod = _load()
    old = _seeds_folder(tmp_path / "old", (0, 1, 2), 1.0, methods=("laot", "identity"))
    new = _seeds_folder(tmp_path / "new", (3, 4), 2.0, methods=("laot", "identity"))
    df = mod.add_seeds(new, old, tmp_path / "out")
    assert len(df) == 2 * 2 * 5
    # every row comes from the run that holds its seed, unchanged
    for _, r in df.iterrows():
        assert r["mmd2"] == pytest.approx((2.0 if r["seed"] >= 3 else 1.0) + 0.01 * r["seed"])
    # rows in the config's method order, then task and seed
    assert df["method"].tolist() == ["laot"] * 10 + ["identity"] * 10
    assert df["seed"].tolist()[:5] == [0, 1, 2, 3, 4]
    import yaml

    cfg = yaml.safe_load((tmp_path / "out" / "config.yaml").read_text())
    assert cfg["seeds"] == [0, 1, 2, 3, 4]
    man = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert man["merged_from"]["new"]["seeds"] == [3, 4]
    assert man["merged_from"]["old"][0]["seeds"] == [0, 1, 2]


@pytest.mark.parametrize("case", ["shared_seed", "other_methods", "other_config"])
def test_add_seeds_refuses_runs_that_are_not_one_config_on_other_seeds(tmp_path, case):
    mod = _load()
    old = _seeds_folder(tmp_path / "old", (0, 1, 2), 1.0)
    if case == "shared_seed":
        new, match = _seeds_folder(tmp_path / "new", (2, 3), 2.0), r"seeds \[2\] are in both"
    elif case == "other_methods":
        new, match = _seeds_folder(tmp_path / "new", (3,), 2.0, methods=("identity",)), "pairs"
    else:
        new, match = _seeds_folder(tmp_path / "new", (3,), 2.0, extra="metrics: {x: 1}\n"), r"\['metrics'\]"
    with pytest.raises(ValueError, match=match):
        mod.add_seeds(new, old, tmp_path / "out")
    assert not (tmp_path / "out").exists()
