"""Entropic matching: a Sinkhorn plan checked against a plain numpy Sinkhorn, and LAOT on it."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import logsumexp

from trackability.data.synthetic import near_identity
from trackability.matching import Matching, TransportPlan, assign, cost_matrix
from trackability.models import LAOT


def numpy_sinkhorn_barycentric(x, y, eps, n_iter=5000):
    """Independent reference: log-domain Sinkhorn with uniform marginals, then T(x_i)."""
    c = cost_matrix(x, y)
    n, m = c.shape
    log_a, log_b = np.full(n, -np.log(n)), np.full(m, -np.log(m))
    f, g = np.zeros(n), np.zeros(m)
    for _ in range(n_iter):
        f = eps * (log_a - logsumexp((g[None, :] - c) / eps, axis=1))
        g = eps * (log_b - logsumexp((f[:, None] - c) / eps, axis=0))
    plan = np.exp((f[:, None] + g[None, :] - c) / eps)
    return plan @ y / plan.sum(axis=1, keepdims=True), plan


def test_barycentric_matches_reference_sinkhorn():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 3)), rng.normal(size=(55, 3)) + 0.5
    m = assign(x, y, method="entropic", reg=0.1, tol=1e-12, max_iter=5000)
    eps = 0.1 * cost_matrix(x, y).mean()
    bary, plan = numpy_sinkhorn_barycentric(x, y, eps)
    assert isinstance(m, TransportPlan) and not isinstance(m, Matching)
    assert m.method == "entropic" and m.info["converged"]
    assert m.info["epsilon"] == pytest.approx(eps)
    np.testing.assert_allclose(m.barycentric, bary, atol=1e-7)
    np.testing.assert_allclose(m.plan, plan, atol=1e-9)
    np.testing.assert_array_equal(m.mode_target(), plan.argmax(axis=1))
    assert not hasattr(m, "target")  # no partner column for a soft plan
    assert m.cost == pytest.approx(40 * np.sum(plan * cost_matrix(x, y)), rel=1e-6)
    assert m.info["marginal_error"] < 1e-6


def test_small_reg_approaches_hard_optimum():
    pair = near_identity(50, 4, 0.3, random_state=2)
    hard = assign(pair.control, pair.treated)
    soft = assign(pair.control, pair.treated, method="entropic", reg=1e-3, max_iter=8000)
    assert np.array_equal(soft.mode_target(), hard.target)
    np.testing.assert_allclose(soft.barycentric, pair.treated[hard.target], atol=1e-3)


def test_laot_entropic_recovers_map():
    pair = near_identity(120, 5, 0.5, random_state=4)
    model = LAOT(max_iter=20, matching={"method": "entropic", "reg": 0.002, "max_iter": 3000})
    model.fit(pair.control, pair.treated)
    err = np.linalg.norm(model.W_ - pair.W.T)
    assert err < 0.05 * np.linalg.norm(np.eye(5) - pair.W.T)
    assert model.matching_.method == "entropic"
    assert model.matching_.barycentric.shape == (120, 5)


def test_laot_entropic_unequal_sizes_uses_every_cell():
    """150 treated cells for 200 controls: every control cell gets a barycentric partner (none is
    dropped) and the fitted map moves toward the truth. With uniform marginals the 50 controls
    without a partner pull the fit, so recovery is only partial (unbalanced OT would be needed)."""
    pair = near_identity(200, 5, 0.5, random_state=4)
    model = LAOT(max_iter=10, matching={"method": "entropic", "reg": 0.002, "max_iter": 2000})
    model.fit(pair.control, pair.treated[:150])
    assert len(model.matching_) == 200
    err = np.linalg.norm(model.W_ - pair.W.T)
    assert err < 0.6 * np.linalg.norm(np.eye(5) - pair.W.T)


def test_plan_validated_and_matching_one_to_one():
    with pytest.raises(ValueError, match="barycentric must have one row per source cell"):
        TransportPlan(np.zeros((3, 4)), np.zeros((2, 4)), 0.0)
    with pytest.raises(ValueError, match="target indices repeat"):
        Matching(np.arange(3), np.array([0, 2, 2]), 0.0)


def test_laot_entropic_plan_saved_and_not_written_as_partners(tmp_path):
    pair = near_identity(60, 3, 0.5, random_state=1)
    model = LAOT(max_iter=3, matching={"method": "entropic", "reg": 0.01, "max_iter": 500})
    model.fit(pair.control, pair.treated)
    assert isinstance(model.matching_, TransportPlan)
    path = model.save(tmp_path / "m")
    again = LAOT.load(path)
    np.testing.assert_array_equal(again.matching_.plan, model.matching_.plan)
    assert again.matching_.total_cost == model.matching_.total_cost


def test_entropic_bad_input():
    x = np.random.default_rng(1).normal(size=(10, 2))
    with pytest.raises(ValueError, match="reg must be a finite positive number"):
        assign(x, x, method="entropic", reg=0)
    with pytest.raises(ValueError, match="max_iter must be a positive integer"):
        assign(x, x, method="entropic", max_iter=0)
    with pytest.raises(TypeError, match="unknown option"):
        assign(x, x, method="entropic", k=3)
