"""Read the harness's exported splits and write predictions for the ``external`` method.

numpy and the standard library only: the peer tools run in their own virtual environments,
without trackability installed. The formats are those of ``trackability.experiments.export``
(splits) and ``trackability.models.external`` (predictions + manifest).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

ARRAYS = ("source_train", "target_train", "source_val", "target_val", "source_test")


def iter_splits(split_dir: str | os.PathLike, tasks: list[str] | None = None,
                seeds: list[int] | None = None):
    """Yield ``(info, arrays)`` for every exported split (``info`` is ``split.json``)."""
    root = Path(split_dir)
    index = json.loads((root / "index.json").read_text())
    for entry in index["entries"]:
        if tasks is not None and entry["task"] not in tasks:
            continue
        if seeds is not None and int(entry["seed"]) not in seeds:
            continue
        folder = root / entry["path"]
        info = json.loads((folder / "split.json").read_text())
        arrays = {k: np.load(folder / f"{k}.npy", allow_pickle=False) for k in ARRAYS}
        yield info, arrays


def write_prediction(pred_dir: str | os.PathLike, info: dict[str, Any], pred: np.ndarray, *,
                     tool: str, version: str, **extra: Any) -> Path:
    """Write one prediction matrix and its manifest entry (``extra``: fit_seconds, ...)."""
    pred = np.asarray(pred, dtype=np.float64)
    n, d = info["sizes"]["source_test"], info["n_features"]
    if pred.shape != (n, d):
        raise ValueError(f"{info['task']} seed {info['seed']}: prediction has shape {pred.shape}, "
                         f"expected {(n, d)}.")
    if not np.all(np.isfinite(pred)):
        raise ValueError(f"{info['task']} seed {info['seed']}: prediction has NaN/inf values.")
    root = Path(pred_dir)
    key = f"{info['task']}/seed{int(info['seed'])}"
    path = root / f"{key}.npy"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, pred)
    mpath = root / "manifest.json"
    manifest = json.loads(mpath.read_text()) if mpath.exists() else {}
    if manifest and (manifest.get("tool"), manifest.get("version")) != (tool, version):
        raise ValueError(f"{mpath} belongs to {manifest.get('tool')} {manifest.get('version')}, "
                         f"not {tool} {version}; use another folder.")
    manifest.update({"tool": tool, "version": version})
    manifest.setdefault("entries", {})[key] = {
        "source_test_sum": info["source_test_sum"], "config_hash": info["config_hash"], **extra,
    }
    tmp = mpath.with_name(f".{mpath.name}.tmp")
    tmp.write_text(json.dumps(manifest, indent=1))
    os.replace(tmp, mpath)
    return path


def run_peer(fit_predict, *, tool: str, distribution: str, settings: dict[str, Any],
             description: str, argv: list[str] | None = None) -> None:
    """Command line of a peer runner: ``SPLITS PRED [--tasks ...] [--seeds ...]``.

    ``fit_predict(arrays, info, seed) -> (prediction, extra)`` trains the tool on one split;
    every split is written with :func:`write_prediction` (tool name, the installed version of
    ``distribution``, ``settings`` and ``extra``); a prediction already on disk is skipped, so an
    interrupted run resumes.
    """
    import argparse
    from importlib.metadata import version

    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("splits")
    ap.add_argument("pred")
    ap.add_argument("--tasks", default=None, help="comma-separated task names (default: all)")
    ap.add_argument("--seeds", default=None, help="comma-separated seeds (default: all)")
    args = ap.parse_args(argv)
    tasks = args.tasks.split(",") if args.tasks else None
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else None
    ver = version(distribution)
    for info, arrays in iter_splits(args.splits, tasks, seeds):
        key = f"{info['task']}/seed{info['seed']}"
        if (Path(args.pred) / f"{key}.npy").exists():
            print(f"{key}: done before, skipped", flush=True)
            continue
        pred, extra = fit_predict(arrays, info, int(info["seed"]))
        write_prediction(args.pred, info, pred, tool=tool, version=ver, settings=settings,
                         **extra)
        details = ", ".join(f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}"
                            for k, v in extra.items())
        print(f"{key}: {details}", flush=True)
