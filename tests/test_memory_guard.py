"""The memory guard: estimates agree with measured peaks, and refusals happen before allocating."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from trackability.matching import assign, estimate_bytes
from trackability.matching.auto import DENSE_AUTO_MAX, memory_budget


def measured_peak(func) -> int:
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        func()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak


@pytest.mark.parametrize(("method", "n0", "nt"), [("dense", 700, 700), ("dense", 500, 800),
                                                  ("entropic", 300, 400)])
def test_estimate_brackets_measured_peak(method, n0, nt):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(n0, 3)), rng.normal(size=(nt, 3))
    opts = {"max_iter": 50} if method == "entropic" else {}
    assign(x[:5], y[:5], method=method, **opts)  # first call imports the solver: not measured
    peak = measured_peak(lambda: assign(x, y, method=method, **opts))
    est = estimate_bytes(method, n0, nt, 3)
    assert 0.5 * est <= peak <= 1.5 * est, (peak, est)


def test_sparse_estimate_is_an_upper_bound():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3000, 10))
    y = x + 0.01 * rng.normal(size=x.shape)
    peak = measured_peak(lambda: assign(x, y, method="sparse", knn="sklearn"))
    assert peak <= estimate_bytes("sparse", 3000, 3000, 10)
    assert peak < 0.1 * estimate_bytes("dense", 3000, 3000, 10)


def test_refuses_before_allocating_and_says_what_fits():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(4000, 5)), rng.normal(size=(4000, 5))
    budget = 8 * 4000 * 4000  # one cost matrix: below the dense estimate (two matrices)
    caught = {}

    def call():
        try:
            assign(x, y, method="dense", max_memory=budget)
        except MemoryError as exc:
            caught["msg"] = str(exc)

    peak = measured_peak(call)
    assert "method='dense' on 4000 x 4000 cells" in caught["msg"]
    assert "method='sparse'" in caught["msg"] and "refused before allocating" in caught["msg"]
    assert peak < 0.05 * budget  # nothing near a cost matrix was allocated


def test_million_cells_dense_refused_instantly():
    x = np.zeros((1_000_000, 1))
    with pytest.raises(MemoryError, match="would need about 14901.2 GiB"):
        assign(x, x, method="dense", max_memory="8GB")


def test_nothing_fits():
    x = np.zeros((100, 2))
    with pytest.raises(MemoryError, match="subsample the cells or raise max_memory"):
        assign(x, x + 1, method="entropic", max_memory=1000)


def test_auto_picks_dense_small_sparse_large_or_tight():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(DENSE_AUTO_MAX, 4))
    y = x + 0.05 * rng.normal(size=x.shape)
    small = assign(x, y, method="auto")
    assert small.method == "dense" and small.info["auto"]["method"] == "dense"
    tight_budget = estimate_bytes("sparse", DENSE_AUTO_MAX, DENSE_AUTO_MAX, 4) + 1
    tight = assign(x, y, method="auto", max_memory=tight_budget)
    assert tight.method == "sparse" and "dense cost matrix would need" in tight.info["auto"]["reason"]
    assert tight.same_pairs(small)
    big = DENSE_AUTO_MAX + 1
    xb = rng.normal(size=(big, 3))
    auto_big = assign(xb, xb + 1e-3, method="auto", knn="sklearn")
    assert auto_big.method == "sparse" and auto_big.info["certified"] is True
    assert np.array_equal(auto_big.target, np.arange(big))


def test_memory_budget_parsing():
    assert memory_budget("8GB") == 8 * 1024**3
    assert memory_budget("512 MiB") == 512 * 1024**2
    assert memory_budget(1e6) == 1_000_000
    assert memory_budget(None) > 0
    for bad in ("lots", -5, float("nan")):
        with pytest.raises(ValueError, match="max_memory"):
            memory_budget(bad)
