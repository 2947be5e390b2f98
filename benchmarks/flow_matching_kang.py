"""FlowMatching on one Kang held-out cell type: MMD², R² of PC means and of top-100-gene means, CPU s.

The bench's split and PCA-50 preprocessing (configs/kang.yaml), one fit per setting. The R² of the
top-100 genes is the one issue 14 quotes for CellFlow: the 100 genes whose means differ most
between the held-out type's test control and stimulated cells (log1p), R² of the per-gene means of
the predictions mapped back to genes through the PCA against the stimulated cells' means.

    python benchmarks/flow_matching_kang.py --cell-type CD4T --seed 0 \
        --params '{}' '{"condition": "none"}' --baselines
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from trackability.data.preprocessing import Preprocessor
from trackability.data.task_builders import build_task, load_dataset
from trackability.metrics import mean_r2, median_heuristic_gamma, mmd2
from trackability.models.flow_matching import FlowMatching

SPLIT = {"kind": "holdout", "fractions": [0.6, 0.2, 0.2], "include_holdout_source": True}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cell-type", default="CD4T")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--params", nargs="*", default=["{}"], help="JSON FlowMatching parameters; "
                    'add "labels": false to fit without cell-type labels')
    ap.add_argument("--baselines", action="store_true", help="also score identity / mean shift")
    args = ap.parse_args()
    task = build_task("kang", args.cell_type, args.seed, adata=load_dataset("kang"), split=SPLIT)
    pre = Preprocessor([{"pca": {"n_components": 50}}])
    pt = pre.fit_task(task)
    gamma = median_heuristic_gamma(pt.source_train, pt.target_train, max_samples=2000,
                                   random_state=args.seed)
    top = np.argsort(-np.abs(task.target_test.mean(0) - task.source_test.mean(0)))[:100]

    def report(name: str, pred: np.ndarray, extra: str = "") -> None:
        genes = pre.inverse_transform(pred)
        print(f"{args.cell_type} seed {args.seed} {name}: mmd2 {mmd2(pred, pt.target_test, gamma=gamma):.4f}"
              f"  r2_pc_means {mean_r2(pred, pt.target_test):.3f}"
              f"  r2_top100_gene_means {mean_r2(genes[:, top], task.target_test[:, top]):.3f}"
              f"{extra}", flush=True)

    if args.baselines:
        report("identity", pt.source_test)
        report("meanshift", pt.source_test + pt.target_train.mean(0) - pt.source_train.mean(0))
    for text in args.params:
        params = json.loads(text)
        labels = params.pop("labels", True)
        model = FlowMatching(random_state=args.seed, **params)
        kw = {"source_labels": task.labels["source_train"],
              "target_labels": task.labels["target_train"]} if labels else {}
        model.fit(pt.source_train, pt.target_train, **kw)
        pred = model.predict(pt.source_test, labels=task.labels["source_test"] if labels else None)
        report(f"flow_matching {text}", pred,
               f"  stopped {model.n_iter_} best {model.best_step_} cpu_s {model.fit_cpu_seconds_:.1f}"
               f" params {model.n_parameters_}")


if __name__ == "__main__":
    main()
