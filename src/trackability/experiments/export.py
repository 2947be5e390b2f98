"""Export a benchmark's splits to files, so that an external tool can predict on exactly them.

For every task and seed of a config, the harness builds the split and fits the preprocessing on
the training cells, as the bench does, and writes what a method may see::

    DIR/index.json                                  every entry (task, seed, folder)
    DIR/<group>/<task>/seed<seed>/source_train.npy  control cells, training
                                  target_train.npy  treated cells, training
                                  source_val.npy, target_val.npy   validation cells
                                  source_test.npy   the control cells to predict
                                  split.json        labels, feature names, sizes, provenance,
                                                    ``source_test_sum`` (see below)

The test treated cells are *not* written: the tool never sees what it is scored against. The
tool writes one prediction per row of ``source_test.npy`` (same feature space) to
``PRED/<group>/<task>/seed<seed>.npy`` and a ``PRED/manifest.json`` naming itself and its
version; copying ``source_test_sum`` into the manifest entry lets the ``external`` method refuse
predictions made for another split (:class:`trackability.models.external.External`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from trackability._version import provenance
from trackability.experiments.bench import atomic_write
from trackability.experiments.config import BenchConfig, load_config

ARRAYS = ("source_train", "target_train", "source_val", "target_val", "source_test")


def _labels(task: Any) -> dict[str, list[str]]:
    return {k: [str(v) for v in np.asarray(lab).tolist()] for k, lab in task.labels.items()
            if not k.endswith("_test") or k == "source_test"}


def export_splits(
    config: BenchConfig | str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    seeds: list[int] | None = None,
    tasks: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Write every (task, seed) split of ``config``, preprocessed as the bench does.

    Parameters
    ----------
    config
        A :class:`BenchConfig` or the path of a YAML config.
    out_dir
        Folder to write (created).
    seeds
        Seeds to export (default: the config's).
    tasks
        Row task names to export (``"kang/CD4T"``; default: all).

    Returns
    -------
    list of dict
        One entry per split: ``task``, ``seed``, ``path`` (relative to ``out_dir``), sizes.

    """
    cfg = config if isinstance(config, BenchConfig) else load_config(config)
    out = Path(out_dir)
    use_seeds = [int(s) for s in (seeds if seeds is not None else cfg.seeds)]
    entries: list[dict[str, Any]] = []
    seen: set[str] = set()
    for t in cfg.tasks:
        names = t.subtask_names()
        adata = t.load_data()
        for name in names:
            row_task = f"{t.name}/{name}"
            seen.add(row_task)
            if tasks is not None and row_task not in tasks:
                continue
            for seed in use_seeds:
                task, pre, ptask = t.prepare(name, seed, adata)
                rel = Path(t.name) / name / f"seed{seed}"
                folder = out / rel
                folder.mkdir(parents=True, exist_ok=True)
                for key in ARRAYS:
                    np.save(folder / f"{key}.npy", np.asarray(getattr(ptask, key), np.float64))
                info = {
                    "task": row_task, "seed": seed, "config_name": cfg.name,
                    "config_hash": cfg.hash(), "dataset": t.dataset,
                    "preprocessing": pre.describe(), "feature_names": list(ptask.feature_names),
                    "sizes": {k: int(getattr(ptask, k).shape[0]) for k in ARRAYS},
                    "n_features": int(ptask.n_features), "labels": _labels(ptask),
                    "source_test_sum": ptask.source_test.sum(axis=0).tolist(),
                    "meta": {k: v for k, v in task.meta.items()
                             if v is None or isinstance(v, str | int | float | bool)},
                    **provenance(),
                }
                atomic_write(folder / "split.json", json.dumps(info, indent=1))
                entries.append({"task": row_task, "seed": seed, "path": str(rel),
                                **info["sizes"]})
    if tasks is not None:
        unknown = sorted(set(tasks) - seen)
        if unknown:
            raise ValueError(f"tasks {unknown} are not in config {cfg.name!r}; "
                             f"available: {sorted(seen)}.")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "index.json", json.dumps(
        {"config_name": cfg.name, "config_hash": cfg.hash(), "entries": entries}, indent=1))
    return entries
