"""Restricted isometry, Lipschitz rate, critical gap, regime and the diagnose report."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

from trackability.data.synthetic import near_identity, seed_faithful
from trackability.diagnostics import (
    critical_gap,
    diagnose,
    lipschitz_from_map,
    lipschitz_from_timecourse,
    lipschitz_rate,
    max_cells_for_gap,
    max_gap_for_cells,
    min_separation,
    regime,
    rip,
    rip_constant,
)


def brute_pair_eigs(x: np.ndarray) -> tuple[float, float, tuple[int, int]]:
    """Extreme eigenvalues of all 2x2 Gram matrices, with numpy's symmetric eigensolver."""
    lo, hi, worst = np.inf, -np.inf, None
    for i, j in itertools.combinations(range(x.shape[0]), 2):
        sub = x[[i, j]]
        ev = np.linalg.eigvalsh(sub @ sub.T)
        if ev[0] < lo:
            lo, worst = ev[0], (i, j)
        hi = max(hi, ev[1])
    return lo, hi, worst


# -- restricted isometry ------------------------------------------------------------------------
@pytest.mark.parametrize("n,d,block", [(30, 5, 7), (25, 40, 1024), (12, 2, 1)])
def test_rip_matches_brute_force_over_all_pairs(rng, n, d, block):
    x = rng.normal(size=(n, d)) * 3.0 + 1.0
    lo, hi, worst = brute_pair_eigs(x)
    res = rip(x, block_size=block, progress=False)
    assert res.lambda_min == pytest.approx(lo, rel=1e-9, abs=1e-12)
    assert res.lambda_max == pytest.approx(hi, rel=1e-12)
    assert set(res.worst_pair) == set(worst)
    assert res.delta == pytest.approx((hi - lo) / (hi + lo), rel=1e-9)
    assert res.n_pairs_evaluated == n * (n - 1) // 2 and not res.sampled
    # the paper's literal convention (data as they are)
    raw = rip(x, scale=1.0, progress=False)
    assert raw.delta == pytest.approx(max(hi - 1.0, 1.0 - lo), rel=1e-9)


def test_rip_is_the_definition_over_2_sparse_directions(rng):
    """(1 - delta)|v|^2 <= |c X0 v|^2 <= (1 + delta)|v|^2 for random 2-sparse v, tight at the worst."""
    x = rng.normal(size=(15, 6))
    res = rip(x, progress=False)
    c2 = res.scale**2
    ratios = []
    for _ in range(20000):
        i, j = rng.choice(15, size=2, replace=False)
        v = rng.normal(size=2)
        xv = v[0] * x[i] + v[1] * x[j]
        ratios.append(c2 * (xv @ xv) / (v @ v))
    ratios = np.array(ratios)
    assert ratios.min() >= 1 - res.delta - 1e-12
    assert ratios.max() <= 1 + res.delta + 1e-12
    # the worst pair's lowest eigenvector attains the lower bound exactly
    i, j = res.worst_pair
    g = x[[i, j]] @ x[[i, j]].T
    ev, vec = np.linalg.eigh(g)
    v = vec[:, 0]
    xv = v[0] * x[i] + v[1] * x[j]
    assert c2 * (xv @ xv) == pytest.approx(1 - res.delta, rel=1e-9)
    # single cells (1-sparse v) lie inside the pair bounds too
    norms = c2 * np.einsum("ij,ij->i", x, x)
    assert np.all(np.abs(norms - 1) <= res.delta + 1e-12)


def test_optimal_scale_minimises_delta_and_is_unit_free(rng):
    x = rng.normal(size=(20, 4)) + 2.0
    res = rip(x, progress=False)
    grid = np.linspace(0.2, 3.0, 2000) * res.scale
    deltas = [rip(x, scale=float(c), progress=False).delta for c in grid[::50]]
    assert min(deltas) >= res.delta - 1e-12
    for factor in (1e-3, 7.0, 1e4):
        assert rip_constant(factor * x) == pytest.approx(res.delta, rel=1e-9)


def test_rip_known_cases(rng):
    assert rip_constant(np.eye(4)) == pytest.approx(0.0, abs=1e-15)
    # two cells at 60 degrees, unit norm: Gram eigenvalues 1 -+ 1/2 -> delta = 1/2
    x = np.array([[1.0, 0.0], [0.5, np.sqrt(3) / 2]])
    assert rip_constant(x) == pytest.approx(0.5)
    # duplicate (or parallel) cells: the isometry fails
    y = rng.normal(size=(10, 3))
    y[7] = 2.5 * y[2]
    res = rip(y, progress=False)
    assert res.delta == pytest.approx(1.0) and not res.holds
    assert set(res.worst_pair) == {2, 7}


