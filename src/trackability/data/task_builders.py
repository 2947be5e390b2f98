"""Turn a loaded data set and a task specification into benchmark :class:`~trackability.data.tasks.Task` s.

Each data set has a builder that lists the task names it yields for given options (e.g. one per
inhibitor for Sachs, one per held-out cell type for Kang) and builds any one of them for a seed.
The seed decides the split only; the cells and features are fixed by the options. Builders take
plain keyword options (the benchmark config validates them first):

``build_task(dataset, name, seed, adata=None, split=None, **options)`` and
``task_names(dataset, adata=None, split=None, **options)``; ``load_dataset(dataset, **options)``
reads the file once per process (cached).

Data sets: ``sachs``, ``kang``, ``ap1``, ``4i``, ``sciplex3``, ``2i``, ``synthetic``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
from pydantic import Field

from trackability.data.registry import DatasetOptions, dataset_names, get_dataset, register_dataset
from trackability.data.tasks import (
    DEFAULT_FRACTIONS,
    Task,
    random_split,
    split_holdout,
    split_replicate,
    split_within,
)

SPLIT_KINDS = ("within", "replicate", "holdout")

Entry = tuple[str, Callable[[int], Task]]

#: The last AnnData densified in this process, with its dense control / treated matrices.
_DENSE: dict[tuple[Any, ...], tuple[Any, np.ndarray, np.ndarray]] = {}


def __getattr__(name: str) -> Any:
    if name == "DATASETS":  # the registered names (the registry may grow after import)
        return dataset_names()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# -- loading (cached per process) ----------------------------------------------------------------
def _freeze(options: dict[str, Any]) -> str:
    return json.dumps(options, sort_keys=True, default=str)


@functools.lru_cache(maxsize=4)
def _load_cached(dataset: str, frozen: str) -> Any:
    kw = json.loads(frozen)
    path = kw.pop("path", None)
    return get_dataset(dataset).load(path, **kw)


def load_dataset(dataset: str, **options: Any) -> Any:
    """Load the AnnData of ``dataset`` (None for generated data such as ``synthetic``), cached.

    Only the options that change what is read (the spec's ``load_keys``: ``path``, ``transform``
    for Sachs, ``features`` for 4i, the days / genes / matrix for 2i, ...) are used, so one load
    per process serves every task that shares them.
    """
    spec = get_dataset(dataset)
    if spec.load is None:
        return None
    sub = {k: options[k] for k in spec.load_keys if options.get(k) is not None}
    return _load_cached(dataset, _freeze(sub))


# -- helpers -------------------------------------------------------------------------------------
def _dense(x: Any) -> np.ndarray:
    if hasattr(x, "to_memory"):
        x = x.to_memory()
    if hasattr(x, "toarray"):
        x = x.toarray()
    return np.asarray(x, dtype=np.float64)


def _rows(adata: Any, mask: np.ndarray, columns: Sequence[int] | None = None) -> np.ndarray:
    idx = np.flatnonzero(mask)
    sub = adata[idx]
    if columns is not None:
        sub = sub[:, list(columns)]
    if getattr(sub, "isbacked", False):
        sub = sub.to_memory()
    return _dense(sub.X)


def _obs(adata: Any, key: str, what: str) -> np.ndarray:
    if key not in adata.obs.columns:
        raise KeyError(
            f"{what}: obs has no column {key!r} (columns: {list(adata.obs.columns)})."
        )
    return adata.obs[key].to_numpy()


def _select_features(adata: Any, features: Any, what: str) -> list[int] | None:
    if features is None or features == "all":
        return None
    names = list(map(str, adata.var_names))
    missing = [f for f in features if f not in names]
    if missing:
        raise KeyError(f"{what}: features {missing} not in var_names ({names[:12]}...).")
    return [names.index(f) for f in features]


def _split(
    kind: str, *, name: str, source: np.ndarray, target: np.ndarray, seed: int,
    split: dict[str, Any], feature_names: list[str], meta: dict[str, Any],
    labels: dict[str, np.ndarray] | None = None,
    contexts: tuple[np.ndarray, np.ndarray] | None = None,
    replicates: tuple[np.ndarray, np.ndarray] | None = None, holdout: Any = None,
) -> Task:
    fractions = split.get("fractions") or DEFAULT_FRACTIONS
    if kind == "within":
        return split_within(source, target, name=name, feature_names=feature_names,
                            fractions=fractions, random_state=seed, labels=labels, meta=meta)
    if kind == "replicate":
        assert replicates is not None
        return split_replicate(
            source, target, replicates[0], replicates[1], name=name,
            train_replicate=split.get("train_replicate", 1),
            test_replicate=split.get("test_replicate", 2), feature_names=feature_names,
            val_fraction=split.get("val_fraction", 0.2), random_state=seed, meta=meta,
        )
    if kind == "holdout":
        assert contexts is not None
        return split_holdout(
            source, target, contexts[0], contexts[1], name=name, holdout=holdout,
            feature_names=feature_names, fractions=fractions,
            include_holdout_source=split.get("include_holdout_source", True),
            random_state=seed, meta=meta,
        )
    raise ValueError(f"split kind must be one of {SPLIT_KINDS}; got {kind!r}.")


def _kind(split: dict[str, Any], default: str, allowed: Sequence[str], dataset: str) -> str:
    kind = split.get("kind") or default
    if kind not in allowed:
        raise ValueError(f"{dataset}: split kind must be one of {tuple(allowed)}; got {kind!r}.")
    return kind


# -- per data set ------------------------------------------------------------------------------
def _sachs(adata: Any, split: dict[str, Any], o: dict[str, Any]) -> list[Entry]:
    from trackability.data import SACHS_PAIRS

    kind = _kind(split, "within", ("within",), "sachs")
    blocks = o.get("controls") or [1]
    ids = _obs(adata, "condition_id", "sachs").astype(int)
    cond = _obs(adata, "condition", "sachs").astype(str)
    names = {int(i): str(c) for i, c in zip(ids, cond, strict=True)}
    wanted = o.get("treated")
    fn = list(map(str, adata.var_names))
    entries: list[Entry] = []
    for c in blocks:
        if c not in SACHS_PAIRS:
            raise ValueError(f"sachs: control must be one of {sorted(SACHS_PAIRS)}; got {c!r}.")
        for t in SACHS_PAIRS[c]:
            if wanted is not None and t not in wanted:
                continue
            if not np.any(ids == t) or not np.any(ids == c):
                raise ValueError(f"sachs: conditions {c} and {t} must both be loaded.")

            def make(seed: int, c: int = c, t: int = t) -> Task:
                return _split(
                    kind, name=names[t], source=_rows(adata, ids == c),
                    target=_rows(adata, ids == t), seed=seed, split=split, feature_names=fn,
                    meta={"dataset": "sachs", "control_id": c, "treated_id": t,
                          "control": names[c], "treated": names[t]},
                )

            entries.append((names[t], make))
    if not entries:
        raise ValueError(f"sachs: no treated condition selected (treated={wanted!r}).")
    return entries


def _kang(adata: Any, split: dict[str, Any], o: dict[str, Any]) -> list[Entry]:
    kind = _kind(split, "holdout", ("holdout", "within"), "kang")
    ck, tk = o.get("condition_key", "condition"), o.get("cell_type_key", "cell_type")
    cond = _obs(adata, ck, "kang").astype(str)
    ctype = _obs(adata, tk, "kang").astype(str)
    ctrl, stim = o.get("control", "control"), o.get("stimulated", "stimulated")
    types = o.get("cell_types") or sorted(np.unique(ctype))
    unknown = [t for t in types if t not in set(ctype)]
    if unknown:
        raise ValueError(f"kang: unknown cell type(s) {unknown}; present: {sorted(set(ctype))}.")
    fn = list(map(str, adata.var_names))
    is_c, is_s = cond == ctrl, cond == stim
    if not is_c.any() or not is_s.any():
        raise ValueError(f"kang: obs[{ck!r}] must contain {ctrl!r} and {stim!r}.")

    def arrays() -> tuple[np.ndarray, np.ndarray]:
        key = (id(adata), ck, ctrl, stim)
        hit = _DENSE.get(key)
        # densify once per process, not once per task; the stored object check guards against a
        # new AnnData that reuses the id of a freed one
        if hit is None or hit[0] is not adata:
            _DENSE.clear()
            hit = _DENSE[key] = (adata, _rows(adata, is_c), _rows(adata, is_s))
        return hit[1], hit[2]

    entries: list[Entry] = []
    for ct in types:

        def make(seed: int, ct: str = ct) -> Task:
            x0, x1 = arrays()
            meta = {"dataset": "kang", "cell_type": ct}
            if kind == "holdout":
                return _split(kind, name=ct, source=x0, target=x1, seed=seed, split=split,
                              feature_names=fn, meta=meta,
                              contexts=(ctype[is_c], ctype[is_s]), holdout=ct)
            return _split(kind, name=ct, source=x0[ctype[is_c] == ct],
                          target=x1[ctype[is_s] == ct], seed=seed, split=split,
                          feature_names=fn, meta=meta)

        entries.append((ct, make))
    return entries


def _ap1(adata: Any, split: dict[str, Any], o: dict[str, Any]) -> list[Entry]:
    from trackability import data as tdata

    kind = _kind(split, "within", SPLIT_KINDS, "ap1")
    time_key = "time_h" if "time_h" in adata.obs.columns else "time"
    line = _obs(adata, "cell_line", "ap1").astype(str)
    cond = _obs(adata, "condition", "ap1").astype(str)
    time = _obs(adata, time_key, "ap1").astype(float)
    rep = _obs(adata, "replicate_id", "ap1")
    feats = o.get("features", "study")
    if feats == "study":
        feats = list(tdata.AP1_STUDY_FEATURES)
    cols = _select_features(adata, feats, "ap1")
    fn = list(map(str, adata.var_names)) if cols is None else [str(adata.var_names[i]) for i in cols]
    c_mask = (cond == o.get("control", "DMSO")) & (time == float(o.get("control_time_h", 24)))
    t_mask = (cond == o.get("treated", "0.316 uM Vemurafenib")) & (
        time == float(o.get("treated_time_h", 72))
    )
    if not c_mask.any() or not t_mask.any():
        raise ValueError("ap1: no control or no treated cells for the given condition / time.")
    lines = o.get("cell_lines") or sorted(set(line[c_mask]) & set(line[t_mask]))
    meta0 = {"dataset": "ap1", "control": o.get("control", "DMSO"),
             "treated": o.get("treated", "0.316 uM Vemurafenib")}
    entries: list[Entry] = []
    for cl in lines:
        if kind == "holdout":

            def make(seed: int, cl: str = cl) -> Task:
                return _split(kind, name=cl, source=_rows(adata, c_mask, cols),
                              target=_rows(adata, t_mask, cols), seed=seed, split=split,
                              feature_names=fn, meta={**meta0, "cell_line": cl},
                              contexts=(line[c_mask], line[t_mask]), holdout=cl)
        else:

            def make(seed: int, cl: str = cl) -> Task:
                cm, tm = c_mask & (line == cl), t_mask & (line == cl)
                return _split(kind, name=cl, source=_rows(adata, cm, cols),
                              target=_rows(adata, tm, cols), seed=seed, split=split,
                              feature_names=fn, meta={**meta0, "cell_line": cl},
                              replicates=(rep[cm], rep[tm]))

        entries.append((cl, make))
    return entries


def _drug_tasks(
    adata: Any, split: dict[str, Any], o: dict[str, Any], dataset: str, default_drugs: Sequence[str],
    markers: Callable[[str], Any] | None = None,
) -> list[Entry]:
    kind = _kind(split, "within", ("within",), dataset)
    drug = _obs(adata, o.get("drug_key", "drug"), dataset).astype(str)
    base = np.ones(drug.shape[0], dtype=bool)
    if o.get("cell_type") is not None:
        base &= _obs(adata, "cell_type", dataset).astype(str) == str(o["cell_type"])
    if o.get("dose") is not None:
        base &= _obs(adata, "dose", dataset).astype(float) == float(o["dose"])
    control = o.get("control", "control")
    c_mask = drug == control  # controls carry no dose: filter them by cell type only
    if o.get("cell_type") is not None:
        c_mask &= _obs(adata, "cell_type", dataset).astype(str) == str(o["cell_type"])
    drugs = o.get("drugs") or list(default_drugs)
    missing = [d for d in drugs if not np.any(drug == d)]
    if missing:
        raise ValueError(f"{dataset}: drug(s) {missing} not found in obs (e.g. {sorted(set(drug))[:8]}).")
    if not c_mask.any():
        raise ValueError(f"{dataset}: no control cells ({control!r}) for the selection.")
    fn = list(map(str, adata.var_names))
    entries: list[Entry] = []
    for dname in drugs:

        def make(seed: int, dname: str = dname) -> Task:
            task = _split(kind, name=dname, source=_rows(adata, c_mask),
                          target=_rows(adata, base & (drug == dname)), seed=seed, split=split,
                          feature_names=fn, meta={"dataset": dataset, "drug": dname,
                                                  "cell_type": o.get("cell_type"),
                                                  "dose": o.get("dose")})
            if markers is not None:
                m = markers(dname)
                idx = [fn.index(str(g)) for g in m] if len(m) and isinstance(
                    next(iter(m)), str) else [int(i) for i in m]
                task.score_features = np.asarray(idx, dtype=np.int64)
                task.meta["n_score_features"] = len(idx)
            return task

        entries.append((dname, make))
    return entries


def _four_i(adata: Any, split: dict[str, Any], o: dict[str, Any]) -> list[Entry]:
    from trackability import data as tdata

    return _drug_tasks(adata, split, o, "4i", tdata.FOURI_STUDY_DRUGS)


def _sciplex3(adata: Any, split: dict[str, Any], o: dict[str, Any]) -> list[Entry]:
    from trackability import data as tdata

    n = int(o.get("n_markers", 100))
    return _drug_tasks(
        adata, split, o, "sciplex3", tdata.SCIPLEX3_STUDY_DRUGS,
        markers=lambda d: list(tdata.sciplex3_marker_genes(adata, d, n=n)),
    )


def _two_i(adata: Any, split: dict[str, Any], o: dict[str, Any]) -> list[Entry]:
    from trackability import data as tdata

    kind = _kind(split, "within", ("within",), "2i")
    day = _obs(adata, "day", "2i").astype(float)
    c_day = float(o.get("control_day") if o.get("control_day") is not None
                  else tdata.TWO_I_CONTROL_DAY)
    days = [float(d) for d in (o.get("days") or tdata.TWO_I_TREATED_DAYS)]
    fn = list(map(str, adata.var_names))
    entries: list[Entry] = []
    for dd in days:
        if not np.any(day == dd):
            raise ValueError(f"2i: no cells at day {dd} (days present: {sorted(set(day))}).")
        name = f"day {dd:g}"

        def make(seed: int, dd: float = dd, name: str = name) -> Task:
            return _split(kind, name=name, source=_rows(adata, day == c_day),
                          target=_rows(adata, day == dd), seed=seed, split=split,
                          feature_names=fn,
                          meta={"dataset": "2i", "control_day": c_day, "day": dd,
                                "gap": (dd - c_day) * 24.0, "gap_unit": "h"})

        entries.append((name, make))
    return entries


def _synthetic(adata: Any, split: dict[str, Any], o: dict[str, Any]) -> list[Entry]:
    from trackability.data.synthetic import near_identity

    kind = _kind(split, "within", ("within",), "synthetic")
    dims = [int(d) for d in o.get("dims", [10])]
    gaps = [float(g) for g in o.get("gaps", [0.1, 0.5, 1.0])]
    noise = float(o.get("noise", 0.0))
    sized = o.get("n_train") is not None or o.get("n_test") is not None
    if sized:
        if o.get("n_train") is None or o.get("n_test") is None:
            raise ValueError("synthetic: give both n_train and n_test (or neither, and n).")
        if "n" in o:
            raise ValueError("synthetic: give n or (n_train, n_test), not both.")
        n_train, n_test = int(o["n_train"]), int(o["n_test"])
        n = n_train + 2 * n_test
    else:
        n = int(o.get("n", 300))
    fractions = split.get("fractions") or DEFAULT_FRACTIONS
    entries: list[Entry] = []
    for a, d in enumerate(dims):
        for b, g in enumerate(gaps):
            name = f"d={d} gap={g:g}"

            def make(seed: int, a: int = a, b: int = b, d: int = d, g: float = g,
                     name: str = name) -> Task:
                ss = np.random.SeedSequence([int(seed), a, b])
                pair = near_identity(n, d, g, noise=noise, random_state=np.random.default_rng(ss))
                # Split the *cells*. Training: control cells and the treated cells they became
                # (the theory's setting: one population observed twice). Validation and test:
                # each part is halved; the source half's control cells are predicted and compared
                # with the treated images of the *other* half, so that prediction and target are
                # independent samples (the unbiased MMD^2 assumes it: comparing cells with their
                # own images biases it below zero). test_truth: the images of the source half.
                # With n_train / n_test: exactly n_train training pairs, n_test + n_test test
                # cells and no validation part (n = n_train + 2 n_test cells are drawn).
                origin = pair.permutation  # treated j came from control origin[j]
                rng = np.random.default_rng(ss.spawn(1)[0])
                if sized:
                    order = rng.permutation(n)
                    tr = np.sort(order[:n_train])
                    va = np.zeros(0, dtype=np.int64)
                    te = np.sort(order[n_train:])
                else:
                    tr, va, te = random_split(n, fractions, rng)
                part = np.zeros(n, dtype=np.int64)
                for code, idx in ((1, va), (3, te)):
                    idx = rng.permutation(idx)
                    half = max(1, idx.size // 2) if idx.size >= 2 else idx.size
                    part[idx[:half]], part[idx[half:]] = code, code + 1
                tpart = part[origin]
                src_test = np.flatnonzero(part == 3)
                truth = pair.true_map(pair.control[src_test])
                # the training correspondence: the row of source_train each target_train came from
                src_train = np.flatnonzero(part == 0)
                pos = np.full(n, -1, dtype=np.int64)
                pos[src_train] = np.arange(src_train.size)
                train_perm = pos[origin[tpart == 0]]
                lip = pair.lipschitz_rate
                # the benchmark adds the critical gap Delta of the training control cells (the
                # n_train cells the models match) from lipschitz_rate: see experiments.bench
                meta = {"dataset": "synthetic", "d": d, "gap": g, "n": n, "noise": noise,
                        "lipschitz_rate": lip}
                return Task(
                    name, pair.control[src_train], pair.treated[tpart == 0],
                    pair.control[part == 1], pair.treated[tpart == 2],
                    pair.control[src_test], pair.treated[tpart == 4],
                    [f"f{i}" for i in range(d)], test_truth=truth,
                    train_permutation=train_perm, true_map=pair.W,
                    meta={"split": kind, "fractions": None if sized else list(fractions),
                          **meta},
                )

            entries.append((name, make))
    return entries


def task_entries(
    dataset: str, adata: Any = None, split: dict[str, Any] | None = None, **options: Any
) -> list[Entry]:
    """``(name, make(seed) -> Task)`` for every task of ``dataset`` under ``options``."""
    spec = get_dataset(dataset)
    if adata is None and spec.load is not None:
        adata = load_dataset(dataset, **options)
    entries = spec.tasks(adata, dict(split or {}), options)
    names = [n for n, _ in entries]
    if len(set(names)) != len(names):
        raise ValueError(f"{dataset}: task names are not unique: {names}.")
    return entries


def task_names(
    dataset: str, adata: Any = None, split: dict[str, Any] | None = None, **options: Any
) -> list[str]:
    """Names of the tasks ``dataset`` yields under ``options`` (no split is computed).

    Without ``adata``, a data set whose spec has a ``names`` function is not loaded: its names come
    from the options and cheap metadata (the benchmark plans a run this way).
    """
    spec = get_dataset(dataset)
    if adata is None and spec.names is not None:
        return list(spec.names(dict(split or {}), options))
    return [n for n, _ in task_entries(dataset, adata, split, **options)]


def build_task(
    dataset: str, name: str, seed: int, adata: Any = None, split: dict[str, Any] | None = None,
    **options: Any,
) -> Task:
    """Build task ``name`` of ``dataset`` with the split of ``seed``."""
    entries = dict(task_entries(dataset, adata, split, **options))
    if name not in entries:
        raise KeyError(f"{dataset}: no task {name!r}; tasks: {list(entries)}.")
    return entries[name](int(seed))


def build_tasks(
    dataset: str, seed: int, adata: Any = None, split: dict[str, Any] | None = None, **options: Any
) -> list[Task]:
    """Build every task of ``dataset`` with the split of ``seed``."""
    return [make(int(seed)) for _, make in task_entries(dataset, adata, split, **options)]


# -- the registry entries of the built-in data sets ----------------------------------------------
def _sachs_names(split: dict[str, Any], o: dict[str, Any]) -> list[str]:
    from trackability.data.loaders.sachs import SACHS_CONDITIONS, SACHS_PAIRS

    _kind(split, "within", ("within",), "sachs")
    wanted = o.get("treated")
    out = []
    for c in o.get("controls") or [1]:
        if c not in SACHS_PAIRS:
            raise ValueError(f"sachs: control must be one of {sorted(SACHS_PAIRS)}; got {c!r}.")
        out += [SACHS_CONDITIONS[t][0] for t in SACHS_PAIRS[c] if wanted is None or t in wanted]
    if not out:
        raise ValueError(f"sachs: no treated condition selected (treated={wanted!r}).")
    return out


def _load_sachs(path: Any = None, transform: str | None = "log") -> Any:
    from trackability.data.loaders.sachs import load_sachs

    return load_sachs(path, transform=transform)


class SachsOptions(DatasetOptions):
    """Sachs et al. 2005: one task per inhibitor on top of a control condition."""

    controls: list[int] | None = None
    treated: list[int] | None = None
    transform: Literal["log", "arcsinh"] | None = "log"


register_dataset("sachs", options=SachsOptions, tasks=_sachs, load=_load_sachs,
                 load_keys=("path", "transform"), names=_sachs_names,
                 description="Sachs 2005 phospho-flow, control -> inhibitor")


def _kang_names(split: dict[str, Any], o: dict[str, Any]) -> list[str]:
    _kind(split, "holdout", ("holdout", "within"), "kang")
    if o.get("cell_types"):
        return list(o["cell_types"])
    from trackability.data.loaders._files import locate, read_h5ad
    from trackability.data.loaders.kang import KANG_DEFAULT, WHAT

    # the cell types from obs alone (a backed read leaves X on disk)
    adata = read_h5ad(locate(o.get("path"), KANG_DEFAULT, what=WHAT, suffixes=(".h5ad",)),
                      what=WHAT, backed=True)
    try:
        return sorted(np.unique(_obs(adata, o.get("cell_type_key", "cell_type"), "kang").astype(str)))
    finally:
        adata.file.close()


def _load_kang(path: Any = None) -> Any:
    from trackability.data.loaders.kang import load_kang

    return load_kang(path)


class KangOptions(DatasetOptions):
    """Kang et al. 2018 (scGen subset): one task per held-out cell type."""

    cell_types: list[str] | None = None
    condition_key: str = "condition"
    cell_type_key: str = "cell_type"
    control: str = "control"
    stimulated: str = "stimulated"


register_dataset("kang", options=KangOptions, tasks=_kang, load=_load_kang, names=_kang_names,
                 split_kinds=("holdout", "within"), description="Kang 2018 IFN-beta, held-out cell type")


def _load_ap1(path: Any = None) -> Any:
    from trackability.data.loaders.ap1 import load_ap1

    return load_ap1(path)


class AP1Options(DatasetOptions):
    """AP-1 panel (Comandante-Lou 2022): one task per cell line."""

    features: list[str] | Literal["study", "all"] = "study"
    control: str = "DMSO"
    control_time_h: float = 24
    treated: str = "0.316 uM Vemurafenib"
    treated_time_h: float = 72
    cell_lines: list[str] | None = None


register_dataset("ap1", options=AP1Options, tasks=_ap1, load=_load_ap1,
                 split_kinds=SPLIT_KINDS, description="AP-1 protein panel, control -> drug per line")


def _drug_names(default: Sequence[str]) -> Callable[[dict[str, Any], dict[str, Any]], list[str]]:
    def names(split: dict[str, Any], o: dict[str, Any]) -> list[str]:
        return list(o.get("drugs") or default)

    return names


def _load_4i(path: Any = None, features: Any = "study") -> Any:
    from trackability.data.loaders.fouri import load_4i

    return load_4i(path, features=features, drugs=None)


class FourIOptions(DatasetOptions):
    """4i imaging (Gut 2018, CellOT preprocessing): one task per drug."""

    drugs: list[str] | None = None
    features: list[str] | Literal["study", "all"] = "study"
    control: str = "control"
    drug_key: str = "drug"


def _study(name: str) -> tuple[str, ...]:
    from trackability.data import loaders

    return tuple(getattr(loaders, name))


register_dataset("4i", options=FourIOptions, tasks=_four_i, load=_load_4i,
                 load_keys=("path", "features"), names=lambda s, o: list(
                     o.get("drugs") or _study("FOURI_STUDY_DRUGS")),
                 description="4i imaging, control -> drug")


def _load_sciplex3(path: Any = None, drugs: Any = None) -> Any:
    from trackability.data.loaders.sciplex3 import SCIPLEX3_STUDY_DRUGS, load_sciplex3

    # only control + the task's drugs: the whole 762k-cell file must never be read into memory
    return load_sciplex3(path, drugs=drugs or list(SCIPLEX3_STUDY_DRUGS), backed=True)


class SciPlex3Options(DatasetOptions):
    """SciPlex3 (Srivatsan 2020, CellOT preprocessing): one task per drug, scored on its markers."""

    drugs: list[str] | None = None
    cell_type: str | None = None
    dose: float | None = None
    n_markers: int = 100
    control: str = "control"
    drug_key: str = "drug"


register_dataset("sciplex3", options=SciPlex3Options, tasks=_sciplex3, load=_load_sciplex3,
                 load_keys=("path", "drugs"), names=lambda s, o: list(
                     o.get("drugs") or _study("SCIPLEX3_STUDY_DRUGS")),
                 description="SciPlex3, control -> drug")


def _two_i_names(split: dict[str, Any], o: dict[str, Any]) -> list[str]:
    from trackability.data.loaders.two_i import TWO_I_TREATED_DAYS

    _kind(split, "within", ("within",), "2i")
    return [f"day {float(d):g}" for d in (o.get("days") or TWO_I_TREATED_DAYS)]


def _load_2i(path: Any = None, control_day: float | None = None, days: Any = None,
             n_top_genes: int | None = None, matrix: str | None = None) -> Any:
    from trackability.data.loaders.two_i import TWO_I_CONTROL_DAY, load_2i

    load_days = None
    if days is not None:
        c = TWO_I_CONTROL_DAY if control_day is None else control_day
        load_days = [float(c), *map(float, days)]
    extra = {"matrix": matrix} if matrix else {}
    return load_2i(path, days=load_days, n_top_genes=n_top_genes, **extra)


class TwoIOptions(DatasetOptions):
    """2i reprogramming (Schiebinger 2019, wot tutorial files): one task per later day."""

    control_day: float | None = None
    days: list[float] | None = None
    n_top_genes: int | None = None
    matrix: str | None = None


register_dataset("2i", options=TwoIOptions, tasks=_two_i, load=_load_2i,
                 load_keys=("path", "control_day", "days", "n_top_genes", "matrix"),
                 names=_two_i_names, description="2i time course, day 8.5 -> each later day")


def _synthetic_names(split: dict[str, Any], o: dict[str, Any]) -> list[str]:
    return [f"d={int(d)} gap={float(g):g}" for d in o.get("dims", [10])
            for g in o.get("gaps", [0.1, 0.5, 1.0])]


class SyntheticOptions(DatasetOptions):
    """Near-identity linear maps (the theory's setting), one task per (d, gap)."""

    dims: list[int] = [10]
    gaps: list[float] = [0.1, 0.5, 1.0]
    n: int = 300
    noise: float = 0.0
    #: exact sizes instead of ``n`` and split fractions: ``n_train`` training pairs and
    #: ``n_test`` + ``n_test`` test cells (no validation part; split fractions are not used);
    #: give both or neither
    n_train: int | None = Field(default=None, ge=2)
    n_test: int | None = Field(default=None, ge=2)


register_dataset("synthetic", options=SyntheticOptions, tasks=_synthetic, load=None,
                 names=_synthetic_names, description="generated near-identity maps")
