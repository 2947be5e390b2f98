"""Exact assignment solvers side by side: lap (Jonker-Volgenant), scipy, POT's network simplex.

``lap-scaled`` is the package's path (``trackability.matching.dense``): the same ``lap.lapjv`` on
costs multiplied by a power of two into the range where lap's internal ``LARGE = 1e6`` sentinel
is safe; ``--scale 1000`` shows plain ``lap`` going wrong (cost above the best) where it does not.

For each point set and size n, one squared-Euclidean cost matrix (n x n, d = 10) is built once and
handed to every solver; only the solve is timed. Solvers run in turn within each repeat so
background load hits them alike; the table shows the median over repeats, the ratio to lap, the
total cost and its relative difference to the best, and the fraction of cells matched exactly as
lap matched them.

Point sets:

- ``random``: control and treated drawn independently (standard normal / sqrt(d)); no structure.
- ``near-identity``: the synthetic trackable pair (``near_identity(n, 10, gap=2, noise=0.05)``,
  control vs shuffled treated): the first assignment LAOT solves, where the true matching is close
  to the nearest-neighbour one.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_assignment.py            # n = 1k, 5k, 10k
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_assignment.py --quick    # n = 1k, 2k

POT's ``ot.emd`` solves the same problem as a transport with uniform weights 1/n; its plan is a
vertex of the Birkhoff polytope (a permutation), read off row by row. At n = 10k it needs several
GB of memory; ``--max-emd-n`` skips it above a size.

``--target-ratio R`` (R > 1) gives the treated population ``round(R n)`` cells (a rectangular
n x Rn problem, every control cell matched): ``lap`` then pads with its own ``extend_cost``,
``lap-scaled`` with the package's padding, scipy solves it unpadded, POT is skipped. The
package's default dense solver (``solver="auto"``) is ``lap-scaled`` on square problems and scipy
on rectangular ones: this table is why.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_assignment.py --sizes 1000 2000 4000 \
        --target-ratio 1.25 --solvers lap-scaled scipy --kinds random near-identity
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np


def points(kind: str, n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The two point clouds of one benchmark cell."""
    if kind == "random":
        rng = np.random.default_rng(seed)
        return rng.standard_normal((n, d)) / np.sqrt(d), rng.standard_normal((n, d)) / np.sqrt(d)
    if kind == "near-identity":
        from trackability.data.synthetic import near_identity

        pair = near_identity(n, d, 2.0, noise=0.05, random_state=seed)
        return pair.control, pair.treated
    raise ValueError(f"unknown point set {kind!r}")


def solve_lap(c: np.ndarray) -> np.ndarray:
    import lap

    _, x, _ = lap.lapjv(c, extend_cost=c.shape[0] != c.shape[1])
    return np.asarray(x, dtype=np.int64)


def solve_scipy(c: np.ndarray) -> np.ndarray:
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(c)
    out = np.empty(c.shape[0], dtype=np.int64)
    out[rows] = cols
    return out


def solve_emd(c: np.ndarray) -> np.ndarray:
    import ot

    n = c.shape[0]
    w = np.full(n, 1.0 / n)
    plan = ot.emd(w, w, c, numItermax=1_000_000_000)
    cols = plan.argmax(axis=1)
    if not np.allclose(plan[np.arange(n), cols], 1.0 / n, rtol=1e-6):
        raise RuntimeError("ot.emd returned a plan that is not a permutation")
    return cols.astype(np.int64)


def solve_lap_scaled(c: np.ndarray, overwrite: bool = False) -> np.ndarray:
    """The package's path: costs scaled by a power of two into lap's exact range.

    ``_solve_lap`` rescales its argument in place: with ``overwrite=False`` it gets a copy, so the
    caller's ``c`` stays; the timed loop passes a fresh copy made outside the timer with
    ``overwrite=True`` (see ``OVERWRITES``).
    """
    from trackability.matching.dense import _solve_lap

    rows, cols = _solve_lap(c if overwrite else c.copy())
    out = np.empty(c.shape[0], dtype=np.int64)
    out[rows] = cols
    return out


SOLVERS = {"lap": solve_lap, "lap-scaled": solve_lap_scaled, "scipy": solve_scipy,
           "pot-emd": solve_emd}
