"""FlowMatching: known maps, contexts, the OT coupling and ODE solvers, seeding, persistence, errors.

Small networks and a few hundred iterations; every fit runs single-threaded on CPU.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch")

from trackability.metrics import median_heuristic_gamma, mmd2  # noqa: E402
from trackability.models import NotFittedError, PerturbationModel  # noqa: E402
from trackability.models.flow_matching import FlowMatching, integrate, ot_pairs  # noqa: E402
from trackability.models.registry import get_model as resolve_method  # noqa: E402

pytestmark = pytest.mark.neural


def _small(**kw) -> FlowMatching:
    params = {"hidden": (64, 64), "max_iter": 600, "batch_size": 128, "eval_every": 50,
              "patience": None, "random_state": 0}
    params.update(kw)
    return FlowMatching(**params)


@pytest.fixture(scope="module")
def linear_task():
    """Source N(0, I_4); target A x + b with A symmetric positive definite: the OT map is affine."""
    rng = np.random.default_rng(11)
    d = 4
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    a = q @ np.diag([1.8, 1.3, 0.8, 0.5]) @ q.T
    b = np.array([2.0, -1.0, 0.5, 1.5])
    x, x_test = rng.normal(size=(1200, d)), rng.normal(size=(500, d))
    return {"x": x, "y": rng.normal(size=(1200, d)) @ a + b, "x_test": x_test,
            "truth": x_test @ a + b, "y_fresh": rng.normal(size=(500, d)) @ a + b}


@pytest.fixture(scope="module")
def fitted(linear_task):
    return _small().fit(linear_task["x"], linear_task["y"])


def test_recovers_known_affine_map(fitted, linear_task):
    x_test, truth = linear_task["x_test"], linear_task["truth"]
    pred = fitted.predict(x_test)
    gamma = median_heuristic_gamma(linear_task["x"], linear_task["y"])
    ident = mmd2(x_test, linear_task["y_fresh"], gamma=gamma)
    flow = mmd2(pred, linear_task["y_fresh"], gamma=gamma)
    floor = abs(mmd2(truth, linear_task["y_fresh"], gamma=gamma))
    assert flow < 0.05 * ident
    assert flow < floor + 0.01  # as close to fresh target cells as the true images are
    # per-cell: minibatch OT approximates the OT map, so each cell lands near its true image
    err = np.sqrt(np.mean(np.sum((pred - truth) ** 2, axis=1)))
    err_id = np.sqrt(np.mean(np.sum((x_test - truth) ** 2, axis=1)))
    assert err < 0.25 * err_id


def test_history_early_stopping_and_fitted_attributes(linear_task):
    m = _small(max_iter=3000, patience=2, eval_every=50).fit(linear_task["x"], linear_task["y"])
    h = m.history_
    assert list(h.columns[:3]) == ["step", "train_loss", "val_score"]
    assert h["step"].dtype.kind == "i"
    assert m.n_iter_ < 3000 and m.n_iter_ == h["step"].iloc[-1]
    assert m.stop_reason_ == "early_stopping"
    # stopped exactly `patience` evaluations after the best one, and kept the best
    best_row = int(h["val_score"].idxmin())
    assert h["step"].iloc[best_row] == m.best_step_
    assert len(h) - 1 - best_row == 2
    assert m.n_train_[0] + m.n_val_[0] == linear_task["x"].shape[0]
    n_params = sum(p.numel() for p in m.net_.parameters())
    assert m.n_parameters_ == n_params == (4 + 9 + 4) * 64 + 64 + 64 * 64 + 64 + 64 * 4 + 4
    assert m.fit_cpu_seconds_ > 0


def test_contexts_pair_within_their_context():
    """Two contexts move in opposite directions: only labelled (within-context) pairs get it."""
    rng = np.random.default_rng(5)
    d = 3
    xa, xb = rng.normal(size=(400, d)), rng.normal(size=(400, d)) + [1.0, 0, 0]
    ya, yb = xa[rng.permutation(400)] + [0, 3.0, 0], xb[rng.permutation(400)] - [0, 3.0, 0]
    src, tgt = np.vstack([xa, xb]), np.vstack([ya, yb])
    ls, lt = np.repeat(["a", "b"], 400), np.repeat(["a", "b"], 400)
    ta, tb = rng.normal(size=(200, d)), rng.normal(size=(200, d)) + [1.0, 0, 0]
    fa, fb = rng.normal(size=(200, d)) + [0, 3.0, 0], rng.normal(size=(200, d)) + [1, -3.0, 0]
    gamma = median_heuristic_gamma(src, tgt)
    # exact descriptors (no noise): here the two contexts' descriptors differ by < 1 sd
    lab = _small(max_iter=500, condition_noise=0.0).fit(src, tgt, source_labels=ls, target_labels=lt)
    plain = _small(max_iter=500).fit(src, tgt)
    pa = lab.predict(ta, labels=["a"] * 200)
    pb = lab.predict(tb, labels=np.array(["b"] * 200))
    for pred, x, fresh in ((pa, ta, fa), (pb, tb, fb)):
        assert mmd2(pred, fresh, gamma=gamma) < 0.05 * mmd2(x, fresh, gamma=gamma)
    # mixed labels in one call give the same as one call per context
    both = lab.predict(np.vstack([ta, tb]), labels=np.repeat(["a", "b"], 200))
    np.testing.assert_allclose(both, np.vstack([pa, pb]), rtol=1e-6, atol=1e-6)
    assert mmd2(plain.predict(ta), fa, gamma=gamma) > 5 * mmd2(pa, fa, gamma=gamma)
    assert lab.contexts_ == ["a", "b"] and lab.trained_contexts_ == ["a", "b"]
    np.testing.assert_allclose(lab.context_means_[1], xb.mean(axis=0))


def test_held_out_context_gets_its_own_descriptor():
    """A context with control cells only has a descriptor from them and no training pairs."""
    rng = np.random.default_rng(2)
    src = np.vstack([rng.normal(size=(200, 2)), rng.normal(size=(60, 2)) + 4.0])
    tgt = rng.normal(size=(200, 2)) + [0, 2.0]
    ls = np.array(["a"] * 200 + ["held"] * 60)
    m = _small(max_iter=100).fit(src, tgt, source_labels=ls, target_labels=["a"] * 200)
    assert m.contexts_ == ["a", "held"] and m.trained_contexts_ == ["a"]
    np.testing.assert_allclose(m.context_means_[1], src[200:].mean(axis=0))
    x = rng.normal(size=(10, 2)) + 4.0
    # a seen context uses its stored descriptor; an unseen one the mean of the cells given
    seen = m.predict(x, labels=["held"] * 10)
    unseen = m.predict(x, labels=["new"] * 10)
    ref = m.predict(x, labels=["held"] * 10)
    np.testing.assert_array_equal(seen, ref)
    assert not np.allclose(seen, unseen)


def test_seeds_reproduce_bit_identically(linear_task):
    x, y = linear_task["x"][:300], linear_task["y"][:300]
    a = _small(max_iter=120, random_state=3).fit(x, y)
    b = _small(max_iter=120, random_state=3).fit(x, y)
    c = _small(max_iter=120, random_state=4).fit(x, y)
    np.testing.assert_array_equal(a.predict(x), b.predict(x))
    np.testing.assert_array_equal(a.history_.to_numpy(), b.history_.to_numpy())
    assert not np.array_equal(a.predict(x), c.predict(x))


def test_save_load_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(200, 3)), rng.normal(size=(200, 3)) + 1.0
    labels = np.repeat(["p", "q"], 100)
    m = _small(max_iter=100, solver="rk4", n_steps=5).fit(
        x, y, source_labels=labels, target_labels=labels
    )
    path = m.save(tmp_path / "flow")
    loaded = PerturbationModel.load(path)
    assert isinstance(loaded, FlowMatching) and loaded.get_params()["solver"] == "rk4"
    for lab in (labels, None, ["zz"] * 200):
        np.testing.assert_array_equal(m.predict(x, labels=lab), loaded.predict(x, labels=lab))
    assert loaded.contexts_ == ["p", "q"] and loaded.history_.equals(m.history_)
    with np.load(path, allow_pickle=False) as data:  # no pickled objects inside
        assert "extra:net.out.weight" in data.files


def test_ot_pairs_is_the_exact_assignment():
    rng = np.random.default_rng(1)
    x0, x1 = rng.normal(size=(6, 2)), rng.normal(size=(6, 2))
    perm = ot_pairs(x0, x1)
    cost = lambda p: np.sum((x0 - x1[list(p)]) ** 2)  # noqa: E731
    brute = min(itertools.permutations(range(6)), key=cost)
    assert np.isclose(cost(perm), cost(brute))
    assert sorted(perm.tolist()) == list(range(6))
    with pytest.raises(ValueError, match="equal batch sizes"):
        ot_pairs(x0, x1[:5])


@pytest.mark.parametrize(("solver", "steps", "tol"), [("euler", 200, 2e-2), ("midpoint", 20, 2e-3),
                                                        ("rk4", 10, 1e-5)])
def test_integrators_solve_a_linear_ode(solver, steps, tol):
    """dx/dt = x + t from x(0) = x0 has x(1) = (x0 + 1) e - 2."""
    x0 = np.array([0.5, -1.0, 2.0])
    out = integrate(lambda x, t: x + t, x0, steps, solver)
    np.testing.assert_allclose(out, (x0 + 1) * np.e - 2, rtol=tol)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"max_iter": 0}, "max_iter must be an integer >= 1"),
        ({"batch_size": 2.5}, "batch_size must be an integer"),
        ({"hidden": ()}, "hidden must list at least one"),
        ({"lr": -1.0}, "lr must be a finite positive"),
        ({"sigma": -0.1}, "sigma must be a finite non-negative"),
        ({"condition_noise": float("nan")}, "condition_noise must be a finite non-negative"),
        ({"coupling": "sinkhorn"}, "coupling must be one of"),
        ({"condition": "onehot"}, "condition must be one of"),
        ({"solver": "dopri5"}, "solver must be one of"),
        ({"validation_fraction": 1.0}, "validation_fraction must be in"),
        ({"validation_fraction": 0.0, "patience": 3}, "needs validation_fraction > 0"),
        ({"n_threads": 0}, "n_threads must be a positive integer"),
    ],
)
def test_bad_parameters(params, match):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 2))
    model = FlowMatching(**params)  # constructing never validates
    with pytest.raises((ValueError, TypeError), match=match):
        model.fit(x, x + 1.0)


def test_bad_labels_and_inputs():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 2))
    with pytest.raises(ValueError, match="give both source_labels and target_labels"):
        _small(max_iter=5).fit(x, x, source_labels=["a"] * 40)
    with pytest.raises(ValueError, match="source_labels has 3 labels but there are 40 cells"):
        _small(max_iter=5).fit(x, x, source_labels=["a"] * 3, target_labels=["a"] * 40)
    with pytest.raises(ValueError, match="without any control cells"):
        _small(max_iter=5).fit(x, x, source_labels=["a"] * 40, target_labels=["b"] * 40)
    with pytest.raises(ValueError, match="missing labels"):
        _small(max_iter=5).fit(x, x, source_labels=[None] * 40, target_labels=["a"] * 40)
    with pytest.raises(NotFittedError):
        FlowMatching().predict(x)
    m = _small(max_iter=5).fit(x, x + 1)
    assert m.n_iter_ == 5 and m.stop_reason_ == "max_iter"  # the cap, not the criterion
    with pytest.raises(ValueError, match="source has 3 features but FlowMatching was fitted on 2"):
        m.predict(np.zeros((4, 3)))


def test_registered_for_the_bench():
    assert resolve_method("flow_matching") is FlowMatching
    # the bench passes labels to models whose _fit / _predict accept them
    import inspect

    assert {"source_labels", "target_labels"} <= set(inspect.signature(FlowMatching._fit).parameters)
    assert "labels" in inspect.signature(FlowMatching._predict).parameters


def test_bench_rows_record_what_stopped_training(tmp_path):
    """A row says how long its model trained and why it stopped (the converged tables rely on it)."""
    from trackability.experiments.bench import run_benchmark
    from trackability.experiments.config import validate_config

    cfg = validate_config({
        "name": "syn", "seeds": 1,
        "tasks": [{"name": "syn", "dataset": "synthetic",
                   "options": {"dims": [3], "gaps": [0.5], "n": 60, "noise": 0.0}}],
        "methods": [{"name": "identity"}, {"name": "meanshift"},
                    {"name": "laot", "params": {"max_iter": 20}},
                    {"name": "flow_matching", "params": {"hidden": [16], "max_iter": 30,
                                                         "eval_every": 10, "patience": None,
                                                         "n_threads": 1}}],
        "metrics": {"w2_max_cells": 50},
    })
    df = run_benchmark(cfg, tmp_path, backend="serial", progress=False).set_index("method")
    fm = df.loc["flow_matching"]
    assert fm["model_n_iter"] == 30 and fm["model_stop_reason"] == "max_iter"
    assert fm["model_best_step"] in (10, 20, 30)  # an evaluated step: the kept weights
    assert 1 <= df.loc["laot", "model_n_iter"] <= 20  # LAOT's alternation steps
    assert pd.isna(df.loc["identity"].get("model_stop_reason", np.nan))
