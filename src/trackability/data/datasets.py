"""Data sets described by their obs keys: a user's own file (``dataset: anndata``) and the real tables.

One generic builder, :func:`label_tasks`, turns an AnnData with a group column (control / treated
labels) or a time column into tasks:

- ``time_key`` set: control = the cells at ``control`` time (default: the earliest), one task per
  later time point (``treated``: a subset); the gap ``t - t0`` is recorded in the task meta
  (``gap`` in ``time_unit``, and ``gap_h`` in hours) - a horizon sweep;
- else ``groupby``: control = the cells labelled ``control``, one task per ``treated`` label
  (default: every other label);
- ``context_key`` set: split ``within`` makes one task per (treated, context) on that context's
  cells; ``holdout`` predicts a held-out context's treated cells from its control cells, trained on
  every other context (plus the held-out context's other control cells, the scGen convention);
  ``replicate`` is leave-one-context-out with none of the held-out context's cells in training;
- ``max_cells``: at most this many control and this many treated cells per task (a seeded random
  subset, drawn from the task's seed before the split; for quick checks such as CI);
- ``replicate_key`` set (within splits): the treated cells' labels under that key (e.g. two
  technical captures) are kept as ``task.labels['target_<split>']``, for a replicate ceiling.

Task names: the context (one treated label), ``"<treated> | <context>"`` (several), the treated
label, or ``"<time_key> <t>"`` for a time course.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field

from trackability.data.registry import DatasetOptions, register_dataset
from trackability.data.task_builders import Entry, _kind, _split
from trackability.data.tasks import Task

#: Hours per unit of a time column.
HOURS = {"h": 1.0, "min": 1.0 / 60.0, "day": 24.0, "d": 24.0}


class LabelOptions(DatasetOptions):
    """How an AnnData with label columns becomes tasks (see the module docstring)."""

    groupby: str | None = None
    control: str | float | None = None
    treated: list[str | float] | None = None
    context_key: str | None = None
    contexts: list[str] | None = None
    time_key: str | None = None
    time_unit: Literal["h", "min", "day", "d"] = "h"
    replicate_key: str | None = None
    max_cells: int | None = Field(None, ge=2)


class AnndataOptions(LabelOptions):
    """A user's ``.h5ad`` / ``.csv``: the file is the task's ``path``."""

    layer: str | None = None
    use_rep: str | None = None
    features: list[str] | None = None


def _col(adata: Any, key: str, what: str) -> np.ndarray:
    if key not in adata.obs.columns:
        raise KeyError(f"{what}: obs has no column {key!r} (columns: {list(adata.obs.columns)}).")
    return adata.obs[key].to_numpy()


def _fmt(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _groups(adata: Any, o: dict[str, Any], what: str) -> tuple[np.ndarray, Any, list[Any]]:
    """(per-cell group value, control value, treated values)."""
    if o.get("time_key"):
        t = np.asarray(_col(adata, o["time_key"], what), dtype=np.float64)
        present = sorted(set(t.tolist()))
        c = float(o["control"]) if o.get("control") is not None else present[0]
        if c not in present:
            raise ValueError(f"{what}: no cells at control time {c:g} (times: {present}).")
        treated = [float(v) for v in o["treated"]] if o.get("treated") else [v for v in present if v > c]
        return t, c, treated
    if not o.get("groupby"):
        raise ValueError(f"{what}: give groupby (the obs column of control / treated labels) or time_key.")
    g = _col(adata, o["groupby"], what).astype(str)
    present = sorted(set(g.tolist()))
    if o.get("control") is None:
        raise ValueError(f"{what}: give control, the {o['groupby']!r} label of the control cells "
                         f"(labels: {present[:20]}).")
    c = str(o["control"])
    treated = [str(v) for v in o["treated"]] if o.get("treated") else [v for v in present if v != c]
    return g, c, treated


def label_tasks(adata: Any, split: dict[str, Any], o: dict[str, Any], *, dataset: str = "anndata",
                extra_meta: dict[str, Any] | None = None) -> list[Entry]:
    """Task entries of an AnnData described by its label columns (the options of :class:`LabelOptions`)."""
    ctx_key = o.get("context_key")
    allowed = ("within", "holdout", "replicate") if ctx_key else ("within",)
    kind = _kind(split, "within", allowed, dataset)
    group, c, treated = _groups(adata, o, dataset)
    for v in [c, *treated]:
        if not np.any(group == v):
            raise ValueError(f"{dataset}: no cells with label {_fmt(v)!r} "
                             f"(labels: {sorted(set(group.tolist()))[:20]}).")
    if not treated:
        raise ValueError(f"{dataset}: no treated label besides the control {_fmt(c)!r}.")
    x = np.asarray(adata.X, dtype=np.float64)
    fn = list(map(str, adata.var_names))
    ctx = _col(adata, ctx_key, dataset).astype(str) if ctx_key else None
    rep = _col(adata, o["replicate_key"], dataset).astype(str) if o.get("replicate_key") else None
    time_key = o.get("time_key")
    unit = o.get("time_unit", "h")
    base = {"dataset": dataset, "control": _fmt(c), **(extra_meta or {})}
    if time_key:
        base.update({"time_key": time_key, "control_time": c})
    if rep is not None:
        base["replicate_key"] = o["replicate_key"]
    c_mask = group == c
    cap = o.get("max_cells")
    if cap is not None:
        base["max_cells"] = int(cap)

    def _cap(mask: np.ndarray, seed: int, which: int) -> np.ndarray:
        idx = np.flatnonzero(mask)
        if cap is None or idx.size <= cap:
            return mask
        keep = np.random.default_rng([int(seed), 11, which]).choice(idx, size=int(cap), replace=False)
        out = np.zeros_like(mask)
        out[keep] = True
        return out

    if ctx is not None:
        contexts = o.get("contexts") or sorted(set(ctx[c_mask].tolist()))
    else:
        contexts = [None]
    entries: list[Entry] = []
    for t in treated:
        t_mask = group == t
        meta_t = dict(base, treated=_fmt(t))
        if time_key:
            meta_t.update(gap=float(t) - float(c), gap_unit=unit,
                          gap_h=(float(t) - float(c)) * HOURS[unit])
        for k in contexts:
            if k is None:
                name = f"{time_key} {_fmt(t)}" if time_key else str(t)
            else:
                name = k if len(treated) == 1 else f"{_fmt(t)} | {k}"

            def make(seed: int, t_mask: np.ndarray = t_mask, k: Any = k, name: str = name,
                     meta: dict[str, Any] = meta_t) -> Task:
                meta = dict(meta)
                if kind == "within":
                    cm, tm = c_mask, t_mask
                    if k is not None:
                        cm, tm = cm & (ctx == k), tm & (ctx == k)
                        meta["context"] = k
                    cm, tm = _cap(cm, seed, 0), _cap(tm, seed, 1)
                    labels = None if rep is None else {"source": rep[cm], "target": rep[tm]}
                    return _split("within", name=name, source=x[cm], target=x[tm], seed=seed,
                                  split=split, feature_names=fn, meta=meta, labels=labels)
                meta["context"] = k
                cm0, tm0 = _cap(c_mask, seed, 0), _cap(t_mask, seed, 1)
                sp = dict(split)
                if kind == "replicate":
                    sp["include_holdout_source"] = False
                task = _split("holdout", name=name, source=x[cm0], target=x[tm0], seed=seed,
                              split=sp, feature_names=fn, meta=meta,
                              contexts=(ctx[cm0], ctx[tm0]), holdout=k)
                if kind == "replicate":
                    task.meta.update(split="replicate", test_replicate=k)
                return task

            entries.append((name, make))
    return entries


# -- dataset: anndata (a user's own file) -----------------------------------------------------------
def _load_user(path: Any = None, groupby: Any = None, context_key: Any = None, time_key: Any = None,
               replicate_key: Any = None, layer: Any = None, use_rep: Any = None,
               features: Any = None) -> Any:
    from trackability.data.loaders.generic import load_anndata

    return load_anndata(path, keys=[k for k in (groupby, context_key, time_key, replicate_key) if k],
                        layer=layer, use_rep=use_rep, features=features)


register_dataset(
    "anndata", options=AnndataOptions, tasks=label_tasks, load=_load_user,
    load_keys=("path", "groupby", "context_key", "time_key", "replicate_key", "layer", "use_rep",
               "features"),
    split_kinds=("within", "holdout", "replicate"),
    description="a user's .h5ad / .csv: groupby + control / treated labels, or a time_key",
)


# -- the real tables ---------------------------------------------------------------------------------
def _fixed(dataset: str, fixed: dict[str, Any]) -> Any:
    """A builder that runs :func:`label_tasks` with the data set's fixed obs keys."""

    def tasks(adata: Any, split: dict[str, Any], o: dict[str, Any]) -> list[Entry]:
        opts = {**fixed, **{k: v for k, v in o.items() if k in LabelOptions.model_fields}}
        return label_tasks(adata, split, opts, dataset=dataset)

    return tasks


