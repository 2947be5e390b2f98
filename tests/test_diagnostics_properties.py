"""Property tests (hypothesis) of the diagnostics: bad and edge inputs, checked against naive formulas.

Every public diagnostic (``rip_constant``, ``lipschitz_rate``, ``critical_gap``, ``regime``,
``diagnose``, ``max_cells_for_gap``) either returns a value that agrees with an independent
computation (brute force over pairs, the closed formula in log space, exact rationals) or raises a
``TypeError`` / ``ValueError`` / ``MemoryError`` that names the argument; never an OverflowError,
ZeroDivisionError or a NaN.
"""

from __future__ import annotations

import itertools
import math
import os
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from trackability.diagnostics import (
    assignment_margins,
    certify_matching,
    critical_gap,
    diagnose,
    lipschitz_rate,
    max_cells_for_gap,
    regime,
    rip_constant,
)

#: Bounded: 40 examples per property by default, HYPOTHESIS_EXAMPLES=500 searches harder.
SETTINGS = settings(max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", "40")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

#: Any positive finite double, subnormals included.
positive = st.floats(min_value=5e-324, max_value=1.7e308, allow_nan=False, allow_infinity=False)
unit = st.floats(0.0, 1.0, allow_nan=False)
bad_number = st.sampled_from([math.nan, math.inf, -math.inf, -1.0, "a", None, [1.0]])


def _log_delta(delta: float, n: int, L: float, scale: float) -> float:
    return 0.5 * (math.log1p(-delta) - math.log(2 * n)) - math.log(scale) - math.log(L)


@SETTINGS
@given(delta=unit, n=st.integers(2, 10**9), L=positive, scale=positive)
def test_critical_gap_matches_log_space_formula(delta, n, L, scale):
    got = critical_gap(delta, n, L, scale=scale)
    assert not math.isnan(got) and got >= 0
    if delta == 1.0:
        assert got == 0.0
        return
    ref = _log_delta(delta, n, L, scale)
    if ref > math.log(1.7e308):
        assert got == math.inf
    elif ref < math.log(1e-300):
        assert got < 1e-299
    else:
        assert math.isclose(math.log(got), ref, rel_tol=1e-9, abs_tol=1e-9)


@SETTINGS
@given(gap=positive, delta=unit, L=positive, scale=positive)
def test_max_cells_for_gap_is_the_exact_floor(gap, delta, L, scale):
    got = max_cells_for_gap(gap, delta, L, scale=scale)
    assert isinstance(got, int) and got >= 0
    exact = Fraction(1.0 - delta) / (2 * (Fraction(scale) * Fraction(L) * Fraction(gap)) ** 2)
    # floor of the exact bound, up to the documented 1e-12 rounding guard
    assert math.floor(exact) <= got <= math.floor(exact * (1 + Fraction(1, 10**12)))
    # and the gap is trackable with that many cells (when there are at least 2 of them)
    if 2 <= got < 10**300:
        assert critical_gap(delta, got, L, scale=scale) >= gap * (1 - 1e-9)


@SETTINGS
@given(gap=st.floats(0, 1e300, allow_nan=False), Delta=st.floats(0, 1e300, allow_nan=False))
def test_regime_ratio_and_name(gap, Delta):
    name, ratio = regime(gap, Delta)
    if gap == 0:
        assert ratio == 0
    elif Delta == 0:
        assert ratio == math.inf
    else:
        assert ratio == gap / Delta
    assert name == ("trackable" if ratio < 0.8 else "untrackable" if ratio > 1.25 else "borderline")


@SETTINGS
@given(bad=bad_number, which=st.sampled_from(["delta", "n", "L", "scale", "gap"]))
def test_bad_scalars_are_refused_naming_the_argument(bad, which):
    args = {"delta": 0.5, "n": 10, "L": 1.0, "scale": 1.0, "gap": 1.0}
    args[which] = bad
    if which == "L" and bad is not None and not isinstance(bad, str | list):
        assume(not (isinstance(bad, float) and bad == 0))
    funcs = []
    if which != "gap":
        funcs.append(lambda: critical_gap(args["delta"], args["n"], args["L"], scale=args["scale"]))
    if which != "n":
        funcs.append(lambda: max_cells_for_gap(args["gap"], args["delta"], args["L"],
                                               scale=args["scale"]))
    for f in funcs:
        with pytest.raises((TypeError, ValueError), match=rf"\b{which}\b"):
            f()


@SETTINGS
@given(n=st.integers(2, 7), d=st.integers(1, 4), log_scale=st.integers(-8, 8), seed=st.integers(0, 10**6))
def test_rip_constant_against_brute_force_and_scale_free(n, d, log_scale, seed):
    x = np.random.default_rng(seed).normal(size=(n, d)) * 10.0**log_scale
    got = rip_constant(x)
    eig = [np.linalg.eigvalsh(x[[i, j]] @ x[[i, j]].T) for i, j in itertools.combinations(range(n), 2)]
    lmin, lmax = min(e[0] for e in eig), max(e[-1] for e in eig)
    ref = (lmax - lmin) / (lmax + lmin)
    assert 0 <= got <= 1 + 1e-12
    assert abs(got - ref) <= 1e-7
    assert abs(rip_constant(x * 3.7) - got) <= 1e-7


@SETTINGS
@given(x=arrays(np.float64, (4, 2), elements=st.floats(-1e3, 1e3)), bad=st.sampled_from(
    [np.nan, np.inf, -np.inf]), pos=st.tuples(st.integers(0, 3), st.integers(0, 1)))
def test_rip_and_diagnose_refuse_nonfinite_cells(x, bad, pos):
    x = x.copy()
    x[pos] = bad
    with pytest.raises(ValueError, match="x0|NaN|inf|finite"):
        rip_constant(x)
    with pytest.raises(ValueError, match="x0"):
        diagnose(x, np.zeros((4, 2)), 1.0, n_boot=0)


@SETTINGS
@given(n=st.integers(1, 8), d=st.integers(1, 3), gap=st.floats(1e-6, 1e6), seed=st.integers(0, 10**6),
       log_scale=st.integers(-8, 8))
def test_lipschitz_rate_from_map_is_the_largest_displacement(n, d, gap, seed, log_scale):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) * 10.0**log_scale
    m = x + rng.normal(size=(n, d)) * 10.0**log_scale
    est = lipschitz_rate(x, m, gap)
    ref = max(math.dist(a, b) for a, b in zip(x, m, strict=True)) / gap
    assert math.isclose(est.sup, ref, rel_tol=1e-9)
    assert est.robust <= est.sup * (1 + 1e-12)