def test_rip_k1_and_center_and_bad_k(rng):
    x = rng.normal(size=(10, 3)) + 1
    sq = np.sum(x**2, axis=1)
    r1 = rip(x, k=1)
    assert r1.delta == pytest.approx((sq.max() - sq.min()) / (sq.max() + sq.min()))
    xc = x - x.mean(axis=0)
    assert rip_constant(x, center=True) == pytest.approx(rip_constant(xc), rel=1e-12)
    with pytest.raises(ValueError, match="k=3"):
        rip(x, k=3)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        rip(x, k=0)


def test_rip_sampled_above_limit_is_reported_and_seeded(rng):
    x = rng.normal(size=(60, 4))
    exact = rip(x, progress=False)
    s1 = rip(x, max_pairs=300, random_state=1)
    s2 = rip(x, max_pairs=300, random_state=1)
    assert s1.sampled and s1.n_pairs_evaluated == 300 and s1.n_pairs_total == 60 * 59 // 2
    assert s1.delta == s2.delta
    assert s1.delta <= exact.delta + 1e-12  # a sample can only miss the worst pair
    assert s1.lambda_min >= exact.lambda_min - 1e-12


@pytest.mark.parametrize(
    "bad,match",
    [
        (np.array([[1.0, np.nan], [0.0, 1.0]]), "NaN"),
        (np.ones((1, 3)), "at least 2"),
        (np.ones(5), "2-D"),
        (np.zeros((0, 3)), "empty"),
    ],
)
def test_rip_bad_input(bad, match):
    with pytest.raises(ValueError, match=match):
        rip_constant(bad)


def test_rip_bad_options(rng):
    x = rng.normal(size=(5, 2))
    with pytest.raises(ValueError, match="scale"):
        rip(x, scale="unit")
    with pytest.raises(ValueError, match="scale"):
        rip(x, scale=-1.0)
    with pytest.raises(ValueError, match="max_pairs"):
        rip(x, max_pairs=0)


def test_min_separation_brute_force(rng):
    x = rng.normal(size=(40, 3))
    d = np.linalg.norm(x[:, None] - x[None], axis=2)
    d[np.diag_indices(40)] = np.inf
    sep = min_separation(x, block_size=9)
    assert sep.distance == pytest.approx(d.min(), rel=1e-9)
    assert d[sep.pair] == pytest.approx(d.min())
    # the RIP eigenvalue bounds the separation: |xi - xj|^2 >= 2 lambda_min
    assert sep.distance**2 >= 2 * rip(x, progress=False).lambda_min - 1e-12


# -- critical gap, regime, design calculator ----------------------------------------------------
def test_critical_gap_formula_and_edges():
    assert critical_gap(0.5, 100, 0.1) == pytest.approx(math.sqrt(0.5 / (2 * 100 * 0.01)))
    assert critical_gap(0.2, 50, 2.0, scale=3.0) == pytest.approx(
        math.sqrt(0.8 / (2 * 50 * 36.0))
    )
    assert critical_gap(1.0, 10, 1.0) == 0.0
    assert critical_gap(0.3, 10, 0.0) == math.inf
    with pytest.raises(ValueError, match="restricted isometry fails"):
        critical_gap(1.2, 10, 1.0)
    with pytest.raises(ValueError, match="at least 2"):
        critical_gap(0.1, 1, 1.0)
    with pytest.raises(TypeError, match="integer"):
        critical_gap(0.1, 10.5, 1.0)
    with pytest.raises(ValueError, match="L must be"):
        critical_gap(0.1, 10, -1.0)
    with pytest.raises(ValueError, match="delta"):
        critical_gap(float("nan"), 10, 1.0)


def test_regime_bands():
    assert regime(0.5, 1.0) == ("trackable", 0.5)
    assert regime(1.0, 1.0) == ("borderline", 1.0)
    assert regime(2.0, 1.0) == ("untrackable", 2.0)
    assert regime(0.0, 0.0) == ("trackable", 0.0)
    name, ratio = regime(1.0, 0.0)
    assert name == "untrackable" and math.isinf(ratio)
    assert regime(1.0, math.inf) == ("trackable", 0.0)
    assert regime(0.7, 1.0, borderline=(0.5, 2.0))[0] == "borderline"
    with pytest.raises(ValueError, match="borderline"):
        regime(1.0, 1.0, borderline=(1.5, 2.0))
    with pytest.raises(ValueError, match="gap"):
        regime(-1.0, 1.0)


@pytest.mark.parametrize("gap,delta,L", [(0.5, 0.5, 0.1), (0.013, 0.31, 2.7), (1e-3, 0.9, 40.0)])
def test_design_calculator_inverts_the_critical_gap(gap, delta, L):
    n = max_cells_for_gap(gap, delta, L)
    assert critical_gap(delta, n, L) >= gap * (1 - 1e-12)
    assert critical_gap(delta, n + 1, L) < gap
    assert max_gap_for_cells(n, delta, L) == critical_gap(delta, n, L)


