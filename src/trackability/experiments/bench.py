"""The benchmark runner: every method on the same split, preprocessing and metric code.

For each (task, method, seed) of a :class:`~trackability.experiments.config.BenchConfig`:

1. build the task's split with the seed (:mod:`trackability.data.task_builders`);
2. fit the preprocessing on the training cells only (:class:`~trackability.data.preprocessing.
   Preprocessor`);
3. fit the model on the training cells (hyper-parameters in ``grid`` are chosen by MMD^2 on the
   validation split; models with their own early stopping carve it from the training cells);
4. predict the test control cells;
5. score against the test treated cells with the same code for every method: unbiased MMD^2 with
   ``gamma`` = median heuristic on the training cells only (control + treated, a seeded subsample),
   CellOT's biased MMD^2 averaged over :data:`~trackability.metrics.CELLOT_GAMMAS`, energy distance,
   W2 (on seeded subsamples above ``w2_max_cells``; the row says how many cells were used),
   mean R^2 and Pearson r of the feature means, and, where the truth is known (synthetic), the
   paired RMSE.

Each finished row is written at once, atomically (``DIR/rows/<job>.json`` via a temporary file,
fsync and rename), so an interrupted benchmark loses at most the rows in flight, and a rerun
skips every finished row: the job key is a hash of everything that determines the row (task
spec, method spec, metric settings, seed). ``DIR/results.csv`` is reassembled from the rows at the
end of every run.
"""

from __future__ import annotations

import errno
import inspect
import itertools
import json
import os
import platform
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trackability._version import provenance
from trackability.experiments.config import (
    BenchConfig,
    ConfigError,
    config_hash,
    dump_config,
    load_config,
)
from trackability.experiments.parallel import run_jobs
from trackability.metrics._sampling import subsample_rows
from trackability.metrics.registry import metric_names
from trackability.models.registry import check_params, get_model

#: Metric columns of a row, in the order of the metric registry
#: (:mod:`trackability.metrics.registry`).
METRICS = metric_names("row")
LEADING = ("task", "method", "seed", *METRICS, "status")

#: Prefix of the replicate-ceiling columns: ``ceiling.<metric>`` is the metric between two random
#: halves of the observed test treated cells, computed once per (task, seed) in each worker and
#: written into every row of that task and seed (see :func:`replicate_halves`).
CEILING_PREFIX = "ceiling."


@dataclass(frozen=True)
class Job:
    """One (task, method, seed) cell of a benchmark; everything a worker needs, picklable."""

    task_group: str
    task: str
    method: str
    seed: int
    task_cfg: dict[str, Any]
    method_cfg: dict[str, Any]
    metrics_cfg: dict[str, Any]
    config_name: str
    config_hash: str
    rows_dir: str
    on_error: str

    @property
    def key(self) -> str:
        """Hash of everything that determines this row's numbers."""
        # fields that only select which jobs run (not what a row contains) are left out, so that
        # narrowing or widening a config later reuses the rows already computed
        task = {k: v for k, v in self.task_cfg.items() if k not in ("only", "methods")}
        return config_hash(
            {"task": task, "subtask": self.task, "method": self.method_cfg,
             "metrics": self.metrics_cfg, "seed": self.seed}
        )

    @property
    def row_path(self) -> Path:
        """Where the finished row is written."""
        return Path(self.rows_dir) / f"{self.key}.json"


