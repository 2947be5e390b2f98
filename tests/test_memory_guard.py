"""The memory guard: estimates agree with measured peaks, and refusals happen before allocating."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from trackability.matching import assign, estimate_bytes
from trackability.matching.auto import DENSE_AUTO_MAX, laot_bytes, memory_budget
from trackability.models import LAOT


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


def test_bad_hyper_parameters_reaching_the_matching_get_clear_errors():
    x = np.zeros((5, 2))
    for bad in ([1], True, {"a": 1}):
        with pytest.raises(TypeError, match="max_memory must be a number of bytes"):
            assign(x, x, max_memory=bad)
    for method in ("sparse", "auto"):
        for bad in ("a", 0, 2.5, True):
            with pytest.raises(ValueError, match="k must be a positive integer"):
                assign(x, x, method=method, k=bad)


# The address-space limit (ulimit -v) is set in a child process: lowering it here would cap every
# later test. The child prints the budget, the room left under the limit and what assign did.
_RLIMIT_CHILD = """
import json, resource, sys
import numpy as np, psutil
from trackability.matching import assign
from trackability.matching.auto import address_space_room, memory_budget
from trackability.models import LAOT
vms = psutil.Process().memory_info().vms
limit = vms + 1536 * 1024**2  # 1.5 GiB above what is mapped now
resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
out = {"room": address_space_room(), "budget": memory_budget(None),
       "free": psutil.virtual_memory().available}
x = np.random.default_rng(0).normal(size=(12000, 2))
try:
    assign(x, x, method="dense")  # two 1.07 GiB matrices: past the limit, not past free memory
    out["dense"] = "ran"
except MemoryError as exc:
    out["dense"] = str(exc)
try:
    LAOT().fit(np.zeros((10, 8000)), np.zeros((10, 8000)))  # 4 x 0.48 GiB of d x d maps
    out["laot"] = "ran"
except MemoryError as exc:
    out["laot"] = str(exc)
print(json.dumps(out))
"""


def test_budget_respects_the_address_space_limit():
    import json
    import os
    import subprocess
    import sys

    resource = pytest.importorskip("resource")
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        pytest.skip("the test process already runs under an address-space limit")
    proc = subprocess.run([sys.executable, "-c", _RLIMIT_CHILD], capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"}, check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["room"] is not None and out["room"] <= 1536 * 1024**2
    assert out["budget"] <= 0.8 * 1536 * 1024**2 + 1
    if out["free"] > 4 * 1024**3:  # the limit, not the free memory, is what binds
        assert out["budget"] < 0.5 * out["free"]
    assert out["dense"].startswith("method='dense' on 12000 x 12000 cells")
    assert "refused before allocating" in out["dense"] and "method='sparse'" in out["dense"]
    assert out["laot"].startswith("LAOT on 10 x 10 cells with d=8000 features")


def test_laot_refuses_40000_features_up_front():
    x = np.zeros((10, 40_000))
    caught = {}

    def call():
        try:
            LAOT(matching={"max_memory": "8GB"}).fit(x, x)
        except MemoryError as exc:
            caught["msg"] = str(exc)

    peak = measured_peak(call)
    assert "d=40000 features" in caught["msg"]
    assert "the d x d map W_ alone is 11.9 GiB" in caught["msg"]
    assert "reduce the features" in caught["msg"] and "refused before allocating" in caught["msg"]
    assert peak < 50 * 1024**2  # nothing near one d x d matrix (12.8 GB) was allocated


@pytest.mark.parametrize(("n", "d", "alpha"), [(150, 1200, 0.0), (150, 1200, 1.0)])
def test_laot_estimate_brackets_measured_peak(n, d, alpha):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(n, d))
    y = x[rng.permutation(n)] + 0.01 * rng.normal(size=(n, d))
    LAOT(max_iter=1).fit(x[:10, :20], y[:10, :20])  # imports, first calls: not measured
    peak = measured_peak(lambda: LAOT(max_iter=3, alpha=alpha).fit(x, y))
    est = laot_bytes(n, n, d, ridge=alpha > 0)
    assert 0.5 * est <= peak <= 1.5 * est, (peak, est)