class BodenmillerOptions(DatasetOptions):
    """Bodenmiller 2012: Ref -> BCR-XL per patient (within), held-out patient, patient as replicate."""

    contexts: list[str] | None = None
    cofactor: float = 5.0
    max_cells: int | None = Field(None, ge=2)


def _load_bodenmiller(path: Any = None, cofactor: float = 5.0) -> Any:
    from trackability.data.loaders.tables import load_bodenmiller

    return load_bodenmiller(path, cofactor=cofactor)


def _patients(split: dict[str, Any], o: dict[str, Any]) -> list[str]:
    from trackability.data.loaders.tables import BODENMILLER_PATIENTS

    _kind(split, "within", ("within", "holdout", "replicate"), "bodenmiller")
    return list(o.get("contexts") or BODENMILLER_PATIENTS)


register_dataset(
    "bodenmiller", options=BodenmillerOptions,
    tasks=_fixed("bodenmiller", {"groupby": "condition", "control": "Ref", "treated": ["BCRXL"],
                                 "context_key": "patient"}),
    load=_load_bodenmiller, load_keys=("path", "cofactor"), names=_patients,
    split_kinds=("within", "holdout", "replicate"),
    description="Bodenmiller 2012 CyTOF, Ref -> BCR-XL, 4 patients",
)


