"""LAOT at scale: the certified sparse matching against the dense exact one, up to 10^6 cells.

Synthetic trackable data: ``near_identity(n, d=50, gap, noise)`` per side (control vs shuffled
treated). For each n, LAOT runs in a *fresh subprocess* (so the peak resident memory, from
``getrusage``, belongs to that run alone; CPU seconds, user + system, are less sensitive to other
load on the machine than wall seconds) with ``matching={"method": "sparse"}`` and, for n up to
``--max-dense``, with the dense exact solver as well; the table shows wall time, peak memory,
iterations, the certificate (exact or sampled), whether the graph had to be widened, the recovery
of the true correspondence, and whether sparse and dense gave identical matchings and maps.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_scale_laot.py                # 10k, 100k, 1M
    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_scale_laot.py --quick        # 2k, 10k
    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_scale_laot.py --sizes 1000000
    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_scale_laot.py --sizes 200000 \
        --methods auto sparse-cold                 # LAOT() defaults vs no warm start
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_scale_laot.py --knn-compare  # kNN libraries

``--knn-compare`` times the candidate-graph libraries on the first LAOT matching (W = I) at
``--knn-n`` cells: scikit-learn (exact), faiss flat (exact), faiss IVF and pynndescent
(approximate), with the recall of the true partner and of the exact 8 nearest neighbours.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

import numpy as np


def one_run(n: int, d: int, gap: float, noise: float, method: str, seed: int) -> dict:
    """Fit LAOT once in this process and return the measurements."""
    from trackability.data.synthetic import near_identity
    from trackability.metrics import recovery_rate
    from trackability.models import LAOT

    pair = near_identity(n, d, gap, noise=noise, random_state=seed)
    # "auto": LAOT's defaults, no matching options (dense up to 4000 cells, warm-started sparse
    # above); "sparse-cold": the sparse solver without the warm start (index rebuilt every call)
    matching = {"auto": None, "sparse": {"method": "sparse"}, "dense": {"method": "dense"},
                "sparse-cold": {"method": "sparse", "warm_start": False}}[method]
    t0 = time.perf_counter()
    model = LAOT(max_iter=10, matching=matching).fit(pair.control, pair.treated)
    wall = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    info = model.matching_.info
    out = {
        "n": n, "method": method, "seconds": wall, "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2,
        "iterations": int(model.n_iter_),
        "converged": bool(model.converged_),
        "recovery": recovery_rate(pair.permutation, model.matching_),
        "certificate": info.get("certificate", "-"),
        "certified": info.get("certified", "-"),
        "widened": info.get("widened", "-"),
        "knn": info.get("knn", "-"),
        "n_sampled": info.get("n_sampled"),
        "n_repaired": info.get("n_repaired_rows"),
        "rounds": len(info.get("rounds", [])),
        "warm_start": info.get("warm_start"),
        "upper95": info.get("violation_rate_upper95"),
        "target": model.matching_.target.tolist() if n <= 20000 else None,
        "W": model.W_.tolist() if n <= 20000 else None,
    }
    return out


def run_isolated(args: argparse.Namespace, n: int, method: str) -> dict:
    cmd = [sys.executable, __file__, "--one", str(n), "--method", method, "--d", str(args.d),
           "--gap", str(args.gap), "--noise", str(args.noise), "--seed", str(args.seed)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return {"n": n, "method": method, "error": proc.stderr.strip().splitlines()[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def knn_compare(n: int, d: int, gap: float, noise: float, seed: int, k: int = 8) -> None:
    from trackability.data.synthetic import near_identity
    from trackability.matching.sparse import knn_graph

    pair = near_identity(n, d, gap, noise=noise, random_state=seed)
    x, y = pair.control, pair.treated
    truth = np.argsort(pair.permutation)  # treated index of each control cell
    rows = []
    exact = None
    for backend in ("sklearn", "faiss", "faiss-ivf", "pynndescent"):
        try:
            t0 = time.perf_counter()
            idx, is_exact = knn_graph(x, y, k, backend, random_state=0)
            sec = time.perf_counter() - t0
        except ImportError as exc:
            rows.append((backend, "not installed", "", "", str(exc)))
            continue
        if exact is None and is_exact:
            exact = idx
        partner = float(np.mean(np.any(idx == truth[:, None], axis=1)))
        rec = "" if exact is None else float(np.mean(
            [len(set(a) & set(b)) / k for a, b in zip(idx[:2000], exact[:2000], strict=True)]))
        rows.append((backend, f"{sec:.1f}", f"{partner:.4f}", f"{rec:.3f}" if rec != "" else "",
                     "exact" if is_exact else "approximate"))
    print(f"\nkNN candidate graph, n = {n} per side, d = {d}, k = {k}, gap = {gap}, noise = {noise}\n")
    print("| library | seconds | partner in graph | recall@8 vs exact | kind |")
    print("|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(map(str, r)) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--quick", action="store_true", help="n = 2k and 10k only")
    ap.add_argument("--max-dense", type=int, default=10_000, help="largest n for the dense run")
    ap.add_argument("--d", type=int, default=50)
    ap.add_argument("--gap", type=float, default=1.0)
    ap.add_argument("--noise", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--knn-compare", action="store_true")
    ap.add_argument("--knn-n", type=int, default=100_000)
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--method", default="sparse", help=argparse.SUPPRESS)
    ap.add_argument("--methods", nargs="+", default=["sparse"],
                    choices=["auto", "sparse", "sparse-cold"],
                    help="LAOT matching configurations to run at every size (auto = LAOT's "
                         "defaults; sparse-cold = no warm start); dense is added up to --max-dense")
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one_run(args.one, args.d, args.gap, args.noise, args.method, args.seed)))
        return
    if args.knn_compare:
        knn_compare(2000 if args.quick else args.knn_n, args.d, args.gap, args.noise, args.seed)
        return
    sizes = [2000, 10_000] if args.quick else args.sizes
    print(f"LAOT, near_identity(n, d={args.d}, gap={args.gap}, noise={args.noise}), "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}\n")
    print("| n per side | method | seconds | CPU seconds | peak RSS (GB) | LAOT iterations (converged) | "
          "recovery | kNN | certificate | widened | sparse == dense |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for n in sizes:
        res = {meth: run_isolated(args, n, meth) for meth in args.methods}
        if n <= args.max_dense:
            res["dense"] = run_isolated(args, n, "dense")
        same = ""
        first = res[args.methods[0]]
        if "dense" in res and "error" not in res["dense"] and "error" not in first:
            equal = (res["dense"]["target"] == first["target"]
                     and np.allclose(res["dense"]["W"], first["W"], atol=1e-10, rtol=0))
            same = "identical" if equal else "DIFFERENT"
        for method, r in res.items():
            if "error" in r:
                print(f"| {n} | {method} | error: {r['error']} | | | | | | | | |")
                continue
            cert = r["certificate"]
            if cert == "sampled":
                bound = "n/a" if r["upper95"] is None else f"< {r['upper95']:.4f} @95%"
                cert = (f"sampled: {r['n_sampled']} fresh rows clean, violation rate {bound}; "
                        f"{r['n_repaired']} sampled rows repaired over {r['rounds']} rounds")
            elif cert == "exact":
                cert = "exact, certified" if r["certified"] else "exact, NOT certified"
            ws = r.get("warm_start")
            knn = r["knn"] + (f" (index built {ws['index_builds']}x)" if ws else "")
            print(f"| {n} | {method} | {r['seconds']:.1f} | {r['cpu_seconds']:.1f} | "
                  f"{r['peak_rss_gb']:.2f} | "
                  f"{r['iterations']} ({r['converged']}) | {r['recovery']:.4f} | {knn} | "
                  f"{cert} | {r['widened']} | "
                  f"{same if method == args.methods[0] else ''} |", flush=True)


if __name__ == "__main__":
    main()