# -- Lipschitz rate ------------------------------------------------------------------------------
@pytest.mark.parametrize("centered", [True, False])
def test_lipschitz_from_map_recovers_the_known_rate(centered):
    pair = near_identity(80, 10, gap=0.3, centered=centered, random_state=3)
    est = lipschitz_from_map(pair.control, pair.true_map(pair.control), 0.3)
    assert est.sup == pytest.approx(pair.lipschitz_rate, rel=1e-10)
    per_cell = np.linalg.norm(pair.control @ pair.E, axis=1)
    assert est.robust == pytest.approx(np.quantile(per_cell, 0.95), rel=1e-10)
    # the same through a callable and an object with predict
    assert lipschitz_rate(pair.control, pair.true_map, 0.3).sup == pytest.approx(est.sup)

    class Fitted:
        def predict(self, x):
            return pair.true_map(x)

    assert lipschitz_rate(pair.control, Fitted(), gap=0.3).sup == pytest.approx(est.sup)


def test_lipschitz_seed_faithful_rate():
    pair = seed_faithful(20, 5, trial=0)
    est = lipschitz_from_map(pair.control, pair.true_map(pair.control), 5.0)
    assert est.sup == pytest.approx(pair.lipschitz_rate, rel=1e-10)


def test_lipschitz_from_timecourse_known_rate(rng):
    pair = near_identity(60, 8, gap=0.0, random_state=11)
    times = [0.0, 0.01, 0.025, 0.04]
    pops, perms = [], []
    for t in times:
        perm = rng.permutation(60)
        pops.append(pair.map_at(t, pair.control)[perm])
        perms.append(perm)
    # with known correspondences: exact for any spacing
    matchings = []
    for k in range(len(times) - 1):
        inv_prev = np.argsort(perms[k])  # control cell -> row at time k
        matchings.append(inv_prev[perms[k + 1]])  # row at k+1 -> its row at k
    known = lipschitz_from_timecourse(pops, times, matchings=matchings)
    assert known.sup == pytest.approx(pair.lipschitz_rate, rel=1e-9)
    assert known.n == 60 * 3
    # with the optimal matching: exact at these short spacings
    est = lipschitz_rate(populations=pops, times=times)
    assert est.sup == pytest.approx(pair.lipschitz_rate, rel=1e-9)


