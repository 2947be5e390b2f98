"""Benchmark tasks and their seeded splits.

A :class:`Task` holds everything one benchmark cell needs: control (source) and treated (target)
cells split into train / validation / test, feature names, optional per-cell labels (e.g. cell
types for scGen) and metadata (the gap of a time sweep, the held-out cell type, ...).

Every split is a seeded random permutation of each group, never "the first rows". The split kinds:

- :func:`split_within` - within one context: each group is split at random (default 60/20/20).
- :func:`split_replicate` - train (and validation) on one replicate, test on another.
- :func:`split_holdout` - cross-context: train on every other context (cell line / cell type),
  test on the held-out one, predicted from its own control cells.
- a time sweep is one :func:`split_within` task per time point against the same control cells
  (see :mod:`trackability.data.task_builders`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from trackability._validation import check_array, check_random_state

SPLITS = ("train", "val", "test")
DEFAULT_FRACTIONS: tuple[float, float, float] = (0.6, 0.2, 0.2)


@dataclass
class Task:
    """One benchmark task: unpaired control -> treated cells, split into train / val / test.

    Attributes
    ----------
    name
        Unique name (a row key of the result table).
    source_train, target_train
        Training cells (control and treated), shape (n, d). Models are fitted on these only.
    source_val, target_val
        Validation cells: the only place hyper-parameters or early stopping may look. May have
        zero rows when a split kind has no validation part.
    source_test, target_test
        Test cells: ``predict(source_test)`` is scored against ``target_test``.
    feature_names
        Names of the d features.
    labels
        Optional per-cell labels, keyed ``"<group>_<split>"`` (e.g. ``"source_train"``): for
        models that use them (scGen's cell types).
    score_features
        Optional feature indices on which predictions are scored (e.g. a drug's top-100 marker
        genes); None scores on every feature.
    test_truth
        Optional known treated state of each ``source_test`` cell (synthetic data only): enables a
        paired error besides the distribution distances.
    train_permutation
        Optional true training correspondence (synthetic data only): ``target_train[j]`` is the
        treated state of ``source_train[train_permutation[j]]``. Enables the ``recovery`` metric
        of models that expose a one-to-one ``matching_``.
    true_map
        Optional true linear map ``W`` of the generator (``F(x) = x @ W``, synthetic data only),
        in the task's feature space. Enables the ``map_error`` metric of models exposing ``W_``.
    meta
        Free metadata (data set, contexts, gap, d, ...), copied into every result row.

    """

    name: str
    source_train: np.ndarray
    target_train: np.ndarray
    source_val: np.ndarray
    target_val: np.ndarray
    source_test: np.ndarray
    target_test: np.ndarray
    feature_names: list[str]
    labels: dict[str, np.ndarray] = field(default_factory=dict)
    score_features: np.ndarray | None = None
    test_truth: np.ndarray | None = None
    train_permutation: np.ndarray | None = None
    true_map: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        d = None
        for part in ("train", "val", "test"):
            for group in ("source", "target"):
                key = f"{group}_{part}"
                min_rows = 0 if part == "val" else 1
                arr = getattr(self, key)
                if arr is None or (min_rows == 0 and np.asarray(arr).size == 0):
                    arr = np.zeros((0, d or len(self.feature_names)))
                else:
                    arr = check_array(arr, f"{self.name}: {key}", min_samples=min_rows)
                setattr(self, key, arr)
                if d is None:
                    d = arr.shape[1]
                elif arr.shape[1] != d:
                    raise ValueError(
                        f"task {self.name!r}: {key} has {arr.shape[1]} features but source_train "
                        f"has {d}."
                    )
        if len(self.feature_names) != d:
            raise ValueError(
                f"task {self.name!r}: {len(self.feature_names)} feature names for {d} features."
            )
        self.feature_names = [str(f) for f in self.feature_names]
        for key, lab in self.labels.items():
            lab = np.asarray(lab)
            if key not in self.array_keys():
                raise ValueError(f"task {self.name!r}: unknown label key {key!r}.")
            if lab.shape != (getattr(self, key).shape[0],):
                raise ValueError(
                    f"task {self.name!r}: labels[{key!r}] has shape {lab.shape}, expected "
                    f"({getattr(self, key).shape[0]},)."
                )
            self.labels[key] = lab
        if self.score_features is not None:
            sf = np.asarray(self.score_features, dtype=np.int64)
            if sf.ndim != 1 or sf.size == 0 or sf.min() < 0 or sf.max() >= d:
                raise ValueError(
                    f"task {self.name!r}: score_features must be a non-empty list of feature "
                    f"indices in [0, {d})."
                )
            self.score_features = sf
        if self.test_truth is not None:
            tt = check_array(self.test_truth, f"{self.name}: test_truth")
            if tt.shape != self.source_test.shape:
                raise ValueError(
                    f"task {self.name!r}: test_truth has shape {tt.shape}, expected "
                    f"{self.source_test.shape} (one row per source_test cell)."
                )
            self.test_truth = tt
        if self.train_permutation is not None:
            perm = np.asarray(self.train_permutation)
            n_s, n_t = self.source_train.shape[0], self.target_train.shape[0]
            if (perm.shape != (n_t,) or not np.issubdtype(perm.dtype, np.integer)
                    or (perm.size and (perm.min() < 0 or perm.max() >= n_s))):
                raise ValueError(
                    f"task {self.name!r}: train_permutation must be {n_t} integers in [0, {n_s}) "
                    "(the source_train row of each target_train cell)."
                )
            self.train_permutation = perm.astype(np.int64)
        if self.true_map is not None:
            w = check_array(self.true_map, f"{self.name}: true_map")
            if w.shape != (d, d):
                raise ValueError(
                    f"task {self.name!r}: true_map has shape {w.shape}, expected ({d}, {d})."
                )
            self.true_map = w

    @staticmethod
    def array_keys() -> tuple[str, ...]:
        """Names of the six cell arrays, in a fixed order."""
        return tuple(f"{g}_{p}" for p in SPLITS for g in ("source", "target"))

    @property
    def n_features(self) -> int:
        """Number of features d."""
        return int(self.source_train.shape[1])

    def sizes(self) -> dict[str, int]:
        """Cells per array, e.g. ``{"source_train": 512, ...}``."""
        return {k: int(getattr(self, k).shape[0]) for k in self.array_keys()}

    def map_arrays(self, func: Any, feature_names: Sequence[str] | None = None) -> Task:
        """A new task with ``func`` applied to every cell array (and ``test_truth``).

        ``score_features`` refers to the original features, so it is kept only when the feature
        space is unchanged (``feature_names`` None). ``train_permutation`` indexes rows, which
        ``func`` keeps, so it is kept; ``true_map`` is dropped (``func`` changes the space it is a
        map of).
        """
        new = {k: func(getattr(self, k)) if getattr(self, k).shape[0] else None
               for k in self.array_keys()}
        names = list(self.feature_names) if feature_names is None else list(feature_names)
        for k, v in new.items():
            if v is None:
                new[k] = np.zeros((0, len(names)))
        truth = None if self.test_truth is None else func(self.test_truth)
        return replace(
            self,
            **new,
            feature_names=names,
            labels=dict(self.labels),
            score_features=self.score_features if feature_names is None else None,
            test_truth=truth,
            train_permutation=self.train_permutation,
            true_map=None,
            meta=dict(self.meta),
        )

    def __repr__(self) -> str:
        s = self.sizes()
        return (
            f"Task({self.name!r}, d={self.n_features}, train={s['source_train']}->"
            f"{s['target_train']}, val={s['source_val']}->{s['target_val']}, "
            f"test={s['source_test']}->{s['target_test']})"
        )


def check_fractions(fractions: Sequence[float]) -> tuple[float, float, float]:
    """Validate (train, val, test) fractions: three non-negative numbers, train and test > 0."""
    fr = tuple(float(f) for f in fractions)
    if len(fr) != 3:
        raise ValueError(f"fractions must be (train, val, test); got {fractions!r}.")
    if any(not np.isfinite(f) or f < 0 for f in fr) or fr[0] <= 0 or fr[2] <= 0:
        raise ValueError(
            f"fractions must be finite, non-negative, with train and test > 0; got {fractions!r}."
        )
    total = sum(fr)
    if abs(total - 1.0) > 1e-6:
        raise ValueError(f"fractions must sum to 1; got {fractions!r} (sum {total:g}).")
    return fr  # type: ignore[return-value]


def random_split(
    n: int, fractions: Sequence[float] = DEFAULT_FRACTIONS, random_state: Any = None,
    *, name: str = "group",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seeded random split of ``range(n)`` into train / val / test index arrays (each sorted).

    Sizes are ``round(n * f)`` with the remainder going to train; train and test always get at
    least one cell, validation at least one when its fraction is positive and ``n >= 3``.
    """
    fr = check_fractions(fractions)
    if not isinstance(n, int | np.integer) or n < 2:
        raise ValueError(f"{name} has {n} cell(s); a train/test split needs at least 2.")
    n_test = max(1, int(round(n * fr[2])))
    n_val = int(round(n * fr[1]))
    if fr[1] > 0 and n >= 3:
        n_val = max(1, n_val)
    n_val = min(n_val, n - n_test - 1)
    perm = check_random_state(random_state).permutation(n)
    test = np.sort(perm[:n_test])
    val = np.sort(perm[n_test : n_test + n_val])
    train = np.sort(perm[n_test + n_val :])
    return train, val, test


def _labels_for(
    labels: dict[str, np.ndarray] | None, parts: dict[str, np.ndarray], group: str
) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    if not labels or group not in labels or labels[group] is None:
        return out
    lab = np.asarray(labels[group])
    for part, idx in parts.items():
        out[f"{group}_{part}"] = lab[idx]
    return out


def split_within(
    source: Any,
    target: Any,
    *,
    name: str,
    feature_names: Sequence[str] | None = None,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    random_state: Any = None,
    labels: dict[str, np.ndarray] | None = None,
    test_truth: Any = None,
    meta: dict[str, Any] | None = None,
) -> Task:
    """Split control and treated cells of one context independently at random.

    Parameters
    ----------
    source, target
        Control and treated cells, (n0, d) and (nt, d).
    name
        Task name.
    feature_names
        Names of the d features (default ``f0, f1, ...``).
    fractions
        (train, val, test) fractions applied to each group separately.
    random_state
        Seed: the same seed gives the same split.
    labels
        Optional ``{"source": (n0,), "target": (nt,)}`` per-cell labels, split alongside.
    test_truth
        Optional (n0, d) known treated state of every source cell (synthetic data); the rows of
        the test source cells are kept.
    meta
        Metadata stored on the task (``split="within"`` and the fractions are added).

    """
    src = check_array(source, f"{name}: source", min_samples=2)
    tgt = check_array(target, f"{name}: target", min_samples=2)
    rng = check_random_state(random_state)
    s_tr, s_va, s_te = random_split(src.shape[0], fractions, rng, name=f"{name}: source")
    t_tr, t_va, t_te = random_split(tgt.shape[0], fractions, rng, name=f"{name}: target")
    fn = list(feature_names) if feature_names is not None else [f"f{i}" for i in range(src.shape[1])]
    lab = _labels_for(labels, {"train": s_tr, "val": s_va, "test": s_te}, "source")
    lab.update(_labels_for(labels, {"train": t_tr, "val": t_va, "test": t_te}, "target"))
    truth = None
    if test_truth is not None:
        truth = check_array(test_truth, f"{name}: test_truth")
        if truth.shape != src.shape:
            raise ValueError(f"{name}: test_truth has shape {truth.shape}, expected {src.shape}.")
        truth = truth[s_te]
    m = {"split": "within", "fractions": list(check_fractions(fractions)), **(meta or {})}
    return Task(
        name, src[s_tr], tgt[t_tr], src[s_va], tgt[t_va], src[s_te], tgt[t_te], fn,
        labels=lab, test_truth=truth, meta=m,
    )


def split_replicate(
    source: Any,
    target: Any,
    source_replicate: Any,
    target_replicate: Any,
    *,
    name: str,
    train_replicate: Any,
    test_replicate: Any,
    feature_names: Sequence[str] | None = None,
    val_fraction: float = 0.2,
    random_state: Any = None,
    meta: dict[str, Any] | None = None,
) -> Task:
    """Train on one replicate, test on another.

    The training replicate's cells are split at random into train and validation
    (``val_fraction``); the test replicate's cells are all test cells.
    """
    src = check_array(source, f"{name}: source", min_samples=2)
    tgt = check_array(target, f"{name}: target", min_samples=2)
    rep_s, rep_t = np.asarray(source_replicate), np.asarray(target_replicate)
    if rep_s.shape != (src.shape[0],) or rep_t.shape != (tgt.shape[0],):
        raise ValueError(f"{name}: replicate labels must have one entry per cell.")
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1); got {val_fraction!r}.")
    rng = check_random_state(random_state)
    parts = {}
    for group, arr, rep in (("source", src, rep_s), ("target", tgt, rep_t)):
        for which, r in (("train", train_replicate), ("test", test_replicate)):
            if not np.any(rep == r):
                found = sorted(map(str, np.unique(rep)))
                raise ValueError(
                    f"{name}: no {group} cells of {which} replicate {r!r}; replicates present: "
                    f"{found}."
                )
        tr_all = np.flatnonzero(rep == train_replicate)
        te = np.flatnonzero(rep == test_replicate)
        perm = rng.permutation(tr_all)
        n_val = int(round(len(perm) * val_fraction))
        n_val = min(n_val, len(perm) - 1)
        parts[group] = (np.sort(perm[n_val:]), np.sort(perm[:n_val]), te, arr)
    fn = list(feature_names) if feature_names is not None else [f"f{i}" for i in range(src.shape[1])]
    (s_tr, s_va, s_te, _), (t_tr, t_va, t_te, _) = parts["source"], parts["target"]
    m = {
        "split": "replicate", "train_replicate": train_replicate, "test_replicate": test_replicate,
        "val_fraction": val_fraction, **(meta or {}),
    }
    return Task(name, src[s_tr], tgt[t_tr], src[s_va], tgt[t_va], src[s_te], tgt[t_te], fn, meta=m)


