"""Dask vs serial vs joblib on one phase-transition grid: equal results, and the overhead.

The same grid (centred generator, seeded) runs through ``run_jobs`` with each backend; the table
shows the wall time (median over ``--repeats``), the ratio to serial, and whether the result table
is identical to the serial one. The Dask runs start a ``LocalCluster`` of ``--workers``
single-threaded worker processes inside the timed call (that start-up is the overhead a user
pays; pass ``--scheduler tcp://host:8786`` to time an existing cluster instead).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_dask.py
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_dask.py --quick
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import pandas as pd

from trackability.experiments import phase_transition


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--scheduler", default=None)
    args = ap.parse_args()
    if args.quick:
        grid = {"dims": [10, 20], "gaps": [0, 2, 10], "trials": 3, "n": 50}
    else:
        grid = {"dims": [10, 30, 50], "gaps": [0, 1, 2, 5, 10, 20], "trials": 10, "n": 100}
    n_jobs = len(grid["dims"]) * len(grid["gaps"]) * grid["trials"]
    repeats = 1 if args.quick else args.repeats
    runs = [("serial", {"backend": "serial"}),
            ("joblib", {"backend": "joblib", "n_jobs": args.workers}),
            ("dask", {"backend": "dask", "n_jobs": args.workers, "scheduler": args.scheduler})]
    times: dict[str, list[float]] = {name: [] for name, _ in runs}
    results: dict[str, pd.DataFrame] = {}
    for _ in range(repeats):
        for name, kw in runs:  # interleaved, so background load hits every backend alike
            t0 = time.perf_counter()
            results[name] = phase_transition(**grid, random_state=0, progress=False, **kw)
            times[name].append(time.perf_counter() - t0)
    base = statistics.median(times["serial"])
    print(f"phase transition: {n_jobs} LAOT fits (dims {grid['dims']}, gaps {grid['gaps']}, "
          f"{grid['trials']} trials, n = {grid['n']}), {args.workers} workers, {os.cpu_count()} cores, "
          f"median of {repeats}\n")
    print("| backend | seconds (median) | ratio to serial | identical to serial |")
    print("|---|---|---|---|")
    for name, _ in runs:
        med = statistics.median(times[name])
        same = results[name].equals(results["serial"])
        print(f"| {name} | {med:.2f} | {med / base:.2f} | {'yes' if same else 'NO'} |")


if __name__ == "__main__":
    main()
