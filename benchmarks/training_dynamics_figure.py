"""Training-dynamics figure: CellOT, Compact CellOT and LAOT, train vs validation, on Sachs 2005.

Control: condition 1 (CD3/CD28, 853 cells); treated: condition 6 (+U0126 MEK inhibitor, 799
cells); 11 phospho-proteins, natural log. 80 % of each population is the training set (the rest,
the test set, is not used here at all); 10 % of the training cells are the validation split. Every
curve uses the same MMD^2 bandwidth (median heuristic on the training split).

    TRACKABILITY_DATA=../shared/data OMP_NUM_THREADS=1 \
        .venv/bin/python benchmarks/training_dynamics_figure.py              # 2000 iterations
    ... training_dynamics_figure.py --quick                               # 300 iterations

Writes docs/figures/training_dynamics.png (or --out) and prints the curves' summary table.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 CellOT iterations instead of 2000")
    parser.add_argument("--out", default="docs/figures/training_dynamics.png")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from trackability.data import load_sachs
    from trackability.experiments.training_dynamics import training_dynamics
    from trackability.plotting import plot_training_dynamics

    adata = load_sachs(transform="log", conditions=[1, 6])
    cond = adata.obs["condition_id"].to_numpy()
    x_all, y_all = np.asarray(adata.X)[cond == 1], np.asarray(adata.X)[cond == 6]
    rng = np.random.default_rng(args.seed)
    x = x_all[rng.permutation(len(x_all))[: int(0.8 * len(x_all))]]
    y = y_all[rng.permutation(len(y_all))[: int(0.8 * len(y_all))]]

    n_iters = 300 if args.quick else 2000
    cellot = {"max_iter": n_iters, "early_stopping": False, "log_every": max(n_iters // 40, 1),
              "eval_every": max(n_iters // 20, 1)}
    histories = training_dynamics(
        x, y, methods=("cellot", "compact_cellot", "laot"), random_state=args.seed,
        params={"cellot": cellot, "compact_cellot": cellot, "laot": {"fit_intercept": True}},
    )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    plot_training_dynamics(
        histories, path=args.out,
        title=f"Sachs 2005, CD3/CD28 -> +U0126 (log, 11 proteins): train vs validation "
              f"({n_iters} CellOT iterations)",
    )
    print(f"wrote {args.out}")
    print("| method | steps | kept step | train MMD² (kept) | val MMD² (kept) | best val MMD² |")
    print("|---|---|---|---|---|---|")
    start = histories["laot"].iloc[0] if "laot" in histories else None
    if start is not None:  # LAOT's step 0 is W = I: predicting no change
        print(f"| identity (LAOT step 0) | 0 | 0 | {start['train_mmd2']:.4f} | "
              f"{start['val_mmd2']:.4f} | {start['val_mmd2']:.4f} |")
    for name, h in histories.items():
        kept = h[h["selected"]].iloc[-1]
        ev = h.dropna(subset=["val_mmd2"])
        print(f"| {name} | {int(h['step'].max())} | {int(kept['step'])} | "
              f"{kept['train_mmd2']:.4f} | {kept['val_mmd2']:.4f} | {ev['val_mmd2'].min():.4f} |")


if __name__ == "__main__":
    main()
