"""Time CellOT / Compact CellOT per outer iteration and scGen per epoch, 1 vs 2 torch threads.

Each configuration is fitted twice, with ``k`` and ``2k`` iterations (epochs); the time per
iteration is ``(T(2k) - T(k)) / k``, which cancels the fixed costs (split, bandwidth, final
evaluation); the plain rate ``T(2k) / 2k`` is shown too (it cannot go negative when the machine's
noise exceeds the work, and it decides "fastest"). The two thread settings are run alternately
within every repeat, so background load hits both alike; the table shows medians over repeats and
the ratio 2 threads / 1 thread.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_neural.py            # full
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_neural.py --quick    # minutes; 10-20 if loaded

``OMP_NUM_THREADS`` only sets the starting value; the models set torch's thread count themselves
(``n_threads``) and restore it afterwards.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np


def _data(n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    y = rng.normal(size=(n, d)) @ (np.eye(d) + 0.2 * rng.normal(size=(d, d)) / np.sqrt(d)) + 1.0
    return x, y


def _fit_seconds(make, x, y) -> float:
    model = make()
    t0 = time.perf_counter()
    model.fit(x, y)
    return time.perf_counter() - t0


def _per_unit(make_k, make_2k, k: int, x, y) -> tuple[float, float]:
    """(T(2k) - T(k)) / k, and the plain rate T(2k) / 2k (never negative, includes fixed costs)."""
    t2 = _fit_seconds(make_2k, x, y)
    t1 = _fit_seconds(make_k, x, y)
    return (t2 - t1) / k, t2 / (2 * k)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and iterations")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--dims", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--models", nargs="+", default=["CellOT", "CompactCellOT", "ScGen"])
    args = parser.parse_args()

    from trackability.models import CellOT, CompactCellOT, ScGen

    repeats = args.repeats or (3 if args.quick else 7)
    k_iter = 10 if args.quick else 40  # CellOT outer iterations in the short fit
    k_epoch = 1 if args.quick else 3  # scGen epochs in the short fit
    n_cellot, n_scgen = 2000, 1000  # cells per population

    print(
        f"# bench_neural: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"repeats={repeats}, quick={args.quick}"
    )
    rows = []
    for name in args.models:
        for d in args.dims:
            if name in ("CellOT", "CompactCellOT"):
                cls = CellOT if name == "CellOT" else CompactCellOT
                x, y = _data(n_cellot, d)
                unit, k = "outer iteration (10 g + 1 f update, batch 256)", k_iter

                def make(n, t, cls=cls):
                    return cls(n_iters=n, selection="last", validation_fraction=0.0,
                               log_every=n, eval_every=n, n_threads=t, random_state=0,
                               progress=False)
            else:
                x, y = _data(n_scgen, d)
                unit, k = f"epoch ({2 * n_scgen} cells, batch 128, 800 hidden)", k_epoch

                def make(n, t):
                    return ScGen(max_epochs=n, eval_every=10**6, n_threads=t, random_state=0,
                                 progress=False)

            make(1, 1).fit(x[:300], y[:300])  # warm-up (lazy imports, allocator)
            times: dict[int, list[float]] = {t: [] for t in args.threads}
            rates: dict[int, list[float]] = {t: [] for t in args.threads}
            for _ in range(repeats):
                for t in args.threads:
                    diff, rate = _per_unit(
                        lambda t=t, k=k: make(k, t), lambda t=t, k=k: make(2 * k, t), k, x, y
                    )
                    times[t].append(diff)
                    rates[t].append(rate)
            med = {t: statistics.median(v) for t, v in times.items()}
            med_rate = {t: statistics.median(v) for t, v in rates.items()}
            rows.append((name, d, unit, med, med_rate))
            print(f"#   {name} d={d}: " + ", ".join(
                f"{t} thr {1e3 * med[t]:.1f} ms (plain {1e3 * med_rate[t]:.1f})" for t in med
            ), flush=True)

    # Per-unit time from the difference (fixed costs removed); a value <= 0 means the noise of
    # the machine exceeded the work measured and is shown as "noisy". The plain rate
    # T(2k) / 2k cannot go negative and decides the fastest setting and the ratio.
    base = args.threads[0]
    head = " | ".join(f"{t} thr (ms)" for t in args.threads)
    plain = " | ".join(f"{t} thr plain (ms)" for t in args.threads)
    ratios = " | ".join(f"{t}/{base} thr (plain)" for t in args.threads[1:])
    print(f"| model | d | per | {head} | {plain} | {ratios} | fastest |")
    print("|" + "---|" * (4 + 2 * len(args.threads) + len(args.threads[1:])))
    for name, d, unit, med, med_rate in rows:
        cells = " | ".join(
            f"{1e3 * med[t]:.1f}" if med[t] > 0 else "noisy" for t in args.threads
        )
        plain_cells = " | ".join(f"{1e3 * med_rate[t]:.1f}" for t in args.threads)
        rat = " | ".join(f"{med_rate[t] / med_rate[base]:.2f}" for t in args.threads[1:])
        fastest = min(med_rate, key=med_rate.get)
        print(f"| {name} | {d} | {unit} | {cells} | {plain_cells} | {rat} | {fastest} |")


if __name__ == "__main__":
    main()
