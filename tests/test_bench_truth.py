"""Synthetic truth in the benchmark: exact split sizes, the training correspondence and true map,
and the ``recovery`` / ``map_error`` metrics scored on models that expose a matching / a map."""

from __future__ import annotations

import numpy as np
import pytest

from trackability.data.task_builders import build_task
from trackability.data.tasks import Task
from trackability.experiments.bench import run_benchmark
from trackability.experiments.config import validate_config
from trackability.metrics import recovery_rate
from trackability.metrics.registry import get_metric
from trackability.models import LAOT

SIZED = {"dims": [4], "gaps": [0.5], "n_train": 40, "n_test": 25, "noise": 0.0}


def test_sized_split_has_exact_parts_and_the_true_correspondence():
    task = build_task("synthetic", "d=4 gap=0.5", 3, **SIZED)
    s = task.sizes()
    assert (s["source_train"], s["target_train"]) == (40, 40)
    assert (s["source_val"], s["target_val"]) == (0, 0)
    assert (s["source_test"], s["target_test"]) == (25, 25)
    # noiseless: each training treated cell is the true map of the control cell it names
    np.testing.assert_allclose(task.target_train,
                               task.source_train[task.train_permutation] @ task.true_map)
    np.testing.assert_allclose(task.test_truth, task.source_test @ task.true_map)
    # the test target came from other cells than the test source (independent samples)
    assert not np.isclose(task.target_test[:, None, :], task.test_truth[None, :, :]).all(-1).any()


def test_default_split_also_carries_the_correspondence():
    task = build_task("synthetic", "d=3 gap=1", 0, dims=[3], gaps=[1.0], n=60)
    np.testing.assert_allclose(task.target_train,
                               task.source_train[task.train_permutation] @ task.true_map)


@pytest.mark.parametrize("opts, msg", [
    ({"n_train": 40}, "both n_train and n_test"),
    ({"n_train": 40, "n_test": 20, "n": 100}, "not both"),
])
def test_sized_options_conflicts_are_clear(opts, msg):
    with pytest.raises(ValueError, match=msg):
        build_task("synthetic", "d=10 gap=0.1", 0, **opts)


def test_task_checks_the_truth_it_carries(rng):
    x = rng.normal(size=(5, 2))
    with pytest.raises(ValueError, match="train_permutation"):
        Task("t", x, x, None, None, x, x, ["a", "b"], train_permutation=np.array([0, 1, 9, 2, 3]))
    with pytest.raises(ValueError, match="true_map"):
        Task("t", x, x, None, None, x, x, ["a", "b"], true_map=np.eye(3))


def test_recovery_and_map_error_equal_a_direct_fit(tmp_path):
    cfg = validate_config({
        "name": "truth", "seeds": 2,
        "tasks": [{"name": "syn", "dataset": "synthetic", "options": SIZED}],
        "methods": [{"name": "identity"}, {"name": "meanshift"}, {"name": "laot"}],
        "metrics": {"etest_permutations": 0, "replicate": False},
    })
    df = run_benchmark(cfg, tmp_path, backend="serial", progress=False)
    assert get_metric("recovery").higher_is_better and not get_metric("map_error").higher_is_better
    for seed in (0, 1):
        task = build_task("synthetic", "d=4 gap=0.5", seed, **SIZED)
        model = LAOT(random_state=seed).fit(task.source_train, task.target_train)
        row = df[(df["method"] == "laot") & (df["seed"] == seed)].iloc[0]
        assert row["recovery"] == pytest.approx(
            recovery_rate(task.train_permutation, model.matching_))
        assert row["map_error"] == pytest.approx(np.linalg.norm(model.W_ - task.true_map.T))
    # small gap, noiseless: LAOT finds the correspondence (the metric can tell success)
    assert (df.loc[df["method"] == "laot", "recovery"] == 1.0).all()
    # identity has no matching and no map: empty, not a made-up value
    assert df.loc[df["method"] == "identity", ["recovery", "map_error"]].isna().all().all()


def test_preprocessing_drops_the_true_map(tmp_path):
    cfg = validate_config({
        "name": "truth", "seeds": 1,
        "tasks": [{"name": "syn", "dataset": "synthetic", "options": SIZED,
                   "preprocessing": ["standardize"]}],
        "methods": [{"name": "laot"}], "require_baselines": False,
        "metrics": {"etest_permutations": 0, "replicate": False},
    })
    df = run_benchmark(cfg, tmp_path, backend="serial", progress=False)
    assert df["map_error"].isna().all()  # W is a map of the raw space, not the scaled one
    assert df["recovery"].notna().all()  # rows keep their order: the correspondence still holds


def test_map_error_is_the_frobenius_distance_to_the_transposed_true_map():
    from trackability.metrics.agreement import map_error
    from trackability.metrics.registry import get_metric

    rng = np.random.default_rng(0)
    w, t = rng.standard_normal((4, 4)), rng.standard_normal((4, 4))
    naive = np.sqrt(sum((w[i, j] - t[j, i]) ** 2 for i in range(4) for j in range(4)))
    assert map_error(w, t) == pytest.approx(naive, rel=1e-12)
    assert get_metric("map_error").function(w, t) == pytest.approx(naive, rel=1e-12)
    with pytest.raises(ValueError, match="same shape"):
        map_error(w, t[:3])
