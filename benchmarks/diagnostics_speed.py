"""Speed and memory of the diagnostics against straightforward baselines, side by side.

1. ``rip`` (blocked closed form, O(n x block) memory) against a batched ``numpy.linalg.eigvalsh``
   over every pair's 2x2 Gram matrix (O(n^2) memory), and ``rip`` alone on larger n.
2. ``assignment_margins`` (dual potentials + one Dijkstra per cell) against re-solving the
   assignment once per cell with its current edge forbidden (n + 1 exact assignments).

Both baselines are exact too, so every row also checks that the two agree. Medians of repeats and
ratios are printed; timings on a loaded machine are noisy, rerun with ``--quick`` when it is quiet.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/diagnostics_speed.py [--quick]
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np
import pandas as pd

from trackability.diagnostics import assignment_margins, rip
from trackability.matching import assign, cost_matrix


def _timed(fn, repeats: int) -> tuple[float, float, object]:
    times, out = [], None
    tracemalloc.start()
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return float(np.median(times)), peak / 2**20, out


def baseline_rip(x: np.ndarray) -> tuple[float, float]:
    i, j = np.triu_indices(x.shape[0], k=1)
    g = np.empty((i.size, 2, 2))
    g[:, 0, 0] = np.einsum("ij,ij->i", x[i], x[i])
    g[:, 1, 1] = np.einsum("ij,ij->i", x[j], x[j])
    g[:, 0, 1] = g[:, 1, 0] = np.einsum("ij,ij->i", x[i], x[j])
    ev = np.linalg.eigvalsh(g)
    return float(ev[:, 0].min()), float(ev[:, 1].max())


def baseline_margins(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    from scipy.optimize import linear_sum_assignment

    c = cost_matrix(a, b)
    rows, cols = linear_sum_assignment(c)
    best = c[rows, cols].sum()
    out = np.empty(a.shape[0])
    for i, j in zip(rows, cols, strict=True):
        ci = c.copy()
        ci[i, j] = 1e300
        r2, c2 = linear_sum_assignment(ci)
        out[i] = ci[r2, c2].sum() - best
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    pd.set_option("display.width", 200)

    rows = []
    both = (300, 600, 1200) if args.quick else (500, 1000, 2000, 3000)
    alone = () if args.quick else (6000, 12000)
    for n in (*both, *alone):
        x = rng.normal(size=(n, 11)) + 3.0
        t, mem, res = _timed(lambda x=x: rip(x, progress=False), args.repeats)
        row = {"n": n, "pairs": n * (n - 1) // 2, "rip_s": t, "rip_peak_MiB": mem}
        if n in both:
            tb, memb, (lo, hi) = _timed(lambda x=x: baseline_rip(x), args.repeats)
            assert np.isclose(res.lambda_min, lo, rtol=1e-6) and np.isclose(res.lambda_max, hi)
            row.update({"eigvalsh_s": tb, "eigvalsh_peak_MiB": memb, "speedup": tb / t,
                        "memory_ratio": memb / mem})
        rows.append(row)
    print("== rip (k = 2, d = 11): blocked closed form vs batched eigvalsh over all pairs")
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3g}"))

    rows = []
    warm = rng.normal(size=(5, 2))
    baseline_margins(warm, warm)  # imports and first-call overheads out of the timings
    assignment_margins(warm, warm)
    for n in ((50, 100, 200) if args.quick else (100, 200, 400, 800)):
        a = rng.normal(size=(n, 5))
        b = a + 0.3 * rng.normal(size=(n, 5))
        m = assign(a, b)
        t, mem, res = _timed(lambda a=a, b=b, m=m: assignment_margins(a, b, m), args.repeats)
        tb, memb, ref = _timed(lambda a=a, b=b: baseline_margins(a, b), 1)
        assert np.allclose(res, ref, rtol=1e-7, atol=1e-9)
        rows.append({"n": n, "margins_s": t, "resolve_per_cell_s": tb, "speedup": tb / t,
                     "max_abs_diff": float(np.max(np.abs(res - ref)))})
    print("\n== assignment_margins: dual potentials + Dijkstra vs one re-solve per cell")
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