@SETTINGS
@given(gap=st.sampled_from([0.0, -1.0, math.nan, math.inf, "x"]))
def test_lipschitz_rate_bad_gap(gap):
    x = np.zeros((3, 2))
    with pytest.raises((TypeError, ValueError), match="gap"):
        lipschitz_rate(x, x + 1, gap)


@SETTINGS
@given(n=st.integers(2, 8), d=st.integers(1, 4), gap=st.floats(1e-3, 1e3), seed=st.integers(0, 10**6),
       log_scale=st.integers(-6, 6))
def test_diagnose_is_consistent_on_random_pairs(n, d, gap, seed, log_scale):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) * 10.0**log_scale
    y = x + 0.1 * rng.normal(size=(n, d)) * 10.0**log_scale
    rep = diagnose(x, y, gap, n_boot=20, random_state=seed, recoverability=False)
    assert not math.isnan(rep.Delta) and rep.Delta >= 0
    if rep.delta < 1:
        assert rep.Delta == pytest.approx(critical_gap(rep.delta, n, rep.L, scale=rep.scale),
                                          rel=1e-12)
    assert rep.regime in ("trackable", "borderline", "untrackable")
    d_ = rep.to_dict()
    assert d_["Delta"] == rep.Delta and d_["regime"] == rep.regime


@SETTINGS
@given(n_boot=st.sampled_from([-1, 1.5, "a", True, None]))
def test_diagnose_bad_n_boot(n_boot):
    x = np.random.default_rng(0).normal(size=(5, 2))
    with pytest.raises((TypeError, ValueError), match="n_boot"):
        diagnose(x, x + 0.1, 1.0, n_boot=n_boot)


# -- memory guards: refused before anything is allocated, with the estimate and the fix ----------


def test_margins_refuse_twenty_thousand_cells_up_front():
    x = np.zeros((20_000, 2))  # 320 kB of input; the margins would need tens of GiB
    with pytest.raises(MemoryError, match=r"20000 x 20000 cells would need about [\d.]+ GiB.*subsample"):
        assignment_margins(x, x, max_memory="1GB")


def test_certify_matching_refuses_up_front():
    class Fitted:
        W_ = np.eye(2)
        intercept_ = np.zeros(2)
        matching_ = None  # never reached: the guard comes first

    x = np.zeros((20_000, 2))
    with pytest.raises(MemoryError, match="certify_matching on 20000 x 20000"):
        certify_matching(Fitted(), x, x, max_memory="1GB")


def test_diagnose_refuses_a_huge_bootstrap_quickly():
    import time

    x = np.random.default_rng(0).normal(size=(300, 3))
    t0 = time.perf_counter()
    with pytest.raises(MemoryError, match=r"n_boot=2000000.*at most about \d+ fit"):
        diagnose(x, x + 0.1, 1.0, n_boot=2_000_000, max_memory="1GB")
    assert time.perf_counter() - t0 < 10  # before the bootstrap, not after it
    # what the message says fits, fits
    rep = diagnose(x, x + 0.1, 1.0, n_boot=200, max_memory="1GB")
    assert "L" in rep.ci


def test_margins_budget_respected_when_it_fits():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(30, 2))
    m = assignment_margins(x, x + 0.01, max_memory="1GB")
    assert np.all(m >= 0)


@pytest.mark.parametrize(("scale", "L"), [(1e-160, 1e-160), (1e-300, 1e-20), (1e-170, 1e-153)])
def test_critical_gap_keeps_full_precision_when_scale_times_L_is_subnormal(scale, L):
    # scale * L below the smallest normal float (2.2e-308) has few significant bits left (1e-323:
    # about 4); the critical gap must still be the correctly rounded exact value. With n = 1e200
    # and delta = 0.5, sqrt((1 - delta) / (2 n)) = 5e-101 exactly, and the gap stays finite.
    got = critical_gap(0.5, 10**200, L, scale=scale)
    exact = Fraction(1, 2 * 10**100) / (Fraction(scale) * Fraction(L))
    assert math.isclose(got, float(exact), rel_tol=1e-12)
