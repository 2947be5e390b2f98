"""Fit one neural model on one subtask and seed of a benchmark config, and score it on the test cells.

A quick probe for choosing budgets before a full rerun: it builds the task exactly as
``trackability bench`` does (same split, same preprocessing, same MMD^2 bandwidth: the median
heuristic on the training cells of the model space) and prints the test MMD^2 of the model, of
predicting no change and of the mean shift, plus where training stopped.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/probe_neural_task.py configs/kang.yaml CD4T \\
        compact_cellot '{"lr": 1e-3, "max_iter": 1500, "patience": 500, "eval_every": 100}'
"""

from __future__ import annotations

import argparse
import json
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("subtask")
    parser.add_argument("method", help="registry name, e.g. cellot, compact_cellot, scgen")
    parser.add_argument("params", nargs="?", default="{}", help="JSON constructor parameters")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from trackability.experiments.bench import _prepared, plan
    from trackability.experiments.config import load_config
    from trackability.metrics import median_heuristic_gamma, mmd2
    from trackability.models.registry import make_model

    cfg = load_config(args.config)
    jobs = [j for j in plan(cfg, "/tmp/probe_neural_task") if j.seed == args.seed
            and str(j.task) == args.subtask]
    if not jobs:
        raise SystemExit(f"no job for subtask {args.subtask!r} and seed {args.seed} in {args.config}")
    _, _, task = _prepared(jobs[0])
    xs, xt, ts, tt = task.source_train, task.target_train, task.source_test, task.target_test
    gamma = median_heuristic_gamma(xs, xt, max_samples=2000, random_state=args.seed)
    model = make_model(args.method, random_state=args.seed, **json.loads(args.params))
    t0 = time.perf_counter()
    model.fit(xs, xt)
    fit_s = time.perf_counter() - t0
    shift = ts + xt.mean(0) - xs.mean(0)
    print(f"{args.subtask} seed {args.seed} {args.method} {args.params}: test MMD^2 "
          f"{mmd2(model.predict(ts), tt, gamma=gamma):.4f}, no change {mmd2(ts, tt, gamma=gamma):.4f}, "
          f"mean shift {mmd2(shift, tt, gamma=gamma):.4f}; n_iter {model.n_iter_}, kept "
          f"{getattr(model, 'best_step_', None)}, stop {model.stop_reason_}, fit {fit_s:.0f} s")


if __name__ == "__main__":
    main()
