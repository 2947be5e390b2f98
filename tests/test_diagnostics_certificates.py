"""Matching certificates: exact margins against brute force, bootstrap stability, certify_matching."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from trackability.data.synthetic import near_identity
from trackability.diagnostics import assignment_margins, bootstrap_stability, certify_matching
from trackability.matching import Matching, assign, cost_matrix


def brute_margins(c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Enumerate every injective assignment of the smaller side; margins per row of ``c``."""
    n0, nt = c.shape
    if n0 <= nt:
        assigns = [np.array(p) for p in itertools.permutations(range(nt), n0)]
    else:  # which rows are matched, and to which columns
        assigns = []
        for rows in itertools.permutations(range(n0), nt):
            a = np.full(n0, -1)
            a[list(rows)] = np.arange(nt)
            assigns.append(a)
    costs = np.array([sum(c[i, a[i]] for i in range(n0) if a[i] >= 0) for a in assigns])
    best = assigns[int(np.argmin(costs))]
    margins = np.full(n0, np.nan)
    for i in range(n0):
        if best[i] < 0:
            continue
        others = [k for k, a in enumerate(assigns) if a[i] != best[i]]
        margins[i] = costs[others].min() - costs.min()
    return best, margins


@pytest.mark.parametrize("shape", [(6, 6), (5, 7), (7, 5), (2, 2)])
@pytest.mark.parametrize("cost", ["sqeuclidean", "euclidean"])
def test_margins_match_brute_force(rng, shape, cost):
    for _ in range(3):
        a = rng.normal(size=(shape[0], 3))
        b = rng.normal(size=(shape[1], 3))
        c = cost_matrix(a, b, cost)
        best, expected = brute_margins(c)
        m = assign(a, b, cost=cost)
        assert np.array_equal(m.target_of(shape[0]), best)
        got = assignment_margins(a, b, m, cost=cost)
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
        # solved internally when no matching is given; a subset of cells
        sub = assignment_margins(a, b, cost=cost, cells=[0, 1])
        np.testing.assert_allclose(sub[:2], expected[:2], rtol=1e-9, atol=1e-12)
        assert np.isnan(sub[2:]).all()


def test_margins_zero_for_ties_and_positive_otherwise(rng):
    a = rng.normal(size=(6, 2))
    a[4] = a[3]  # two identical source cells: swapping their partners costs exactly nothing
    b = a + 0.05 * rng.normal(size=(6, 2))
    m = assign(a, b)
    got = assignment_margins(a, b, m)
    _, expected = brute_margins(cost_matrix(a, b))
    np.testing.assert_allclose(got, expected, atol=1e-12)
    assert got[3] == pytest.approx(0.0, abs=1e-12) and got[4] == pytest.approx(0.0, abs=1e-12)
    assert np.all(expected[[0, 1, 2, 5]] > 0) and np.all(got[[0, 1, 2, 5]] > 0)


def test_margins_refuse_a_suboptimal_matching(rng):
    a = rng.normal(size=(5, 2))
    b = a + 0.01 * rng.normal(size=(5, 2))
    wrong = Matching(np.arange(5), np.array([1, 0, 2, 3, 4]), 0.0)
    with pytest.raises(ValueError, match="not an optimal assignment"):
        assignment_margins(a, b, wrong)
    with pytest.raises(ValueError, match="one-to-one"):
        assignment_margins(a, b, np.array([0, 0, 1, 2, 3]))
    with pytest.raises(ValueError, match="pairs 4 cells"):
        assignment_margins(a, b, np.array([0, 1, 2, 3, -1]))
    with pytest.raises(ValueError, match="cells must be indices"):
        assignment_margins(a, b, cells=[7])


def _identity_fit(s, t):
    return assign(s, t)


def test_bootstrap_stability_counts(rng):
    a = rng.normal(size=(30, 3))
    b = a + 1e-3 * rng.normal(size=(30, 3))
    m = assign(a, b)
    stab, present = bootstrap_stability(a, b, m, _identity_fit, n_boot=20, fraction=0.8)
    assert np.all(stab == 1.0)
    # each cell is drawn in 80 % of the resamples (24 of 30 per resample, exactly)
    assert present.sum() == 20 * 24
    # a fit that matches at random keeps partners about as often as chance
    shuffle = np.random.default_rng(0)

    def random_fit(s, t):
        k = min(len(s), len(t))
        return Matching(np.arange(k), shuffle.permutation(len(t))[:k], 0.0)

    stab_r, _ = bootstrap_stability(a, b, m, random_fit, n_boot=40, fraction=0.8)
    assert np.nanmean(stab_r) < 0.2
    again, _ = bootstrap_stability(a, b, m, _identity_fit, n_boot=20, fraction=0.8)
    assert np.array_equal(again, stab)
    with pytest.raises(TypeError, match="callable"):
        bootstrap_stability(a, b, m, "laot")
    with pytest.raises(ValueError, match="fraction"):
        bootstrap_stability(a, b, m, _identity_fit, fraction=0.0)


def test_certify_laot_trackable_and_flags_ties():
    from trackability.models import LAOT

    pair = near_identity(40, 5, gap=0.02, random_state=1)
    model = LAOT().fit(pair.control, pair.treated)
    cert = certify_matching(model, pair.control, pair.treated, n_boot=10)
    assert cert.n_flagged == 0 and not cert.reoptimised
    assert np.all(cert.margin > 0)
    assert np.all(cert.stability == 1.0)
    assert np.array_equal(cert.partner, model.matching_.target_of(40))
    frame = cert.to_frame()
    assert list(frame.columns) == ["partner", "margin", "stability", "flagged"]
    assert cert.summary()["n_cells"] == 40

    # two identical control cells: their partners can be swapped at no cost -> flagged
    x = pair.control.copy()
    x[7] = x[3]
    y = pair.true_map(x)[pair.permutation]
    model2 = LAOT().fit(x, y)
    cert2 = certify_matching(model2, x, y, n_boot=0)
    assert cert2.stability is None
    assert cert2.flagged[3] and cert2.flagged[7]
    assert cert2.n_flagged == 2


def test_certify_duck_typed_and_reoptimised(rng):
    a = rng.normal(size=(8, 2))
    b = a @ np.array([[1.0, 0.2], [0.0, 1.0]])

    class Fitted:  # a map whose stored matching is not optimal for it
        W_ = np.eye(2)
        intercept_ = np.zeros(2)
        matching_ = Matching(np.arange(8), np.roll(np.arange(8), 1), 0.0)

    cert = certify_matching(Fitted(), a, b, n_boot=0)
    assert cert.reoptimised and cert.n_reassigned > 0
    np.testing.assert_allclose(cert.margin, assignment_margins(a, b), atol=1e-12)
    with pytest.raises(TypeError, match="W_"):
        certify_matching(object(), a, b)

    class BadShape(Fitted):
        W_ = np.eye(3)

    with pytest.raises(ValueError, match="W_ has shape"):
        certify_matching(BadShape(), a, b)
