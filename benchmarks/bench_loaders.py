"""Loader cost: SciPlex3 backed vs in-memory selection, AP-1 xlsx vs CSV, Sachs xls vs CSV.

1. SciPlex3: a synthetic file of the CellOT ``hvg.h5ad`` schema (N cells x 1,000 genes, sparse,
   ``control`` + 188 drugs) is written once; ``load_sciplex3(drugs=["trametinib"])`` is timed with
   ``backed=True`` and ``backed=False``, each run in a fresh subprocess so that its peak memory
   (tracemalloc peak during the call; numpy and h5py buffers included) is its own. The two
   settings alternate within each repeat, so background load hits both alike; the table shows
   medians and the ratio in-memory / backed.
2. AP-1: a synthetic ``mmc5.xlsx`` of N cells and the same table as CSV; ``load_ap1`` on each.
3. Sachs (only when the real data are found under ``$TRACKABILITY_DATA``): xls route vs CSV route.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_loaders.py            # full (~5-10 min)
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_loaders.py --quick    # ~1 min
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

_CHILD = r"""
import json, sys, time, tracemalloc
from trackability.data import load_sciplex3
import anndata, h5py, pandas, scipy.sparse
tracemalloc.start()
t0 = time.perf_counter()
a = load_sciplex3(sys.argv[1], drugs=["trametinib"], backed=sys.argv[2] == "1")
dt = time.perf_counter() - t0
peak = tracemalloc.get_traced_memory()[1] / 1024**2
print(json.dumps({"seconds": dt, "peak_mib": peak, "n_obs": a.n_obs}))
"""


def _write_sciplex(path: Path, n: int, seed: int = 0) -> None:
    import anndata
    import pandas as pd
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    drugs = ["control", "trametinib", *[f"drug{i:03d}" for i in range(187)]]
    drug = np.asarray(drugs)[rng.integers(0, len(drugs), n)]
    obs = pd.DataFrame({
        "drug": pd.Categorical(drug),
        "cell_type": pd.Categorical(np.array(["A549", "K562", "MCF7"])[rng.integers(0, 3, n)]),
        "dose": rng.choice([10.0, 100.0, 1000.0, 10000.0], n),
        "replicate": pd.Categorical(np.array(["rep1", "rep2"])[rng.integers(0, 2, n)]),
    }, index=[f"c{i}" for i in range(n)])
    genes = [f"G{j}" for j in range(1000)]
    x = sp.random(n, 1000, density=0.1, random_state=seed, format="csr", dtype=np.float32)
    a = anndata.AnnData(X=x, obs=obs, var=pd.DataFrame(index=genes))
    a.varm["marker_genes-drug-rank"] = pd.DataFrame(
        {d: rng.permutation(1000).astype(float) for d in drugs[1:]}, index=genes
    )
    a.write_h5ad(path)


def _child(path: Path, backed: bool) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", _CHILD, str(path), "1" if backed else "0"],
                         capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _ap1(tmp: Path, n: int, repeats: int) -> list[tuple[str, float]]:
    import pandas as pd

    from trackability.data import AP1_PROTEINS, load_ap1

    rng = np.random.default_rng(1)
    frame = pd.DataFrame({
        "cell_line": rng.choice(["COLO858", "WM902B", "SKMEL19"], n),
        "condition": rng.choice(["DMSO", "0.316 uM Vemurafenib", "0.316 uM Vem + 0.0316 uM Tram"], n),
        "time": rng.choice(["24h", "72h"], n),
        "replicate_id": rng.integers(1, 3, n),
    })
    for p in AP1_PROTEINS:
        frame[f"{p} (log a.u.)"] = rng.normal(5, 1, n)
    xlsx, csv = tmp / "mmc5.xlsx", tmp / "mmc5.csv"
    frame.to_excel(xlsx, index=False)
    frame.to_csv(csv, index=False)
    times: dict[str, list[float]] = {"xlsx": [], "csv": []}
    for _ in range(repeats):
        for kind, f in (("xlsx", xlsx), ("csv", csv)):
            t0 = time.perf_counter()
            load_ap1(f)
            times[kind].append(time.perf_counter() - t0)
    return [(k, statistics.median(v)) for k, v in times.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller files, fewer repeats")
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args()
    repeats = args.repeats or (2 if args.quick else 5)
    n_sci = 30_000 if args.quick else 200_000
    n_ap1 = 5_000 if args.quick else 50_000

    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        f = tmp / "hvg.h5ad"
        _write_sciplex(f, n_sci)
        res: dict[bool, list[dict]] = {True: [], False: []}
        for _ in range(repeats):
            for backed in (True, False):
                res[backed].append(_child(f, backed))
        size = f.stat().st_size / 1024**2
        print(f"\nSciPlex3 schema, {n_sci:,} cells x 1,000 genes (file {size:.0f} MiB), "
              f"load control + trametinib ({res[True][0]['n_obs']:,} cells); medians of {repeats}")
        print(f"{'mode':<18}{'seconds':>10}{'peak memory MiB':>22}")
        med = {}
        for backed in (True, False):
            s = statistics.median(r["seconds"] for r in res[backed])
            m = statistics.median(r["peak_mib"] for r in res[backed])
            med[backed] = (s, m)
            print(f"{'backed' if backed else 'in-memory':<18}{s:>10.2f}{m:>22.1f}")
        ratio_mem = med[False][1] / med[True][1]
        print(f"{'ratio mem/backed':<18}{med[False][0] / med[True][0]:>10.2f}{ratio_mem:>22.1f}")

        print(f"\nAP-1 schema, {n_ap1:,} cells x 20 proteins; medians of {repeats}")
        rows = _ap1(tmp, n_ap1, repeats)
        for kind, s in rows:
            print(f"{kind:<12}{s:>10.2f} s")
        print(f"{'ratio xlsx/csv':<12}{rows[0][1] / rows[1][1]:>10.1f}")

    root = Path(os.environ.get("TRACKABILITY_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    if (root / "sachs2005").is_dir():
        from trackability.data import load_sachs

        times: dict[str, list[float]] = {"xls": [], "csv": []}
        for _ in range(repeats):
            for src in ("xls", "csv"):
                t0 = time.perf_counter()
                load_sachs(root / "sachs2005", source=src)
                times[src].append(time.perf_counter() - t0)
        print(f"\nSachs 2005 (real files, 11,672 cells); medians of {repeats}")
        for src, v in times.items():
            print(f"{src:<12}{statistics.median(v):>10.2f} s")
        ratio = statistics.median(times["xls"]) / statistics.median(times["csv"])
        print(f"{'ratio xls/csv':<12}{ratio:>10.1f}")
    else:
        print(f"\nSachs: no data under {root}; skipped")


if __name__ == "__main__":
    main()
