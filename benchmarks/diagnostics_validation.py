"""Validation of the trackability diagnostics (the numbers and figures of docs/diagnostics.md).

Three parts, each printing a table and writing a CSV under ``--out``:

1. ``theorem``: noiseless synthetic pairs at a gap below the computed critical gap Delta (and below
   the sharper separation bound): LAOT must recover the permutation exactly in every trial.
2. ``phase``: the empirical phase diagram of LAOT (seed-faithful and centred generators) with the
   computed Delta per d overlaid, and the ratio of the empirical 50 %-recovery gap to Delta.
3. ``real``: ``diagnose`` on the Sachs 2005 controls (conditions 1 and 2, log) against their
   inhibitor conditions, and on the COLO858 4i baseline (log), with Delta for plausible L.

Usage::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/diagnostics_validation.py
    python benchmarks/diagnostics_validation.py --quick          # a few minutes less, fewer trials
    python benchmarks/diagnostics_validation.py --parts theorem  # one part

Figures go to ``--figures`` (default docs/figures).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from trackability._version import provenance
from trackability.data.synthetic import ORIGINAL_DIMS, ORIGINAL_GAPS, near_identity, seed_faithful
from trackability.diagnostics import critical_gap, diagnose, min_separation, rip
from trackability.experiments.phase_transition import ORIGINAL_LAOT, phase_transition
from trackability.matching import assign
from trackability.metrics import recovery_rate
from trackability.models import LAOT

CENTRED_GAPS = (0.03, 0.1, 0.3, 1, 2, 5, 8, 10, 15, 20, 25, 30, 40, 50, 100, 150, 200)


def _draw(generator: str, d: int, trial: int, n: int, gap_index_gap: float = 0.0):
    if generator == "seed_faithful":
        return seed_faithful(d, gap_index_gap, trial, n=n)
    return near_identity(n, d, 0.0, random_state=10_000 * d + trial)


def _bounds(x: np.ndarray, e: np.ndarray) -> tuple[float, float, float, float]:
    """delta, L (true, over the cells), Delta, separation bound."""
    r = rip(x, progress=False)
    lip = float(np.max(np.linalg.norm(x @ e, axis=1)))
    big = critical_gap(r.delta, x.shape[0], lip, scale=r.scale)
    sep = min_separation(x).distance / (2 * lip)
    return r.delta, lip, big, sep


# -- 1. the theorem ------------------------------------------------------------------------------
def theorem_check(dims, trials: int, n: int, fractions=(0.5, 0.99)) -> pd.DataFrame:
    rows = []
    for generator in ("seed_faithful", "centered"):
        params = dict(ORIGINAL_LAOT) if generator == "seed_faithful" else {}
        cost = params.get("cost", "sqeuclidean")
        for d in dims:
            for trial in range(trials):
                base = _draw(generator, d, trial, n)
                x, e, perm = base.control, base.E, base.permutation
                delta, lip, big, sep = _bounds(x, e)
                for bound, value in (("Delta", big), ("separation", sep)):
                    for f in fractions:
                        t = f * value
                        y = (x @ (np.eye(d) + t * e))[perm]
                        model = LAOT(**params).fit(x, y)
                        rec = recovery_rate(perm, model.matching_)
                        first = assign(x, y, cost=cost)
                        rows.append({
                            "generator": generator, "d": d, "trial": trial, "bound": bound,
                            "fraction": f, "gap": t, "delta": delta, "L": lip, "Delta": big,
                            "Delta_separation": sep, "recovery": rec,
                            "first_assignment_exact": bool(
                                np.array_equal(first.source_of(n), perm)
                            ),
                        })
    return pd.DataFrame(rows)


# -- 2. the phase diagram with Delta --------------------------------------------------------------
def gap_at(gaps: np.ndarray, recovery: np.ndarray, level: float) -> float:
    """First gap where recovery falls below ``level``, interpolated linearly in log(gap)."""
    order = np.argsort(gaps)
    g, r = gaps[order], recovery[order]
    below = np.flatnonzero(r < level)
    if below.size == 0:
        return math.inf
    k = below[0]
    if k == 0:
        return float(g[0])
    g0, g1, r0, r1 = g[k - 1], g[k], r[k - 1], r[k]
    if g0 <= 0:
        return float(g0 + (r0 - level) / (r0 - r1) * (g1 - g0))
    lg = np.log(g0) + (r0 - level) / (r0 - r1) * (np.log(g1) - np.log(g0))
    return float(np.exp(lg))


def phase_with_delta(dims, trials: int, n: int, n_jobs: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    tables, drows = [], []
    for generator in ("seed_faithful", "centered"):
        sf = generator == "seed_faithful"
        gaps = ORIGINAL_GAPS if sf else (0.0, *CENTRED_GAPS)
        t0 = time.perf_counter()
        tab = phase_transition(dims=dims, gaps=gaps, trials=trials, n=n, seed_faithful=sf,
                               random_state=0, n_jobs=n_jobs, progress=False)
        print(f"  phase transition, {generator}: {time.perf_counter() - t0:.0f} s", flush=True)
        tables.append(tab)
        for d in dims:
            vals = []
            # the draws of the sweep itself for the seed-faithful generator (seed i + j + trial);
            # independent draws of the same distribution for the centred one
            if sf:
                for g in gaps:
                    for trial in range(trials):
                        p = seed_faithful(d, g, trial, n=n)
                        vals.append(_bounds(p.control, p.E))
            else:
                for trial in range(max(trials, 20)):
                    p = _draw(generator, d, trial, n)
                    vals.append(_bounds(p.control, p.E))
            v = np.array(vals)
            sub = tab[tab["d"] == d]
            g50 = gap_at(sub["gap"].to_numpy(float), sub["recovery"].to_numpy(float), 0.5)
            exact = sub[sub["exact_fraction"] == 1.0]["gap"].astype(float)
            drows.append({
                "generator": generator, "d": d, "draws": len(v),
                "delta": float(np.median(v[:, 0])), "L": float(np.median(v[:, 1])),
                "Delta": float(np.median(v[:, 2])), "Delta_lo": float(v[:, 2].min()),
                "Delta_hi": float(v[:, 2].max()), "Delta_separation": float(np.median(v[:, 3])),
                "gap50": g50, "last_gap_all_exact": float(exact.max()) if len(exact) else 0.0,
            })
    deltas = pd.DataFrame(drows)
    deltas["gap50_over_Delta"] = deltas["gap50"] / deltas["Delta"]
    deltas["gap50_over_separation"] = deltas["gap50"] / deltas["Delta_separation"]
    deltas["exact_edge_over_Delta"] = deltas["last_gap_all_exact"] / deltas["Delta"]
    return pd.concat(tables, ignore_index=True), deltas


# -- 3. real data --------------------------------------------------------------------------------
def _data_root() -> Path:
    env = os.environ.get("TRACKABILITY_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"


def load_sachs_log() -> tuple[np.ndarray, np.ndarray]:
    """Log-transformed Sachs cells and their condition ids (the project loader if present)."""
    try:
        from trackability.data.loaders import load_sachs

        ad = load_sachs(_data_root() / "sachs2005", transform="log")
        return np.asarray(ad.X, dtype=float), ad.obs["condition_id"].to_numpy(int)
    except ImportError:
        markers = ["praf", "pmek", "plcg", "PIP2", "PIP3", "p44/42", "pakts473", "PKA", "PKC",
                   "P38", "pjnk"]
        df = pd.read_csv(_data_root() / "sachs2005" / "sachs2005_tidy.csv")
        return np.log(df[markers].to_numpy(float)), df["condition_id"].to_numpy(int)


def load_colo858_log() -> tuple[np.ndarray, np.ndarray]:
    try:
        from trackability.data.loaders import load_colo858_4i

        ad = load_colo858_4i(_data_root() / "colo858_4i" / "colo858_4i_baseline.csv")
        return np.log(np.asarray(ad.X, dtype=float)), ad.obs["well"].astype(str).to_numpy()
    except ImportError:
        df = pd.read_csv(_data_root() / "colo858_4i" / "colo858_4i_baseline.csv")
        x = df[["FRA1", "MITF", "NGFR", "SOX10", "AXL", "cJUN"]].to_numpy(float)
        return np.log(x), df["well"].astype(str).to_numpy()


def _rms_radius(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.sum((x - x.mean(axis=0)) ** 2, axis=1))))


def real_data(fractions=(0.1, 0.5, 1.0)) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per control population: delta, the certified displacement, Delta for plausible L."""
    rows, pairs = [], []
    x, cid = load_sachs_log()
    populations = [(f"Sachs cond {c} (log)", x[cid == c]) for c in (1, 2)]
    xc, wells = load_colo858_log()
    populations.append(("COLO858 4i baseline, all wells (log)", xc))
    for w in sorted(set(wells)):
        populations.append((f"COLO858 4i well {w} (log)", xc[wells == w]))
    for name, x0 in populations:
        for center in (False, True):
            t0 = time.perf_counter()
            r = rip(x0, center=center, progress=False)
            n = x0.shape[0]
            eps = math.sqrt(r.lambda_min / (2 * n)) if r.holds else 0.0  # = Delta * L
            radius = _rms_radius(x0)
            sep = min_separation(x0).distance
            row = {
                "population": name, "centered": center, "n": n, "d": x0.shape[1],
                "delta": r.delta, "one_minus_delta": 1 - r.delta, "lambda_min": r.lambda_min,
                "lambda_max": r.lambda_max,
                "worst_pair": str(r.worst_pair), "certified_displacement": eps,
                "half_min_separation": sep / 2, "rms_radius": radius,
                "seconds": time.perf_counter() - t0,
            }
            for f in fractions:
                # L = f x (RMS radius of the population) per unit time -> Delta in those time units
                row[f"Delta_L{f:g}R"] = eps / (f * radius)
            rows.append(row)
    # Sachs: each control against its inhibitor conditions (gap = 1 experiment gap)
    for ctrl, drugs in ((1, (3, 4, 5, 6, 7)), (2, (10, 11, 12, 13, 14))):
        x0 = x[cid == ctrl]
        for drug in drugs:
            xt = x[cid == drug]
            rep = diagnose(x0, xt, 1.0, n_boot=0, progress=False, recoverability=False)
            shift = float(np.linalg.norm(xt.mean(axis=0) - x0.mean(axis=0)))
            disp = rep.details["lipschitz"]
            pairs.append({
                "control": ctrl, "treated": drug, "n0": x0.shape[0], "nt": xt.shape[0],
                "delta": rep.delta, "mean_shift": shift, "matched_disp_sup": disp["sup"],
                "matched_disp_q95": disp["robust"], "Delta_in_gaps": rep.Delta,
                "ratio_sup": rep.ratio, "ratio_mean_shift": shift / (rep.Delta * rep.L),
                "Delta_separation_in_gaps": rep.Delta_separation, "regime": rep.regime,
            })
    return pd.DataFrame(rows), pd.DataFrame(pairs)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="Fewer dims and trials (minutes).")
    ap.add_argument("--parts", default="theorem,phase,real", help="Comma-separated parts.")
    ap.add_argument("--out", default="results/diagnostics_validation", help="Folder for CSV/JSON.")
    ap.add_argument("--figures", default="docs/figures", help="Folder for the PNG figures.")
    ap.add_argument("--trials", type=int, default=None, help="Trials per grid point.")
    ap.add_argument("--n-jobs", type=int, default=1, help="Parallel workers of the sweep.")
    ap.add_argument("--replot", action="store_true",
                    help="Redraw the phase figure from the CSVs already in --out (no sweep).")
    args = ap.parse_args(argv)
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    out, figs = Path(args.out), Path(args.figures)
    out.mkdir(parents=True, exist_ok=True)
    figs.mkdir(parents=True, exist_ok=True)
    dims = (10, 50, 100) if args.quick else ORIGINAL_DIMS
    n = 100
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 30)
    meta = {"argv": sys.argv[1:], **provenance()}

    if "theorem" in parts:
        trials = args.trials or (5 if args.quick else 20)
        t0 = time.perf_counter()
        th = theorem_check(dims, trials, n)
        th.to_csv(out / "theorem.csv", index=False)
        summ = (th.groupby(["generator", "bound", "fraction"])
                .agg(fits=("recovery", "size"), min_recovery=("recovery", "min"),
                     exact_trials=("recovery", lambda r: int((r == 1.0).sum())),
                     first_step_exact=("first_assignment_exact", "sum"),
                     median_gap=("gap", "median"))
                .reset_index())
        print(f"\n== 1. theorem check: LAOT below the computed bounds ({trials} trials x "
              f"{len(dims)} dims, n = {n}, {time.perf_counter() - t0:.0f} s)")
        print(summ.to_string(index=False))

    if args.replot:
        from trackability.plotting.diagnostics import plot_phase_with_delta

        plot_phase_with_delta(pd.read_csv(out / "phase.csv"), pd.read_csv(out / "phase_deltas.csv"),
                              path=figs / "diagnostics_phase_delta.png")
        parts.discard("phase")
    if "phase" in parts:
        from trackability.plotting.diagnostics import plot_phase_with_delta

        trials = args.trials or (5 if args.quick else 20)
        phase, deltas = phase_with_delta(dims, trials, n, args.n_jobs)
        phase.to_csv(out / "phase.csv", index=False)
        deltas.to_csv(out / "phase_deltas.csv", index=False)
        print(f"\n== 2. phase diagram vs computed Delta ({trials} trials per point, n = {n})")
        cols = ["generator", "d", "delta", "L", "Delta", "Delta_separation", "gap50",
                "gap50_over_Delta", "gap50_over_separation", "last_gap_all_exact",
                "exact_edge_over_Delta"]
        print(deltas[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        plot_phase_with_delta(phase, deltas, path=figs / "diagnostics_phase_delta.png")

    if "real" in parts:
        from trackability.plotting.diagnostics import plot_trackable_region

        t0 = time.perf_counter()
        pops, pairs = real_data()
        pops.to_csv(out / "real_populations.csv", index=False)
        pairs.to_csv(out / "real_sachs_pairs.csv", index=False)
        print(f"\n== 3. real data ({time.perf_counter() - t0:.0f} s)")
        print(pops.drop(columns=["worst_pair"]).to_string(index=False,
                                                         float_format=lambda v: f"{v:.4g}"))
        print(pairs.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        colo = pops[(pops["population"].str.contains("all wells")) & (~pops["centered"])].iloc[0]
        radius = float(colo["rms_radius"])
        fig = plot_trackable_region(
            float(colo["delta"]), [0.1 * radius, 0.5 * radius, radius],
            scale=float(np.sqrt(2.0 / (colo["lambda_min"] + colo["lambda_max"]))),
            n=int(colo["n"]), n_range=(10, 1e5), time_unit="h",
            labels=["L = 0.1 R / h", "L = 0.5 R / h", "L = R / h"],
            title="COLO858 4i baseline (log): trackable region for plausible L\n"
            f"R = RMS radius of the population = {radius:.3g} log units, 1 - δ = {1 - colo['delta']:.2g}",
        )
        fig.savefig(figs / "diagnostics_trackable_region.png", dpi=150)
    (out / "meta.json").write_text(json.dumps(meta, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