class Kang3Options(DatasetOptions):
    """Kang 2018, 3 donors: leave-one-donor-out (replicate), held-out cell type (holdout)."""

    contexts: list[str] | None = None
    layer: Literal["logcounts", "cpm"] | None = "logcounts"
    max_cells: int | None = Field(None, ge=2)


def _load_kang3(path: Any = None, layer: Any = "logcounts") -> Any:
    from trackability.data.loaders.tables import load_kang3

    return load_kang3(path, layer=layer)


def _kang3_names(split: dict[str, Any], o: dict[str, Any]) -> list[str]:
    from trackability.data.loaders.tables import KANG3_DONORS

    kind = _kind(split, "replicate", ("replicate", "holdout"), "kang3")
    if o.get("contexts"):
        return list(o["contexts"])
    if kind == "replicate":
        return list(KANG3_DONORS)
    from trackability.data.loaders._files import locate, read_h5ad
    from trackability.data.loaders.tables import KANG3_DEFAULT

    what = "Kang 2018 3-donor data set"  # the cell types from obs alone (X stays on disk)
    a = read_h5ad(locate(o.get("path"), KANG3_DEFAULT, what=what, suffixes=(".h5ad",)), what=what,
                  backed=True)
    try:
        if "cell" not in a.obs.columns:
            raise KeyError(f"{what}: {a.filename} has no obs column 'cell'.")
        return sorted(set(a.obs["cell"].astype(str)))
    finally:
        a.file.close()


def _kang3_tasks(adata: Any, split: dict[str, Any], o: dict[str, Any]) -> list[Entry]:
    sp = {**split, "kind": split.get("kind") or "replicate"}
    _kind(sp, "replicate", ("replicate", "holdout"), "kang3")
    key = "donor" if sp["kind"] == "replicate" else "cell_type"
    return _fixed("kang3", {"groupby": "condition", "control": "ctrl", "treated": ["stim"],
                            "context_key": key})(adata, sp, o)


register_dataset(
    "kang3", options=Kang3Options, tasks=_kang3_tasks, load=_load_kang3,
    load_keys=("path", "layer"), names=_kang3_names, split_kinds=("replicate", "holdout"),
    description="Kang 2018 3 donors: held-out donor (replicate) or cell type (holdout)",
)


class TimeCourseOptions(DatasetOptions):
    """A real time course: control time -> each later time point (a horizon sweep)."""

    control: float | None = None
    treated: list[float] | None = None
    max_cells: int | None = Field(None, ge=2)


def _time_names(times: tuple[float, ...], key: str) -> Any:
    def names(split: dict[str, Any], o: dict[str, Any]) -> list[str]:
        _kind(split, "within", ("within",), "time course")
        c = float(o["control"]) if o.get("control") is not None else times[0]
        later = [float(t) for t in o["treated"]] if o.get("treated") else [t for t in times if t > c]
        return [f"{key} {t:g}" for t in later]

    return names


def _register_time_course(name: str, loader: str, times_const: str, key: str, unit: str,
                          replicate_key: str | None = None, description: str = "") -> None:
    from trackability.data.loaders import tables

    def load(path: Any = None) -> Any:
        return getattr(tables, loader)(path)

    fixed = {"time_key": key, "time_unit": unit}
    if replicate_key:
        fixed["replicate_key"] = replicate_key
    register_dataset(name, options=TimeCourseOptions, tasks=_fixed(name, fixed), load=load,
                     names=_time_names(getattr(tables, times_const), key),
                     description=description)


_register_time_course("chu", "load_chu", "CHU_TIMES", "time_h", "h",
                      description="Chu 2016 hESC -> endoderm, 0 h -> 12..96 h")
_register_time_course("kouno", "load_kouno", "KOUNO_TIMES", "time_h", "h",
                      description="Kouno 2013 THP-1 + PMA, 0 h -> 1..96 h")
_register_time_course("wot2017", "load_wot2017", "WOT_DAYS", "day", "day", replicate_key="capture",
                      description="Schiebinger 2019 2i slice, day 0 -> day 2 (captures c1, c2)")
_register_time_course("serum", "load_serum", "SERUM_DAYS", "day", "day",
                      description="Schiebinger 2019 serum, day 10 -> 10.5 -> 11")