def split_holdout(
    source: Any,
    target: Any,
    source_context: Any,
    target_context: Any,
    *,
    name: str,
    holdout: Any,
    feature_names: Sequence[str] | None = None,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    include_holdout_source: bool = True,
    random_state: Any = None,
    meta: dict[str, Any] | None = None,
) -> Task:
    """Cross-context split: predict the treated cells of a held-out context from its control cells.

    - Test: ``source_test`` = a random ``fractions[2]`` part of the held-out context's control
      cells; ``target_test`` = all of the held-out context's treated cells (never seen in training).
    - Train / validation: every other context's control and treated cells, split at random by
      ``fractions[0] : fractions[1]``; with ``include_holdout_source`` also the remaining control
      cells of the held-out context (the scGen convention: its unperturbed state is known).

    Context labels are returned as ``labels`` (``source_train`` etc.) for models that use them.
    """
    src = check_array(source, f"{name}: source", min_samples=2)
    tgt = check_array(target, f"{name}: target", min_samples=2)
    ctx_s, ctx_t = np.asarray(source_context), np.asarray(target_context)
    if ctx_s.shape != (src.shape[0],) or ctx_t.shape != (tgt.shape[0],):
        raise ValueError(f"{name}: context labels must have one entry per cell.")
    fr = check_fractions(fractions)
    hold_s, hold_t = np.flatnonzero(ctx_s == holdout), np.flatnonzero(ctx_t == holdout)
    if hold_s.size < 2 or hold_t.size < 1:
        present = sorted(map(str, set(np.unique(ctx_s)) | set(np.unique(ctx_t))))
        raise ValueError(
            f"{name}: held-out context {holdout!r} has {hold_s.size} control and {hold_t.size} "
            f"treated cells (needs >= 2 and >= 1); contexts present: {present}."
        )
    rest_s, rest_t = np.flatnonzero(ctx_s != holdout), np.flatnonzero(ctx_t != holdout)
    if rest_t.size < 1:
        raise ValueError(f"{name}: no treated cells outside the held-out context {holdout!r}.")
    rng = check_random_state(random_state)
    h_tr, h_va, h_te = random_split(hold_s.size, fr, rng, name=f"{name}: held-out control")
    trval = (fr[0] / (fr[0] + fr[1]), fr[1] / (fr[0] + fr[1]))

    def _tv(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if idx.size == 0:
            return idx, idx
        perm = rng.permutation(idx)
        n_val = min(int(round(idx.size * trval[1])), idx.size - 1)
        return np.sort(perm[n_val:]), np.sort(perm[:n_val])

    rs_tr, rs_va = _tv(rest_s)
    rt_tr, rt_va = _tv(rest_t)
    if include_holdout_source:
        s_tr = np.concatenate([rs_tr, hold_s[h_tr]])
        s_va = np.concatenate([rs_va, hold_s[h_va]])
    else:
        s_tr, s_va = rs_tr, rs_va
    if s_tr.size == 0:
        raise ValueError(f"{name}: no control cells left for training.")
    s_te = hold_s[h_te]
    fn = list(feature_names) if feature_names is not None else [f"f{i}" for i in range(src.shape[1])]
    labels = {
        "source_train": ctx_s[s_tr], "source_val": ctx_s[s_va], "source_test": ctx_s[s_te],
        "target_train": ctx_t[rt_tr], "target_val": ctx_t[rt_va], "target_test": ctx_t[hold_t],
    }
    m = {"split": "holdout", "holdout": holdout, "fractions": list(fr),
         "include_holdout_source": include_holdout_source, **(meta or {})}
    return Task(
        name, src[s_tr], tgt[rt_tr], src[s_va], tgt[rt_va], src[s_te], tgt[hold_t], fn,
        labels=labels, meta=m,
    )
