"""The benchmark scripts' own pieces are right: solvers against brute force, the original procedure."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from _scripts import load_benchmark
from trackability.data.synthetic import near_identity

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str):
    return load_benchmark(name)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_assignment_solvers_match_brute_force(seed):
    bench = _load("bench_assignment")
    rng = np.random.default_rng(seed)
    c = rng.random((6, 6))
    best = min(sum(c[i, p[i]] for i in range(6)) for p in itertools.permutations(range(6)))
    for name, solve in bench.SOLVERS.items():
        cols = solve(c)
        assert sorted(cols.tolist()) == list(range(6)), name
        assert c[np.arange(6), cols].sum() == pytest.approx(best, abs=1e-12), name


def test_points_are_seeded_and_near_identity_is_the_synthetic_pair():
    bench = _load("bench_assignment")
    a = bench.points("random", 20, 3, 5)
    b = bench.points("random", 20, 3, 5)
    np.testing.assert_array_equal(a[0], b[0])
    x, y = bench.points("near-identity", 20, 3, 5)
    pair = near_identity(20, 3, 2.0, noise=0.05, random_state=5)
    np.testing.assert_array_equal(x, pair.control)
    np.testing.assert_array_equal(y, pair.treated)
    with pytest.raises(ValueError, match="unknown point set"):
        bench.points("grid", 5, 2, 0)


@pytest.mark.neural
def test_original_procedure_moves_from_identity_to_the_true_map():
    """Adam on exact OT plans, from W = I: on trackable noiseless data it approaches the truth."""
    pytest.importorskip("torch")
    bench = _load("bench_laot_vs_original")
    pair = near_identity(40, 3, 0.5, noise=0.0, random_state=0)
    w0, times, not_exact = bench.fit_original(pair.control, pair.treated, epochs=1, lr=0.0)
    np.testing.assert_allclose(w0, np.eye(3), atol=1e-7)  # starts at the identity
    w, times, not_exact = bench.fit_original(pair.control, pair.treated, epochs=200)
    assert len(times) == 200 and not_exact == 0
    err0 = np.linalg.norm(np.eye(3) - pair.W.T)
    err = np.linalg.norm(w - pair.W.T)
    assert err < 0.02 * err0  # about 0.001 * err0 after 200 epochs
