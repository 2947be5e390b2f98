"""A/B of the ICNN engine's two product orientations, in one process: CPU ms per outer iteration.

Below ``trackability.models._icnn.SMALL_D`` input features the products with the input weights
run transposed (MKL's single-thread sgemm is slow for outputs with fewer than 16 columns). This
script fits CellOT and CompactCellOT with ``SMALL_D = 0`` (the plain orientation everywhere) and
with the shipped value, alternately within each repeat, on the same data (2,000 cells, batch 256,
10 inner iterations, one thread), and prints medians over repeats and their ratio (docs/neural.md,
"Speed").

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_icnn_small_d.py            # 5 repeats
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_icnn_small_d.py --quick    # 2 repeats, 50 its
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_neural import _data, _new_fit  # noqa: E402  (the same data and fit as bench_neural)

import trackability.models._icnn as icnn  # noqa: E402
from trackability.models import CellOT, CompactCellOT  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2 repeats of 50 outer iterations")
    ap.add_argument("--dims", type=int, nargs="+", default=[11, 50])
    args = ap.parse_args()
    repeats, iters = (2, 50) if args.quick else (5, 200)
    shipped = icnn.SMALL_D
    print(f"# bench_icnn_small_d: repeats={repeats}, {iters} outer iterations, SMALL_D={shipped}")
    print("| model | d | plain orientation (CPU ms) | shipped (CPU ms) | shipped / plain |")
    print("|---|---|---|---|---|")
    try:
        for d in args.dims:
            x, y = _data(2000, d)
            for cls in (CellOT, CompactCellOT):
                times: dict[int, list[float]] = {0: [], shipped: []}
                for _ in range(repeats):
                    for value in (0, shipped):
                        icnn.SMALL_D = value  # read when each network is built
                        t0 = time.process_time()
                        _new_fit(cls, x, y, iters)
                        times[value].append((time.process_time() - t0) / iters * 1e3)
                a, b = statistics.median(times[0]), statistics.median(times[shipped])
                print(f"| {cls.__name__} | {d} | {a:.2f} | {b:.2f} | {b / a:.3f} |", flush=True)
    finally:
        icnn.SMALL_D = shipped


if __name__ == "__main__":
    main()