#: Solvers that overwrite their input: each gets a fresh copy, made outside the timed region.
OVERWRITES = {"lap-scaled"}


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) < 1e-3 or abs(v) >= 1e5:
        return f"{v:.2e}"
    return f"{v:.4g}"


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n = 1000, 2000")
    parser.add_argument("--sizes", type=int, nargs="+", default=None)
    parser.add_argument("--d", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--kinds", nargs="+", default=["random", "near-identity"],
                        choices=["random", "near-identity"])
    parser.add_argument("--solvers", nargs="+", default=list(SOLVERS), choices=list(SOLVERS))
    parser.add_argument("--max-emd-n", type=int, default=10_000,
                        help="skip POT emd above this n (memory: several GB at 10k)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiply both point sets by this (lap alone is wrong above ~1e3)")
    parser.add_argument("--target-ratio", type=float, default=1.0,
                        help="treated cells = round(ratio * n) >= n (a rectangular problem)")
    parser.add_argument("--out", type=Path, default=None, help="also write the table here")
    args = parser.parse_args(argv)
    if args.target_ratio < 1.0:
        parser.error("--target-ratio must be >= 1 (every control cell is matched)")
    sizes = args.sizes or ([1000, 2000] if args.quick else [1000, 5000, 10000])
    if args.repeats < 1 or any(n < 2 for n in sizes):
        parser.error("--repeats must be >= 1 and every size >= 2")

    from threadpoolctl import threadpool_limits

    from trackability.matching import squared_distances

    rows = []
    with threadpool_limits(limits=1):
        # warm-up (imports, first-call overheads), untimed
        c0 = squared_distances(*points("random", 50, args.d, 1))
        for name in args.solvers:
            SOLVERS[name](c0.copy())
        for kind in args.kinds:
            for n in sizes:
                m = int(round(args.target_ratio * n))
                x, _ = points(kind, n, args.d, args.seed)
                _, y = points(kind, m, args.d, args.seed)  # the first n of a larger draw
                x, y = x * args.scale, y * args.scale
                c = np.ascontiguousarray(squared_distances(x, y))
                solvers = [s for s in args.solvers
                           if not (s == "pot-emd" and (n > args.max_emd_n or m != n))]
                times: dict[str, list[float]] = {s: [] for s in solvers}
                result: dict[str, np.ndarray] = {}
                for _ in range(args.repeats):
                    for s in solvers:
                        kw = {"overwrite": True} if s in OVERWRITES else {}
                        arg = c.copy() if s in OVERWRITES else c
                        t0 = time.perf_counter()
                        cols = SOLVERS[s](arg, **kw)
                        times[s].append(time.perf_counter() - t0)
                        result[s] = cols
                    print(f"  {kind} n={n}x{m}: " + ", ".join(f"{s} {times[s][-1]:.2f}s"
                                                          for s in solvers), file=sys.stderr)
                costs = {s: float(c[np.arange(n), result[s]].sum()) for s in solvers}
                best = min(costs.values())
                ref_name = "lap" if "lap" in times else solvers[0]
                ref = result[ref_name]
                t_ref = statistics.median(times[ref_name])
                for s in solvers:
                    if np.unique(result[s]).size != n:
                        raise RuntimeError(f"{s} returned an assignment that is not a permutation")
                    med = statistics.median(times[s])
                    rows.append({
                        "points": kind, "n": n, "m": m, "solver": s, "ref": ref_name, "median_s": med,
                        "min_s": min(times[s]), "max_s": max(times[s]),
                        "vs_lap": med / t_ref if t_ref else float("nan"),
                        "total_cost": costs[s], "rel_diff": (costs[s] - best) / best,
                        "same_as_lap": float(np.mean(result[s] == ref)),
                    })
    ref_name = rows[0]["ref"] if rows else "lap"
    lines = [
        f"## Exact assignment solvers (squared Euclidean cost, d = {args.d}, {args.repeats} "
        "repeats, single-threaded)",
        "",
        f"| points | n x m | solver | median time (s) | min - max (s) | time / {ref_name} | "
        f"total cost | cost − best (relative) | same pairs as {ref_name} |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['points']} | {r['n']} x {r['m']} | {r['solver']} | {_fmt(r['median_s'])} | "
            f"{_fmt(r['min_s'])} - {_fmt(r['max_s'])} | {r['vs_lap']:.2f} | "
            f"{r['total_cost']:.6f} | {_fmt(r['rel_diff'])} | {100 * r['same_as_lap']:.1f}% |"
        )
    skipped = [n for n in sizes if n > args.max_emd_n and "pot-emd" in args.solvers]
    lines += [
        "",
        f"- seed {args.seed}; {platform.processor() or platform.machine()}, {os.cpu_count()} "
        f"cores, Python {platform.python_version()}, numpy {np.__version__}",
        "- command: `python benchmarks/bench_assignment.py "
        + " ".join(argv if argv is not None else sys.argv[1:]) + "`",
    ]
    if skipped:
        lines.append(f"- POT emd skipped at n = {skipped} (--max-emd-n {args.max_emd_n})")
    table = "\n".join(lines)
    print(table)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(table + "\n")
    return table


if __name__ == "__main__":
    main()