# -- files -----------------------------------------------------------------------------------------
def atomic_write(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the whole new one, never half.

    Writes a temporary file in the same folder, flushes and fsyncs it, then renames it over
    ``path`` (an atomic operation on POSIX and Windows).
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}{_TMP_SUFFIX}")
    try:
        with open(tmp, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk or an interruption leaves no half file behind
        raise


_TMP_SUFFIX = ".tmp"
#: errno values that mean "this folder cannot be written now" (permissions, read-only, full disk).
_WRITE_ERRNOS = frozenset(
    getattr(errno, name) for name in ("EACCES", "EPERM", "EROFS", "ENOSPC", "EDQUOT") if hasattr(errno, name)
)


class BenchmarkWriteError(OSError):
    """The results folder could not be written; finished rows are kept and a rerun resumes."""


def remove_stale_temporaries(out_dir: str | os.PathLike) -> list[Path]:
    """Delete temporary files left in ``out_dir`` (and ``rows/``) by processes that no longer run.

    :func:`atomic_write` names its temporary ``.<name>.<pid>.tmp``; a process killed between the
    write and the rename (``kill -9``) leaves it behind. Files of a live process are kept.

    Returns
    -------
    list of pathlib.Path
        The files removed.

    """
    import psutil

    removed = []
    for folder in (Path(out_dir), Path(out_dir) / "rows"):
        if not folder.is_dir():
            continue
        for p in folder.glob(f".*{_TMP_SUFFIX}"):
            pid = p.name.removesuffix(_TMP_SUFFIX).rpartition(".")[2]
            if pid.isdigit() and int(pid) != os.getpid() and psutil.pid_exists(int(pid)):
                continue
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def _read_row(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None  # an unreadable row counts as unfinished and is recomputed


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    if obj is None or isinstance(obj, str | int | float | bool):
        return obj
    return str(obj)


# -- one job ---------------------------------------------------------------------------------------
def _accepts(func: Any, name: str) -> bool:
    return name in inspect.signature(func).parameters


def _make_model(cls: type, params: dict[str, Any], seed: int) -> Any:
    """``cls(**params)`` with the job's seed and no progress bar unless the params say otherwise."""
    params = dict(params)
    names = set(inspect.signature(cls.__init__).parameters)
    if "random_state" in names and "random_state" not in params:
        params["random_state"] = seed
    if "progress" in names and "progress" not in params:
        params["progress"] = False
    check_params(cls, params)
    return cls(**params)


def _fit_params(model: Any, task: Any, task_name: str | None = None) -> dict[str, Any]:
    """Labels for models that take them (scGen), taken from the training split only.

    Models whose ``_fit`` takes ``task_name`` (the file-based ``external`` method) get the row's
    task name (``"group/task"``).
    """
    out: dict[str, Any] = {}
    fit_impl = getattr(model, "_fit", model.fit)
    if task_name is not None and _accepts(fit_impl, "task_name"):
        out["task_name"] = task_name
    if not _context_labels(task):
        return out
    if "source_train" in task.labels and _accepts(fit_impl, "source_labels"):
        out["source_labels"] = task.labels["source_train"]
    if "target_train" in task.labels and _accepts(fit_impl, "target_labels"):
        out["target_labels"] = task.labels["target_train"]
    return out


def _context_labels(task: Any) -> bool:
    """Whether the task's labels are contexts a model may condition on (cell types, patients).

    A task with ``meta.replicate_key`` (e.g. Schiebinger's day-2 captures c1 / c2) carries
    replicate labels, kept for the replicate ceiling only: they are not contexts (the control
    cells have no capture of the treated cells'), so no model receives them.
    """
    return bool(task.labels) and not task.meta.get("replicate_key")


def _predict(model: Any, task: Any, x: np.ndarray, part: str) -> np.ndarray:
    kw: dict[str, Any] = {}
    if _context_labels(task) and f"source_{part}" in task.labels and _accepts(
            getattr(model, "_predict", model.predict), "labels"):
        kw["labels"] = task.labels[f"source_{part}"]
    return np.asarray(model.predict(x, **kw) if kw else model.predict(x), dtype=np.float64)


def score(
    pred: np.ndarray,
    target: np.ndarray,
    *,
    gamma: float,
    seed: int,
    metrics_cfg: dict[str, Any],
    truth: np.ndarray | None = None,
    control: np.ndarray | None = None,
) -> dict[str, Any]:
    """The shared metrics of one prediction (the only scoring code the benchmark uses).

    Parameters
    ----------
    pred, target
        Predicted treated cells (one per test control cell) and the true test treated cells.
    gamma
        RBF bandwidth from the training split (median heuristic).
    seed
        Seed of the subsamples (``max_eval_cells``, ``w2_max_cells``) and of the E-test's
        permutations.
    metrics_cfg
        :class:`~trackability.experiments.config.MetricsConfig` as a dict.
    truth
        The known treated state of each test control cell (synthetic data), for ``rmse_paired``.
    control
        The test control cells the prediction was made from, for the gene-level metrics of the
        change from control (``delta_pearson``, ``delta_pearson_top``, ``deg_sign``) and the saved
        means of the rank metric; skipped when None.

    """
    from trackability.metrics import (
        CELLOT_GAMMAS,
        energy_distance,
        mean_pearson,
        mean_r2,
        mmd2,
        wasserstein2,
    )

    rng = np.random.default_rng([int(seed), 7])
    out: dict[str, Any] = {"gamma": gamma}
    if truth is not None:
        out["rmse_paired"] = float(np.sqrt(np.mean(np.sum((pred - truth) ** 2, axis=1))))
    max_eval = metrics_cfg.get("max_eval_cells")
    p, t = subsample_rows(pred, max_eval, rng), subsample_rows(target, max_eval, rng)
    out["eval_cells_pred"], out["eval_cells_target"] = p.shape[0], t.shape[0]
    out["mmd2"] = mmd2(p, t, gamma=gamma, unbiased=True)
    if metrics_cfg.get("cellot_mmd", True):
        out["mmd2_cellot"] = mmd2(p, t, gamma=list(CELLOT_GAMMAS), unbiased=False)
    if metrics_cfg.get("energy", True):
        out["energy"] = energy_distance(p, t)
    if metrics_cfg.get("w2", True):
        m = int(metrics_cfg.get("w2_max_cells", 1500))
        pw, tw = subsample_rows(p, m, rng), subsample_rows(t, m, rng)
        out["w2"] = wasserstein2(pw, tw)
        out["w2_cells"] = f"{pw.shape[0]}x{tw.shape[0]}"
        out["w2_subsampled"] = bool(pw.shape[0] < p.shape[0] or tw.shape[0] < t.shape[0])
    for name, fn in (("mean_r2", mean_r2), ("mean_pearson", mean_pearson)):
        try:
            out[name] = fn(p, t)
        except ValueError:
            out[name] = float("nan")  # undefined (e.g. one feature); recorded as missing
    out.update(_score_more(pred, target, control, seed, metrics_cfg))
    return out


def _score_more(
    pred: np.ndarray, target: np.ndarray, control: np.ndarray | None, seed: int,
    cfg: dict[str, Any],
) -> dict[str, Any]:
    """Gene-level metrics, the E-test and the saved means of one prediction.

    They draw from their own seeded stream, so the subsamples of the metrics of :func:`score`
    stay those of earlier versions (the same numbers).
    """
    from trackability.metrics.gene import deg_sign_agreement, delta_pearson
    from trackability.metrics.significance import energy_test

    out: dict[str, Any] = {}
    rng = np.random.default_rng([int(seed), 13])
    n_perm = int(cfg.get("etest_permutations", 500))
    if n_perm > 0:
        m = int(cfg.get("etest_max_cells", 500))
        res = energy_test(subsample_rows(pred, m, rng), subsample_rows(target, m, rng),
                          n_permutations=n_perm, random_state=rng)
        out["etest_p"], out["etest_stat"], out["etest_permutations"] = (
            res.p_value, res.statistic, res.n_permutations)
    if control is None:
        return out
    k = int(cfg.get("top_k", 20))
    for name, fn in (("delta_pearson", lambda: delta_pearson(pred, target, control)),
                     ("delta_pearson_top", lambda: delta_pearson(pred, target, control, top_k=k)),
                     ("deg_sign", lambda: deg_sign_agreement(pred, target, control, top_k=k))):
        try:
            out[name] = fn()
        except ValueError:
            out[name] = float("nan")  # undefined (one feature, no change); recorded as missing
    out["top_k"] = min(k, target.shape[1])
    if target.shape[1] <= int(cfg.get("means_max_features", 2000)):
        # the per-task means the rank metric compares across the tasks of a data set (tables)
        out["pred_mean"] = json.dumps(np.round(pred.mean(axis=0), 8).tolist())
        out["target_mean"] = json.dumps(np.round(target.mean(axis=0), 8).tolist())
        out["control_mean"] = json.dumps(np.round(control.mean(axis=0), 8).tolist())
    return out


def replicate_halves(target: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint random halves of the observed treated cells (the replicate ceiling's pair)."""
    if target.shape[0] < 4:
        raise ValueError(f"the replicate ceiling needs >= 4 test treated cells; got {target.shape[0]}.")
    order = np.random.default_rng([int(seed), 17]).permutation(target.shape[0])
    half = target.shape[0] // 2
    return target[np.sort(order[:half])], target[np.sort(order[half : 2 * half])]


_CEILINGS: dict[str, dict[str, Any]] = {}


def _ceiling(job: Job, target: np.ndarray, control: np.ndarray, gamma: float) -> dict[str, Any]:
    """The replicate ceiling of a job's task and seed.

    :func:`score` of one half of the observed test treated cells against the other, cached per
    process (the methods of one split run next to each other and share it).
    """
    task = {k: v for k, v in job.task_cfg.items() if k not in ("only", "methods")}
    key = config_hash({"task": task, "subtask": job.task, "seed": job.seed,
                       "metrics": job.metrics_cfg})
    if key not in _CEILINGS:
        _CEILINGS.clear()
        half_a, half_b = replicate_halves(target, job.seed)
        vals = score(half_a, half_b, gamma=gamma, seed=job.seed, metrics_cfg=job.metrics_cfg,
                     control=control)
        _CEILINGS[key] = {f"{CEILING_PREFIX}{k}": v for k, v in vals.items() if k in METRICS}
    return dict(_CEILINGS[key])


def model_truth_metrics(model: Any, task: Any) -> dict[str, float]:
    """``recovery`` and ``map_error`` of a fitted model against a synthetic task's known truth.

    ``recovery`` needs the task's ``train_permutation`` and a one-to-one
    :class:`~trackability.matching.Matching` in ``model.matching_`` (indices into the training
    cells the model was fitted on); ``map_error`` (``|W_ - W^T|_F``, the model predicting
    ``x @ W_.T``) needs the task's ``true_map`` and ``model.W_`` of the same shape. What cannot be
    computed is NaN (never a stand-in value).
    """
    from trackability.matching import Matching
    from trackability.metrics.registry import get_metric

    out = {"recovery": float("nan"), "map_error": float("nan")}
    matching = getattr(model, "matching_", None)
    if task.train_permutation is not None and isinstance(matching, Matching):
        out["recovery"] = float(get_metric("recovery").function(task.train_permutation, matching))
    w = getattr(model, "W_", None)
    if task.true_map is not None and w is not None and np.shape(w) == task.true_map.shape:
        out["map_error"] = float(get_metric("map_error").function(w, task.true_map))
    return out


def _record(value: Any) -> Any:
    """A grid value as a row records it: an infinite float as the string ``"inf"`` / ``"-inf"``."""
    if isinstance(value, float | np.floating) and np.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def select_grid_point(means: list[float], ses: list[float], candidates: list[dict[str, Any]],
                      rule: str = "min", simpler: dict[str, str] | None = None) -> int:
    """Index of the grid point a selection rule keeps.

    Parameters
    ----------
    means
        Validation score of each candidate (lower is better: MMD^2); NaN never wins.
    ses
        Standard error of each score (used by ``"one_se"`` only).
    candidates
        The grid points (dicts of hyper-parameter values), in grid order.
    rule
        ``"min"``: the lowest score (the first one on ties). ``"one_se"``: the one-standard-error
        rule: among the candidates whose score is at most ``best + se(best)``, the simplest.
    simpler
        For ``"one_se"``: per hyper-parameter, which direction is simpler, ``"larger"`` or
        ``"smaller"`` (e.g. ``{"alpha": "larger"}``: more regularised); with several, the first
        listed decides first. Ties in simplicity go to the lower score.

    """
    m = np.asarray(means, dtype=float)
    if m.size == 0 or m.size != len(candidates) or len(ses) != m.size:
        raise ValueError("means, ses and candidates must have the same, non-zero length.")
    if not np.isfinite(m).any():
        raise ValueError("no grid point has a finite validation score.")
    best = int(np.nanargmin(np.where(np.isfinite(m), m, np.nan)))
    if rule == "min":
        return best
    if rule != "one_se":
        raise ValueError(f"rule must be 'min' or 'one_se'; got {rule!r}.")
    if not simpler:
        raise ValueError("rule 'one_se' needs 'simpler': which direction of each grid key is simpler.")
    se = float(ses[best])
    if not np.isfinite(se) or se < 0:
        raise ValueError(f"the standard error of the best grid point is {se!r}; need >= 0.")
    within = [i for i in range(m.size) if np.isfinite(m[i]) and m[i] <= m[best] + se]

    def key(i: int) -> tuple:
        out = []
        for k, direction in simpler.items():
            v = float(candidates[i][k])
            out.append(-v if direction == "larger" else v)
        return (*out, m[i])

    return min(within, key=key)


def _folds(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """Fold id (0..k-1) of each of n cells: a seeded permutation dealt round-robin."""
    out = np.empty(n, dtype=np.int64)
    out[rng.permutation(n)] = np.arange(n) % k
    return out


def _context_folds(ptask: Any, method: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """Leave-one-context-out folds: one per training context with control and treated cells.

    A context with training control cells only (a held-out cell type's own control cells) is
    never a fold and stays in every fold's training set.
    """
    ls, lt = ptask.labels.get("source_train"), ptask.labels.get("target_train")
    if ls is None or lt is None:
        raise ValueError(
            f"method {method!r}: select.folds 'contexts' needs context labels of the training "
            f"cells; task {ptask.name!r} has none (a split with contexts: holdout or replicate)."
        )
    ls, lt = np.asarray(ls).astype(str), np.asarray(lt).astype(str)
    both = sorted(set(ls.tolist()) & set(lt.tolist()))
    if len(both) < 2:
        raise ValueError(
            f"method {method!r}: select.folds 'contexts' needs >= 2 training contexts with control "
            f"and treated cells; task {ptask.name!r} has {both}."
        )
    return [(ls == c, lt == c) for c in both]


def _fold_task(ptask: Any, in_s: np.ndarray, in_t: np.ndarray) -> Any:
    """A copy of ``ptask`` whose train / val parts are a fold of its training cells (no test cells)."""
    import dataclasses

    labels = {}
    for group, mask in (("source", in_s), ("target", in_t)):
        lab = ptask.labels.get(f"{group}_train")
        if lab is not None:
            labels[f"{group}_train"] = lab[~mask]
            labels[f"{group}_val"] = lab[mask]
    for key in ("source_test", "target_test"):
        if key in ptask.labels:
            labels[key] = ptask.labels[key]
    return dataclasses.replace(
        ptask, source_train=ptask.source_train[~in_s], target_train=ptask.target_train[~in_t],
        source_val=ptask.source_train[in_s], target_val=ptask.target_train[in_t], labels=labels,
        train_permutation=None, test_truth=None, true_map=None,
    )


def _tune(cls: type, mcfg: dict[str, Any], ptask: Any, seed: int, gamma: float,
          task_name: str | None = None) -> tuple[Any, dict]:
    """Fit every grid point on train and keep one by the method's ``select`` rule.

    Default (``select`` absent, ``rule: min`` without ``folds``): each grid point is fitted on the
    training cells and scored by MMD^2 on the validation split; the lowest wins. With
    ``folds: k``, each grid point is scored by k-fold cross-validation over the training cells
    (source and target cells dealt into k folds by a permutation seeded with the job's seed; a
    fold's held-out control cells are predicted by the model fitted on the other folds and
    scored against its held-out treated cells); the score is the mean over folds and its standard
    error sd / sqrt(k); the validation split is not used. With ``folds: contexts`` each training
    context (cell type, patient, donor) with control and treated cells is a fold (leave one
    context out: the held-out-context task in miniature). ``rule: one_se`` then keeps the simplest
    grid point (``simpler``) within one standard error of the best (:func:`select_grid_point`).
    The kept grid point is refitted on all the training cells. Test cells are never used.
    """
    from trackability.metrics import mmd2

    grid = mcfg.get("grid") or {}
    if not grid:
        model = _make_model(cls, mcfg.get("params") or {}, seed)
        model.fit(ptask.source_train, ptask.target_train, **_fit_params(model, ptask, task_name))
        return model, {}
    sel = {"rule": "min", "folds": None, "simpler": {}, **(mcfg.get("select") or {})}
    k = sel["folds"]
    if k is None and (ptask.source_val.shape[0] < 2 or ptask.target_val.shape[0] < 2):
        raise ValueError(
            f"method {mcfg['name']!r} has a grid but task {ptask.name!r} has fewer than 2 "
            "validation cells per group; give the split a validation fraction."
        )
    if k not in (None, "contexts") and min(ptask.source_train.shape[0],
                                           ptask.target_train.shape[0]) < 2 * k:
        raise ValueError(
            f"method {mcfg['name']!r}: select.folds = {k} needs >= {2 * k} training cells per "
            f"group; task {ptask.name!r} has {ptask.source_train.shape[0]} -> "
            f"{ptask.target_train.shape[0]}."
        )
    params = mcfg.get("params") or {}
    keys = sorted(grid)
    cands = [dict(zip(keys, v, strict=True)) for v in itertools.product(*(grid[k_] for k_ in keys))]
    if k == "contexts":
        fold_masks = _context_folds(ptask, mcfg["name"])
    elif k is not None:
        rng = np.random.default_rng([int(seed), 29])
        fs, ft = _folds(ptask.source_train.shape[0], k, rng), _folds(ptask.target_train.shape[0], k, rng)
        fold_masks = [(fs == i, ft == i) for i in range(k)]
    if k is not None:
        fold_tasks = [_fold_task(ptask, ms, mt) for ms, mt in fold_masks]
    scores, means, ses, fitted = [], [], [], []
    for cand in cands:
        if k is None:
            model = _make_model(cls, {**params, **cand}, seed)
            model.fit(ptask.source_train, ptask.target_train, **_fit_params(model, ptask, task_name))
            val = mmd2(_predict(model, ptask, ptask.source_val, "val"), ptask.target_val, gamma=gamma)
            fitted.append(model)
            means.append(val)
            ses.append(float("nan"))
            scores.append({**{a: _record(b) for a, b in cand.items()}, "val_mmd2": val})
            continue
        per_fold = []
        for ft_ in fold_tasks:
            model = _make_model(cls, {**params, **cand}, seed)
            model.fit(ft_.source_train, ft_.target_train, **_fit_params(model, ft_, task_name))
            per_fold.append(mmd2(_predict(model, ft_, ft_.source_val, "val"), ft_.target_val,
                                 gamma=gamma))
        mean = float(np.mean(per_fold))
        se = float(np.std(per_fold, ddof=1) / np.sqrt(len(per_fold)))
        means.append(mean)
        ses.append(se)
        scores.append({**{a: _record(b) for a, b in cand.items()}, "val_mmd2": mean,
                       "val_se": se, "fold_mmd2": per_fold})
    if sel["rule"] == "one_se" and k is None:
        raise ValueError(f"method {mcfg['name']!r}: select.rule 'one_se' needs select.folds.")
    i = select_grid_point(means, ses, cands, sel["rule"], sel["simpler"])
    if k is None:
        model = fitted[i]
    else:
        model = _make_model(cls, {**params, **cands[i]}, seed)
        model.fit(ptask.source_train, ptask.target_train, **_fit_params(model, ptask, task_name))
    chosen = {a: _record(b) for a, b in cands[i].items()}
    return model, {"chosen": chosen, "grid_scores": scores,
                   "select": {"rule": sel["rule"], "folds": k, "simpler": sel["simpler"]}}


_PREPARED: dict[str, tuple[Any, Any, Any]] = {}


def critical_gap_of(task: Any) -> float | None:
    """Delta of a task whose true Lipschitz rate is known (``meta['lipschitz_rate']``, synthetic).

    ``Delta = sqrt((1 - delta) / (2 n L^2))`` with the (2, delta) restricted-isometry constant of
    the training control cells (the n cells the models match; unit-free ``scale="optimal"``).
    None when the task has no known rate or the estimate fails (the mark is optional: a benchmark
    never fails for it).
    """
    from trackability.diagnostics.critical import critical_gap
    from trackability.diagnostics.rip import rip

    lip = task.meta.get("lipschitz_rate")
    if lip is None:
        return None
    control = task.source_train
    try:
        r = rip(control, 2, progress=False)
        return float(critical_gap(min(r.delta, 1.0), control.shape[0], float(lip), scale=r.scale))
    except Exception:  # noqa: BLE001 - optional mark
        return None


def _prepared(job: Job) -> tuple[Any, Any, Any]:
    """(task, fitted preprocessor, preprocessed task) of a job, reused across its methods.

    The split and the preprocessing depend on the task spec and the seed only; one entry is kept
    per process (jobs are ordered task -> seed -> method).
    """
    from trackability.data.preprocessing import Preprocessor
    from trackability.data.task_builders import build_task, load_dataset

    tcfg = job.task_cfg
    key = config_hash({"task": {k: v for k, v in tcfg.items() if k not in ("only", "methods")},
                       "subtask": job.task, "seed": job.seed})
    if key not in _PREPARED:
        _PREPARED.clear()
        options = {**tcfg.get("options", {}), **({"path": tcfg["path"]} if tcfg.get("path") else {})}
        adata = load_dataset(tcfg["dataset"], **options)
        task = build_task(tcfg["dataset"], job.task, job.seed, adata=adata,
                          split=tcfg.get("split") or {}, **options)
        if "lipschitz_rate" in task.meta and "critical_gap" not in task.meta:
            task.meta["critical_gap"] = critical_gap_of(task)
        pre = Preprocessor(tcfg.get("preprocessing") or [])
        _PREPARED[key] = (task, pre, pre.fit_task(task))
    return _PREPARED[key]


def run_job(job: Job) -> dict[str, Any]:
    """Compute and write the result row of one job (a module-level function: it pickles)."""
    from trackability.metrics import median_heuristic_gamma

    tcfg, mcfg = job.task_cfg, job.method_cfg
    row: dict[str, Any] = {
        "task": f"{job.task_group}/{job.task}", "method": job.method, "seed": job.seed,
        "task_group": job.task_group, "subtask": job.task, "dataset": tcfg["dataset"],
        "method_key": mcfg.get("method") or mcfg["name"],
        "params": json.dumps(_jsonable(mcfg.get("params") or {}), sort_keys=True),
        "config_name": job.config_name, "config_hash": job.config_hash, "job_key": job.key,
        **provenance(), "host": platform.node(),
    }
    t0 = time.perf_counter()
    try:
        task, pre, ptask = _prepared(job)
        row.update({f"n_{k}": v for k, v in task.sizes().items()})
        row["d_input"] = task.n_features
        row["d_model"] = ptask.n_features
        row["preprocessing"] = json.dumps(pre.describe())
        for k, v in task.meta.items():
            if v is None or isinstance(v, str | int | float | bool | np.generic):
                row[f"meta.{k}"] = _jsonable(v)
        row["build_time_s"] = time.perf_counter() - t0

        # the scoring space: the model space, or (score_space: input) the task's own features
        in_input = tcfg.get("score_space", "model") == "input"
        cols = task.score_features
        if in_input:
            tr_s, tr_t, te_t = task.source_train, task.target_train, task.target_test
            te_s, truth = task.source_test, task.test_truth
        else:
            tr_s, tr_t, te_t = ptask.source_train, ptask.target_train, ptask.target_test
            te_s, truth = ptask.source_test, ptask.test_truth
            if cols is not None and ptask.n_features != task.n_features:
                raise ValueError(
                    f"task {task.name!r} is scored on selected features but its preprocessing "
                    "changes the feature space; set score_space: input."
                )
        if cols is not None:
            tr_s, tr_t, te_t, te_s = tr_s[:, cols], tr_t[:, cols], te_t[:, cols], te_s[:, cols]
            truth = None if truth is None else truth[:, cols]
        row["d_score"] = te_t.shape[1]
        row["score_space"] = "input" if in_input else "model"
        gamma = median_heuristic_gamma(
            tr_s, tr_t, max_samples=int(job.metrics_cfg.get("gamma_max_cells", 2000)),
            random_state=job.seed,
        )

        cls = get_model(row["method_key"])
        t1, c1 = time.perf_counter(), time.process_time()
        # validation-based selection works in the model space, with that space's train gamma
        gamma_model = gamma if (not in_input and cols is None) else median_heuristic_gamma(
            ptask.source_train, ptask.target_train,
            max_samples=int(job.metrics_cfg.get("gamma_max_cells", 2000)), random_state=job.seed,
        )
        model, tuned = _tune(cls, mcfg, ptask, job.seed, gamma_model,
                             task_name=f"{job.task_group}/{job.task}")
        row["fit_time_s"] = time.perf_counter() - t1
        row["fit_cpu_s"] = time.process_time() - c1
        # a model's own count / an external tool's time; how long it trained and what stopped it
        # (early stopping or the cap: the converged tables must show the cap is not reached)
        for attr in ("n_parameters_", "fit_seconds_", "n_iter_", "best_step_", "stop_reason_"):
            if getattr(model, attr, None) is not None:
                row[f"model_{attr.rstrip('_')}"] = getattr(model, attr)
        if tuned:
            row["chosen"] = json.dumps(_jsonable(tuned["chosen"]), sort_keys=True)
            row["grid_scores"] = json.dumps(_jsonable(tuned["grid_scores"]))
            row["select"] = json.dumps(_jsonable(tuned["select"]), sort_keys=True)
        row["hyperparameters"] = json.dumps(_jsonable(model.get_params()), sort_keys=True,
                                            default=str) if hasattr(model, "get_params") else "{}"
        # recovery / map error: in the model space, where the model's matching and map live
        row.update(model_truth_metrics(model, ptask))
        t2 = time.perf_counter()
        pred = _predict(model, ptask, ptask.source_test, "test")
        row["predict_time_s"] = time.perf_counter() - t2
        if pred.shape != ptask.source_test.shape:
            raise ValueError(f"{job.method} predicted shape {pred.shape}, expected "
                             f"{ptask.source_test.shape}.")
        if in_input:
            pred = pre.inverse_transform(pred)
        if cols is not None:
            pred = pred[:, cols]
        row.update(score(pred, te_t, gamma=gamma, seed=job.seed, metrics_cfg=job.metrics_cfg,
                         truth=truth, control=te_s))
        if job.metrics_cfg.get("replicate", True):
            row.update(_ceiling(job, te_t, te_s, gamma))
        row["status"] = "ok"
        row["error"] = ""
    except Exception as exc:
        if job.on_error == "raise":
            raise
        row["status"] = "error"
        row["error"] = f"{type(exc).__name__}: {exc}"
        row["traceback"] = traceback.format_exc(limit=8)
    row["total_time_s"] = time.perf_counter() - t0
    row["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    atomic_write(job.row_path, json.dumps(_jsonable(row), indent=1, sort_keys=True))
    return row


# -- the whole benchmark ---------------------------------------------------------------------------
def plan(config: BenchConfig, out_dir: str | os.PathLike) -> list[Job]:
    """Every job of ``config``.

    Task names come from each data set's registry entry: from the options and cheap metadata
    where it can (no data set is loaded in the parent for those); the data are loaded in the jobs.
    """
    rows_dir = str(Path(out_dir) / "rows")
    mcfg = config.metrics.model_dump(mode="json")
    chash = config.hash()
    jobs: list[Job] = []
    for t in config.tasks:
        tdump = t.model_dump(mode="json")
        names = t.subtask_names()
        methods = [m for m in config.methods if t.methods is None or m.name in t.methods]
        # task -> seed -> method: the methods of one split run next to each other, so a worker
        # reuses the split and preprocessing it has just built (see _prepared)
        for name in names:
            for seed in config.seeds:
                for m in methods:
                    jobs.append(Job(t.name, name, m.name, int(seed), tdump,
                                    m.model_dump(mode="json"), mcfg, config.name, chash,
                                    rows_dir, config.on_error))
    return jobs


def finished_keys(out_dir: str | os.PathLike) -> set[str]:
    """Job keys with a complete, successful row in ``out_dir/rows``."""
    rows = Path(out_dir) / "rows"
    done = set()
    for p in rows.glob("*.json"):
        row = _read_row(p)
        if row is not None and row.get("status") == "ok" and row.get("job_key") == p.stem:
            done.add(p.stem)
    return done


def collect(out_dir: str | os.PathLike, jobs: list[Job] | None = None) -> Any:
    """Assemble the rows of ``out_dir`` (only those of ``jobs`` when given) into a DataFrame."""
    import pandas as pd

    rows_dir = Path(out_dir) / "rows"
    keys = None if jobs is None else {j.key for j in jobs}
    rows = []
    for p in sorted(rows_dir.glob("*.json")):
        if keys is not None and p.stem not in keys:
            continue
        row = _read_row(p)
        if row is not None:
            rows.append(row)
    df = pd.DataFrame(rows)
    if df.empty:
        return pd.DataFrame(columns=list(LEADING))
    for c in LEADING:
        if c not in df.columns:
            df[c] = np.nan
    if jobs is not None:  # the config's order: task, method, seed
        order = {j.key: i for i, j in enumerate(jobs)}
        df = df.assign(_o=df["job_key"].map(order)).sort_values("_o").drop(columns="_o")
    rest = sorted(c for c in df.columns if c not in LEADING)
    return df[list(LEADING) + rest].reset_index(drop=True)


def check_methods(config: BenchConfig) -> None:
    """Fail before any work when a method cannot be imported or lacks a package (e.g. torch)."""
    problems = []
    for m in config.methods:
        try:
            cls = get_model(m.key)
            check = getattr(cls, "check_dependencies", None)
            if check is not None:
                check()
        except (ImportError, ValueError, TypeError) as exc:
            problems.append(f"  methods.{m.name}: {exc}")
    if problems:
        raise ConfigError("some methods are not available:\n" + "\n".join(problems))


def run_benchmark(
    config: BenchConfig | str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    n_jobs: int = 1,
    backend: str = "joblib",
    scheduler: str | None = None,
    progress: bool | None = None,
    resume: bool = True,
) -> Any:
    """Run a benchmark and return its results table (also written to ``out_dir/results.csv``).

    Parameters
    ----------
    config
        A :class:`BenchConfig` or the path of a YAML config.
    out_dir
        Results folder: ``config.yaml``, ``rows/`` (one JSON per finished row), ``results.csv``.
    n_jobs, backend, scheduler
        Parallel execution through :func:`trackability.experiments.parallel.run_jobs`.
    progress
        Progress bar (None: follow ``TRACKABILITY_PROGRESS``).
    resume
        Skip jobs whose row is already in ``out_dir/rows`` (the default). ``False`` recomputes
        (and overwrites) every row.

    Returns
    -------
    pandas.DataFrame
        One row per (task, method, seed), with the columns of :data:`LEADING` first.

    """
    cfg = config if isinstance(config, BenchConfig) else load_config(config)
    check_methods(cfg)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"out_dir {out} exists and is not a folder; give a folder for the "
                                 "results (it is created if missing).")
    try:
        (out / "rows").mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(out)
        atomic_write(out / "config.yaml", dump_config(cfg))
        jobs = plan(cfg, out)
        done = finished_keys(out) if resume else set()
        todo = [j for j in jobs if j.key not in done]
        manifest = {
            "config_name": cfg.name, "config_hash": cfg.hash(), "n_jobs_total": len(jobs),
            "n_skipped": len(jobs) - len(todo),
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            **provenance(),
        }
        atomic_write(out / "manifest.json", json.dumps(manifest, indent=1))
        try:
            run_jobs(run_job, todo, backend=backend, n_jobs=n_jobs, scheduler=scheduler,
                     progress=progress, desc=f"bench {cfg.name}")
        finally:
            df = collect(out, jobs)
            atomic_write(out / "results.csv", df.to_csv(index=False))
    except OSError as exc:
        if exc.errno not in _WRITE_ERRNOS:
            raise
        n_rows = len(list((out / "rows").glob("*.json"))) if (out / "rows").is_dir() else 0
        err = BenchmarkWriteError(
            f"cannot write the results folder {out} ({exc.strerror or exc}: "
            f"{exc.filename or out}). The {n_rows} row(s) already in {out / 'rows'} are kept; free "
            "space or fix the permissions and run the same command again: it resumes, skipping "
            "the finished rows."
        )
        err.errno = exc.errno
        raise err from exc
    return df
