"""Benchmark configs: shipped files validate; malformed ones fail naming the key and the problem."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from trackability.experiments.config import (
    BenchConfig,
    ConfigError,
    load_config,
    validate_config,
)

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))

GOOD = {
    "name": "t",
    "seeds": 3,
    "tasks": [{"name": "syn", "dataset": "synthetic", "options": {"dims": [2], "gaps": [0.1]}}],
    "methods": [{"name": "identity"}, {"name": "meanshift"},
                {"name": "laot", "params": {"max_iter": 5}}],
}


def _bad(**changes):
    data = copy.deepcopy(GOOD)
    for path, value in changes.items():
        node = data
        keys = path.split("__")
        for k in keys[:-1]:
            node = node[int(k)] if k.isdigit() else node[k]
        last = keys[-1]
        if last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value
    return data


def test_shipped_configs_exist_and_validate():
    names = {p.name for p in CONFIGS}
    for required in ("sachs.yaml", "sachs_ci.yaml", "kang.yaml", "ap1_within.yaml",
                     "ap1_replicate.yaml", "ap1_cross.yaml", "4i.yaml", "sciplex3.yaml",
                     "2i_horizon.yaml", "synthetic_degradation.yaml"):
        assert required in names
    for p in CONFIGS:
        cfg = load_config(p)
        keys = {m.key for m in cfg.methods}
        assert {"identity", "meanshift", "laot"} <= keys, p.name
        # ci_real: a CI smoke run; demo: `make demo --quick` (3 seeds; --full runs 10)
        assert len(cfg.seeds) >= {"ci_real": 2, "demo": 3}.get(p.stem, 5), p.name


def test_good_config_and_seed_expansion():
    cfg = validate_config(GOOD)
    assert isinstance(cfg, BenchConfig)
    assert cfg.seeds == [0, 1, 2]
    assert cfg.tasks[0].split.fractions == (0.6, 0.2, 0.2)
    assert cfg.methods[2].key == "laot"


def test_hash_is_stable_and_sensitive():
    a, b = validate_config(GOOD), validate_config(copy.deepcopy(GOOD))
    assert a.hash() == b.hash()
    c = validate_config(_bad(methods__2__params={"max_iter": 6}))
    assert c.hash() != a.hash()


@pytest.mark.parametrize(
    ("data", "where", "what"),
    [
        (_bad(tasks__0__optons={}), "tasks[0].optons", "unknown key"),
        (_bad(tasks__0__options={"dimz": [2]}), "tasks[0]", "unknown key(s) ['dimz']"),
        (_bad(tasks__0__dataset="mnist"), "tasks[0].dataset", "sachs"),
        (_bad(tasks__0__split={"fractions": [0.5, 0.3, 0.3]}), "tasks[0].split.fractions",
         "sum to 1"),
        (_bad(tasks__0__split={"kind": "random"}), "tasks[0].split.kind", "within"),
        (_bad(tasks__0__preprocessing=["zscore"]), "tasks[0].preprocessing", "must be one of"),
        (_bad(methods__2={"name": "laot", "grid": {"alpha": []}}), "methods[2]", "grid.alpha is empty"),
        (_bad(methods__2={"name": "magic"}), "methods[2]", "unknown method 'magic'"),
        (_bad(methods=[{"name": "laot"}]), "(top level)", "baselines"),
        (_bad(seeds=[1, 1]), "seeds", "duplicates"),
        (_bad(seeds=0), "seeds", "at least 1"),
        (_bad(methods=[{"name": "identity"}, {"name": "identity"}, {"name": "meanshift"}]),
         "(top level)", "duplicate name"),
        (_bad(tasks__0__methods=["cellot"]), "(top level)", "tasks[0].methods"),
        (_bad(metrics={"w2_max_cells": 1}), "metrics.w2_max_cells", "greater than or equal"),
    ],
)
def test_errors_name_the_key(data, where, what):
    with pytest.raises(ConfigError) as info:
        validate_config(data, source="my.yaml")
    msg = str(info.value)
    assert msg.startswith("my.yaml: invalid benchmark config")
    assert where in msg and what in msg, msg


def test_baselines_can_be_waived():
    cfg = validate_config({**_bad(methods=[{"name": "laot"}]), "require_baselines": False})
    assert [m.name for m in cfg.methods] == ["laot"]


def test_yaml_syntax_error_has_line(tmp_path):
    p = tmp_path / "broken.yaml"
    p.write_text("name: x\ntasks:\n  - name: a\n   dataset: sachs\n")
    with pytest.raises(ConfigError, match=r"broken.yaml: not valid YAML \(line 4"):
        load_config(p)


def test_missing_file_and_non_mapping(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    p = tmp_path / "list.yaml"
    p.write_text(yaml.safe_dump([1, 2]))
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(p)


def test_misspelt_hyperparameter_fails_at_load_naming_key_and_valid_ones(tmp_path):
    data = copy.deepcopy(GOOD)
    data["methods"][2]["params"] = {"alfa": 1.0}
    path = tmp_path / "typo.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    msg = str(info.value)
    assert str(path) in msg and "methods[2]" in msg and "'alfa'" in msg
    assert "valid: ['alpha', 'cost'" in msg  # the valid names, read from LAOT's signature


def test_misspelt_grid_key_fails_at_load():
    data = copy.deepcopy(GOOD)
    data["methods"][2]["grid"] = {"max_iters": [5, 10]}
    with pytest.raises(ConfigError, match=r"methods\[2\].*grid: model 'laot' has no .*'max_iters'"):
        validate_config(data)


def test_method_names_are_case_insensitive():
    data = copy.deepcopy(GOOD)
    data["methods"] = [{"name": "Identity"}, {"name": "MEANSHIFT"},
                       {"name": "laot", "method": "LAOT", "params": {"alpha": 0.5}}]
    cfg = validate_config(data)  # the baselines are recognised in any case
    assert [m.key for m in cfg.methods] == ["Identity", "MEANSHIFT", "LAOT"]
    data["methods"][2]["params"] = {"Alpha": 0.5}  # parameter names are not
    with pytest.raises(ConfigError, match="'Alpha'"):
        validate_config(data)


@pytest.mark.parametrize(("select", "grid", "match"), [
    ({"rule": "lowest"}, {"alpha": [0.0, 1.0]}, r"methods\[2\]\.select\.rule"),
    ({"rule": "one_se", "simpler": {"alpha": "larger"}}, {"alpha": [0.0, 1.0]},
     "rule 'one_se' needs folds"),
    ({"rule": "one_se", "folds": 5}, {"alpha": [0.0, 1.0]}, "rule 'one_se' needs simpler"),
    ({"rule": "one_se", "folds": 1, "simpler": {"alpha": "larger"}}, {"alpha": [0.0, 1.0]},
     r"select\.folds"),
    ({"rule": "one_se", "folds": 5, "simpler": {"alpha": "up"}}, {"alpha": [0.0, 1.0]},
     r"select\.simpler\.alpha"),
    ({"rule": "one_se", "folds": 5, "simpler": {"max_iter": "larger"}}, {"alpha": [0.0, 1.0]},
     r"select\.simpler\.max_iter: not a key of grid"),
    ({"rule": "one_se", "folds": 5, "simpler": {"cost": "larger"}},
     {"cost": ["sqeuclidean", "euclidean"]}, "grid values must be numbers"),
    ({"rule": "min", "folds": 5}, {}, "select is set but the method has no grid"),
    ({"rule": "min", "fold": 5}, {"alpha": [0.0, 1.0]}, "unknown key"),
    ({"rule": "min", "folds": "groups"}, {"alpha": [0.0, 1.0]}, r"select\.folds"),
    ({"rule": "min", "folds": 51}, {"alpha": [0.0, 1.0]}, r"select\.folds"),
])
def test_bad_select_fails_naming_the_key(select, grid, match):
    data = copy.deepcopy(GOOD)
    data["methods"][2].update({"grid": grid, "select": select})
    with pytest.raises(ConfigError, match=match):
        validate_config(data)


def test_select_and_infinite_grid_values_survive_the_dump(tmp_path):
    from trackability.experiments.config import dump_config

    data = copy.deepcopy(GOOD)
    data["methods"][2].update({"grid": {"alpha": [0.0, float("inf")]},
                               "select": {"rule": "one_se", "folds": 5,
                                          "simpler": {"alpha": "larger"}}})
    cfg = validate_config(data)
    dumped = cfg.model_dump(mode="json")["methods"][2]
    assert dumped["grid"]["alpha"] == [0.0, float("inf")]  # not null
    path = tmp_path / "c.yaml"
    path.write_text(dump_config(cfg))
    again = load_config(path)
    assert again.hash() == cfg.hash() and again.methods[2].select.folds == 5