def test_lipschitz_bad_input(rng):
    x = rng.normal(size=(5, 2))
    with pytest.raises(ValueError, match="gap"):
        lipschitz_from_map(x, x, 0.0)
    with pytest.raises(ValueError, match="shape"):
        lipschitz_from_map(x, x[:4], 1.0)
    with pytest.raises(ValueError, match="strictly increasing"):
        lipschitz_from_timecourse([x, x], [1.0, 1.0])
    with pytest.raises(ValueError, match="one time per population"):
        lipschitz_from_timecourse([x, x], [0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="at least two"):
        lipschitz_from_timecourse([x], [0.0])
    with pytest.raises(ValueError, match="features"):
        lipschitz_from_timecourse([x, x[:, :1]], [0.0, 1.0])
    with pytest.raises(ValueError, match="quantile"):
        lipschitz_from_map(x, x, 1.0, quantile=1.5)
    with pytest.raises(ValueError, match="either"):
        lipschitz_rate(x, x, 1.0, populations=[x, x], times=[0, 1])
    with pytest.raises(ValueError, match="needs"):
        lipschitz_rate(x)


# -- diagnose ------------------------------------------------------------------------------------
def test_diagnose_matches_independent_computation():
    pair = near_identity(50, 12, gap=0.02, random_state=5)
    lo, hi, _ = brute_pair_eigs(pair.control)
    L = pair.lipschitz_rate
    rep = diagnose(pair.control, pair.treated, 0.02, L=L, progress=False)
    expected = math.sqrt(lo / (2 * 50)) / L  # the unit-free form of sqrt((1-delta)/(2 n (cL)^2))
    assert rep.Delta == pytest.approx(expected, rel=1e-8)
    assert rep.delta == pytest.approx((hi - lo) / (hi + lo), rel=1e-8)
    assert rep.ratio == pytest.approx(0.02 / expected, rel=1e-8)
    assert rep.regime == ("trackable" if rep.ratio < 0.8 else "untrackable")
    d = rep.to_dict()
    for key in ("delta", "L", "Delta", "ratio", "regime", "n", "d", "assumptions", "provenance"):
        assert key in d
    assert json.loads(rep.to_json())["regime"] == rep.regime
    text = str(rep)
    assert rep.regime.upper() in text and "delta" in text
    assert rep.ci == {}  # L given: nothing is estimated


def test_diagnose_regimes_and_estimated_L():
    pair = near_identity(60, 10, gap=0.0, random_state=2)
    base = diagnose(pair.control, pair.control, 1.0, L=pair.lipschitz_rate, progress=False)
    delta_t = base.Delta
    small = near_identity(60, 10, gap=0.3 * delta_t, random_state=2)
    rep = diagnose(small.control, small.treated, 0.3 * delta_t, progress=False, n_boot=50)
    # below Delta the optimal matching is the truth, so the matched L is the true L
    assert rep.L_source == "matching"
    assert rep.L == pytest.approx(pair.lipschitz_rate, rel=1e-8)
    assert rep.regime == "trackable"
    assert rep.ci["L"][0] <= rep.L <= rep.ci["L"][1] + 1e-12
    assert rep.ci["ratio"][0] <= rep.ratio <= rep.ci["ratio"][1] + 1e-12
    big = diagnose(pair.control, pair.control, 5 * delta_t, L=pair.lipschitz_rate, progress=False)
    assert big.regime == "untrackable"
    # seeded bootstrap
    again = diagnose(small.control, small.treated, 0.3 * delta_t, progress=False, n_boot=50)
    assert again.ci == rep.ci


def test_diagnose_delta_is_invariant_to_units():
    pair = near_identity(40, 6, gap=0.05, random_state=9)
    a = diagnose(pair.control, pair.treated, 0.05, progress=False, n_boot=20)
    b = diagnose(1e3 * pair.control, 1e3 * pair.treated, 0.05, progress=False, n_boot=20)
    assert b.delta == pytest.approx(a.delta, rel=1e-9)
    assert b.L == pytest.approx(1e3 * a.L, rel=1e-9)
    assert b.Delta == pytest.approx(a.Delta, rel=1e-9)
    assert b.ratio == pytest.approx(a.ratio, rel=1e-9)
    assert b.regime == a.regime
    # with the mapped form too
    m = diagnose(pair.control, pair.treated, 0.05, mapped=pair.true_map, progress=False)
    assert m.L_source == "map" and m.L == pytest.approx(pair.lipschitz_rate)


def test_diagnose_reports_failed_isometry_and_unequal_sizes(rng):
    x = rng.normal(size=(20, 3))
    x[5] = x[4]
    y = rng.normal(size=(25, 3))
    rep = diagnose(x, y, 0.1, L=1.0, progress=False)
    assert rep.Delta == 0.0 and math.isinf(rep.ratio) and rep.regime == "untrackable"
    assert "restricted isometry" in rep.contradicted
    assert "one treated cell per control cell" in rep.contradicted
    payload = json.loads(rep.to_json())
    assert payload["ratio"] is None and payload["Delta"] == 0.0
    assert "linearly dependent" in str(rep)


def test_diagnose_bad_input(rng):
    x = rng.normal(size=(10, 3))
    with pytest.raises(ValueError, match="features"):
        diagnose(x, x[:, :2], 1.0)
    with pytest.raises(ValueError, match="gap"):
        diagnose(x, x, 0.0)
    with pytest.raises(ValueError, match="x0 has 1 cell"):
        diagnose(x[:1], x, 1.0)
    with pytest.raises(ValueError, match="either L or mapped"):
        diagnose(x, x, 1.0, L=1.0, mapped=x)
    with pytest.raises(ValueError, match="L_statistic"):
        diagnose(x, x, 1.0, L_statistic="max")
    with pytest.raises(ValueError, match="NaN"):
        diagnose(x, np.full((10, 3), np.nan), 1.0)


def test_regime_is_borderline_when_the_ratio_interval_contains_one():
    """A point ratio above the band, but an interval that reaches below 1, is called borderline."""
    rng = np.random.default_rng(0)
    x0 = rng.normal(size=(30, 5))
    step = rng.standard_t(2, size=(30, 5))  # heavy-tailed displacements: a wide interval
    base = diagnose(x0, x0 + 1e-6 * step, 1.0, L_statistic="quantile", quantile=0.5, n_boot=0,
                    progress=False)
    # rescale the displacements so that the point ratio is 1.1, above the band (0.9, 1.05)
    s = 1e-6 * 1.1 / base.ratio
    band = (0.9, 1.05)
    rep = diagnose(x0, x0 + s * step, 1.0, L_statistic="quantile", quantile=0.5, n_boot=400,
                   borderline=band, progress=False)
    assert rep.ratio == pytest.approx(1.1, rel=1e-6)
    assert regime(1.0, rep.Delta, borderline=band)[0] == "untrackable"
    lo, hi = rep.ci["ratio"]
    assert lo < 1.0 < hi  # the precondition of this test
    assert rep.regime == "borderline"
