"""MMD^2 at scale: the exact blocked statistic vs a naive full-matrix one, and the large-n estimators.

Two Gaussian samples (n per side, d = 50, the second shifted by 0.1 along every axis), one gamma
(median heuristic on 2000 cells). Each estimator runs in a fresh subprocess so its peak resident
memory (``getrusage``) is its own; the naive computation (three dense kernel matrices, the textbook
formula) is refused *before allocating* when its predicted need exceeds ``--max-gb``, and the table
says how much it would have needed. Times are medians over ``--repeats`` runs.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_scale_mmd.py            # n = 10k, 50k
    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_scale_mmd.py --quick    # n = 2k, 5k
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

METHODS = ("naive", "blocked exact", "subsampled (5k x 10)", "linear")


def naive_bytes(n: int, d: int) -> int:
    # Kxx, Kyy, Kxy (float64) plus one distance-matrix temporary of the same size
    return 4 * 8 * n * n + 3 * 8 * n * d


def samples(n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.normal(size=(n, d)) + 0.1


def naive_mmd2(x: np.ndarray, y: np.ndarray, gamma: float) -> float:
    def k(a, b):
        d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
        return np.exp(-gamma * np.maximum(d2, 0))

    m, n = len(x), len(y)
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
                 - 2 * kxy.mean())


def one(method: str, n: int, d: int, seed: int) -> dict:
    from trackability.metrics import median_heuristic_gamma, mmd2, mmd2_linear, mmd2_subsampled

    x, y = samples(n, d, seed)
    gamma = median_heuristic_gamma(x, y, max_samples=2000, random_state=0)
    t0 = time.perf_counter()
    se = None
    if method == "naive":
        value = naive_mmd2(x, y, gamma)
    elif method == "blocked exact":
        value = mmd2(x, y, gamma=gamma)
    elif method.startswith("subsampled"):
        est = mmd2_subsampled(x, y, gamma=gamma, n_subsample=5000, n_repeats=10, random_state=0)
        value, se = est.value, est.std_error
    else:
        est = mmd2_linear(x, y, gamma=gamma, random_state=0)
        value, se = est.value, est.std_error
    sec = time.perf_counter() - t0
    return {"seconds": sec, "value": value, "se": se,
            "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--d", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--max-gb", type=float, default=6.0, help="refuse the naive run above this")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.n, args.d, args.seed)))
        return
    sizes = [2000, 5000] if args.quick else args.sizes
    repeats = 1 if args.quick else args.repeats
    print(f"MMD^2, n per side, d = {args.d}, {os.cpu_count()} cores, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, median of {repeats}\n")
    print("| n | estimator | seconds (median) | ratio to blocked | peak RSS (GB) | MMD^2 | std. error |")
    print("|---|---|---|---|---|---|---|")
    for n in sizes:
        rows = {}
        for method in METHODS:
            if method == "naive" and naive_bytes(n, args.d) > args.max_gb * 1024**3:
                rows[method] = {"refused": naive_bytes(n, args.d) / 1024**3}
                continue
            runs = []
            for _ in range(repeats):
                cmd = [sys.executable, __file__, "--one", method, "--n", str(n), "--d", str(args.d),
                       "--seed", str(args.seed)]
                out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
                runs.append(json.loads(out.strip().splitlines()[-1]))
            rows[method] = {**runs[-1], "seconds": statistics.median(r["seconds"] for r in runs)}
        base = rows["blocked exact"]["seconds"]
        for method, r in rows.items():
            if "refused" in r:
                print(f"| {n} | {method} | refused: would need {r['refused']:.1f} GB | | | | |")
                continue
            se = "" if r["se"] is None else f"{r['se']:.2e}"
            print(f"| {n} | {method} | {r['seconds']:.2f} | {r['seconds'] / base:.2f} | "
                  f"{r['peak_rss_gb']:.2f} | {r['value']:.6f} | {se} |", flush=True)


if __name__ == "__main__":
    main()
