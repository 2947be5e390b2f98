"""Predictions made by another tool, read from files and scored by the harness like any method.

An external tool (CellFlow, pertpy's scGen, ...) runs in its own environment on the splits the
harness exports (:func:`trackability.experiments.export.export_splits`) and writes, for each task
and seed, one matrix of predicted treated cells (one row per exported test control cell, in the
exported feature space)::

    predictions_dir/
        manifest.json                  {"tool": "cellflow-tools", "version": "0.0.9",
                                        "entries": {"kang/CD4T/seed0": {...}, ...}}
        kang/CD4T/seed0.npy            (or .csv: numbers only, optional header row)

``fit`` checks that the files are there (and names what is missing); ``predict`` returns the
stored matrix after checking that it belongs to the cells it is asked about: the shape, and,
where the manifest entry records it, the column sums of the test control cells the tool saw
(``source_test_sum``), so predictions made for another split or preprocessing are refused.
The harness then scores them with its own split, bandwidth and metrics: the bench computes
nothing for this method but the scores.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from trackability._validation import check_array
from trackability.models.base import PerturbationModel

MANIFEST = "manifest.json"
SUFFIXES = (".npy", ".csv")


def entry_key(task: str, seed: int) -> str:
    """The manifest key (and file stem, below ``predictions_dir``) of one task and seed."""
    return f"{task}/seed{int(seed)}"


def read_manifest(predictions_dir: str | Path) -> dict[str, Any]:
    """The validated ``manifest.json`` of a predictions folder."""
    path = Path(predictions_dir) / MANIFEST
    if not path.exists():
        raise FileNotFoundError(
            f"predictions_dir {str(predictions_dir)!r} has no {MANIFEST} (it must name the tool "
            "and its version)."
        )
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(manifest, dict):
        raise ValueError(f"{path} must hold a JSON object.")
    for key in ("tool", "version"):
        if not isinstance(manifest.get(key), str) or not manifest[key]:
            raise ValueError(f"{path} must name the {key} (a non-empty string).")
    entries = manifest.setdefault("entries", {})
    if not isinstance(entries, dict):
        raise ValueError(f"{path}: 'entries' must be an object keyed 'task/seedN'.")
    return manifest


def _read_matrix(path: Path) -> np.ndarray:
    if path.suffix == ".npy":
        arr = np.load(path, allow_pickle=False)
    else:
        with open(path) as fh:
            first = fh.readline()
        try:
            [float(v) for v in first.strip().split(",")]
            skip = 0
        except ValueError:
            skip = 1  # a header row
        arr = np.loadtxt(path, delimiter=",", skiprows=skip, ndmin=2)
    return check_array(arr, f"predictions {path}")


class External(PerturbationModel):
    """Another tool's predictions, read from ``predictions_dir`` (see the module docstring).

    Parameters
    ----------
    predictions_dir
        Folder with ``manifest.json`` and ``<task>/seed<seed>.npy`` (or ``.csv``) files.
    tool, version
        If given, the manifest must name exactly this tool / version (so a config row cannot be
        scored from another tool's files by mistake). Both end up in every result row.
    task
        Task name as in the bench rows (``"kang/CD4T"``); the bench passes it to ``fit``.
    random_state
        The seed of the split the predictions were made for (the bench sets it to the row's seed).

    Attributes
    ----------
    manifest_ : dict
        The folder's manifest.
    entry_ : dict
        The manifest entry of this task and seed (may be empty).
    prediction_path_ : str
        The file read at ``predict``.
    fit_seconds_ : float or None
        The external tool's own fit time, where its manifest entry records it.

    """

    _fitted_attributes: ClassVar[tuple[str, ...]] = (
        "manifest_", "entry_", "prediction_path_", "task_", "fit_seconds_",
    )

    def __init__(
        self,
        predictions_dir: str = "",
        tool: str | None = None,
        version: str | None = None,
        task: str | None = None,
        random_state: Any = 0,
    ) -> None:
        self.predictions_dir = predictions_dir
        self.tool = tool
        self.version = version
        self.task = task
        self.random_state = random_state

    def _fit(self, source: np.ndarray, target: np.ndarray, task_name: str | None = None) -> None:
        """Locate the predictions of this task and seed; nothing is learned."""
        if not isinstance(self.predictions_dir, str | Path) or not str(self.predictions_dir):
            raise ValueError("predictions_dir must name the folder with the tool's predictions.")
        task = task_name if task_name is not None else self.task
        if not isinstance(task, str) or not task:
            raise ValueError(
                "External needs the task name (e.g. 'kang/CD4T'): pass task= or fit(..., "
                "task_name=...); the bench passes it."
            )
        seed = self.random_state
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise ValueError(
                f"random_state must be the split's seed (a non-negative int); got {seed!r}."
            )
        manifest = read_manifest(self.predictions_dir)
        for key in ("tool", "version"):
            want = getattr(self, key)
            if want is not None and manifest[key] != want:
                raise ValueError(
                    f"{self.predictions_dir}: manifest names {key} {manifest[key]!r}, the config "
                    f"expects {want!r}."
                )
        key = entry_key(task, int(seed))
        base = Path(self.predictions_dir) / key
        found = [base.with_suffix(s) for s in SUFFIXES if base.with_suffix(s).exists()]
        if not found:
            raise FileNotFoundError(
                f"no predictions of {manifest['tool']} for task {task!r}, seed {seed}: expected "
                f"{base}.npy or {base}.csv."
            )
        entry = manifest["entries"].get(key, {})
        self.manifest_, self.entry_ = manifest, dict(entry)
        self.prediction_path_ = str(found[0])
        self.task_ = task
        secs = entry.get("fit_seconds")
        self.fit_seconds_ = None if secs is None else float(secs)

    def _predict(self, source: np.ndarray) -> np.ndarray:
        pred = _read_matrix(Path(self.prediction_path_))
        if pred.shape != source.shape:
            raise ValueError(
                f"{self.prediction_path_} holds {pred.shape[0]} x {pred.shape[1]} predictions, but "
                f"the split has {source.shape[0]} test control cells x {source.shape[1]} features: "
                "the predictions were made for another split or feature space."
            )
        ref = self.entry_.get("source_test_sum")
        if ref is not None:
            ref = np.asarray(ref, dtype=np.float64)
            got = source.sum(axis=0)
            tol = 1e-5 * (np.abs(source).sum(axis=0) + 1.0)
            if ref.shape != got.shape or np.any(np.abs(ref - got) > tol):
                raise ValueError(
                    f"{self.prediction_path_} was made for other test control cells than this "
                    "split's (their column sums differ): re-export the splits and rerun the tool."
                )
        return pred
