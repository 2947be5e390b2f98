"""Training dynamics: train vs validation curves of CellOT, Compact CellOT and LAOT on one split.

The paper's training-dynamics figure compares how the neural models and LAOT fit the training
cells against how they do on held-out validation cells. This module produces its input: one
tidy history per method with the same columns, all on the same seeded split (carved from the
training cells; test cells are never touched) and scored with the same MMD^2 bandwidth (median
heuristic on the training cells), so the curves are comparable. Draw it with
:func:`trackability.plotting.plot_training_dynamics`.

Columns of every history: ``step`` (outer iteration, LAOT iteration or scGen epoch),
``train_loss`` and ``val_loss`` (the method's own objective; see ``df.attrs["loss_label"]``),
``train_mmd2`` and ``val_mmd2`` (NaN where not evaluated), ``selected`` (the kept checkpoint).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from trackability._progress import progress_bar
from trackability._validation import check_pair, check_random_state
from trackability.metrics import mmd2

COLUMNS = ("step", "train_loss", "val_loss", "train_mmd2", "val_mmd2", "selected")
METHOD_CLASSES = {
    "cellot": "CellOT",
    "compact_cellot": "CompactCellOT",
    "scgen": "ScGen",
    "laot": "LAOT",
}


def history_table(model: Any) -> Any:
    """The history of a fitted CellOT / CompactCellOT / ScGen in the common columns.

    CellOT's loss is the g loss ``mean[f(grad g(x)) - <x, grad g(x)>]`` (+ penalty on the
    training side); scGen's is its per-cell VAE loss, and its ``step`` is the epoch.
    """
    import pandas as pd

    h = getattr(model, "history_", None)
    if h is None:
        raise ValueError(f"{type(model).__name__} is not fitted (it has no history_).")
    if "train_loss_g" in h.columns:  # CellOT family
        out = pd.DataFrame({
            "step": h["step"].astype(int),
            "train_loss": h["train_loss_g"],
            "val_loss": h["val_loss_g"],
            "train_mmd2": h["train_mmd2"],
            "val_mmd2": h["val_mmd2"],
        })
        out["selected"] = out["step"] == int(model.best_step_)
        out.attrs["loss_label"] = "g loss"
        out.attrs["step_label"] = "outer iteration"
    elif "val_loss" in h.columns and "train_mmd2" not in h.columns:  # scGen
        out = pd.DataFrame({
            "step": h["step"].astype(int),
            "train_loss": h["train_loss"],
            "val_loss": h["val_loss"],
            "train_mmd2": np.nan,
            "val_mmd2": h["val_mmd2"],
        })
        out["selected"] = out["step"] == int(model.best_epoch_)
        out.attrs["loss_label"] = "VAE loss per cell"
        out.attrs["step_label"] = "epoch"
    else:
        raise ValueError(
            f"cannot read the history of {type(model).__name__}; expected CellOT or ScGen."
        )
    return out


def laot_history(
    source: np.ndarray,
    target: np.ndarray,
    split: Mapping[str, Any],
    *,
    laot_params: Mapping[str, Any] | None = None,
    progress: bool | None = None,
) -> Any:
    """LAOT's per-iteration train and validation curves on a given split.

    LAOT is fitted on the training cells; then, for every iteration ``k`` it ran, LAOT is refitted
    with ``max_iter=k`` (deterministic, and its objective never increases, so this is exactly the
    k-th iterate) and scored. Row ``step=0`` is the starting point ``W = I`` (no change).
    ``train_loss`` is the LAOT objective per matched pair (``|Y - W X Pi|_F^2 / n``);
    ``val_loss`` is left NaN (the objective needs a matching on the validation cells).
    """
    import pandas as pd

    from trackability.models import LAOT

    params = dict(laot_params or {})
    params.pop("progress", None)
    x_tr, y_tr = source[split["src_train"]], target[split["tgt_train"]]
    x_mon, y_mon = source[split["src_monitor"]], target[split["tgt_monitor"]]
    x_val, y_val = source[split["src_val"]][:1000], target[split["tgt_val"]][:1000]
    gamma = split["gamma"]
    has_val = x_val.shape[0] >= 2 and y_val.shape[0] >= 2
    full = LAOT(**params).fit(x_tr, y_tr)
    n_pairs = min(x_tr.shape[0], y_tr.shape[0])
    rows = [{
        "step": 0, "train_loss": np.nan, "val_loss": np.nan,
        "train_mmd2": mmd2(x_mon, y_mon, gamma=gamma),
        "val_mmd2": mmd2(x_val, y_val, gamma=gamma) if has_val else np.nan,
    }]
    objective = full.history_["train_loss"].to_numpy()
    bar = progress_bar(total=full.n_iter_, desc="LAOT iterates", progress=progress)
    for k in range(1, full.n_iter_ + 1):
        model = full if k == full.n_iter_ else LAOT(**{**params, "max_iter": k}).fit(x_tr, y_tr)
        rows.append({
            "step": k,
            "train_loss": objective[k - 1] / n_pairs,
            "val_loss": np.nan,
            "train_mmd2": mmd2(model.predict(x_mon), y_mon, gamma=gamma),
            "val_mmd2": mmd2(model.predict(x_val), y_val, gamma=gamma) if has_val else np.nan,
        })
        bar.update(1)
    bar.close()
    out = pd.DataFrame(rows, columns=list(COLUMNS[:-1]))
    out["selected"] = out["step"] == full.n_iter_
    out.attrs["loss_label"] = "objective per pair"
    out.attrs["step_label"] = "iteration"
    return out


def training_dynamics(
    source: Any,
    target: Any,
    *,
    methods: Sequence[str] = ("cellot", "compact_cellot", "laot"),
    validation_fraction: float = 0.1,
    random_state: Any = 0,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Fit each method on the same training cells and return its train/validation history.

    Parameters
    ----------
    source, target
        Training control and treated cells (cells as rows). A validation split of
        ``validation_fraction`` of each is carved out (seeded); pass no test cells here.
    methods
        Any of ``"cellot"``, ``"compact_cellot"``, ``"scgen"``, ``"laot"``.
    validation_fraction
        Held-out fraction of each population.
    random_state
        Seed of the split and of every model. CellOT and Compact CellOT draw the identical split
        from it themselves; LAOT is given that split.
    params
        Per-method constructor parameters, e.g. ``{"cellot": {"max_iter": 2000}}``.
    progress
        Progress bars (None: follow ``TRACKABILITY_PROGRESS``).

    Returns
    -------
    dict of str to pandas.DataFrame
        One history per method, columns :data:`COLUMNS`.

    """
    from trackability.models import _torch as torch_utils

    src, tgt = check_pair(source, target, min_samples=4)
    unknown = [m for m in methods if m not in METHOD_CLASSES]
    if unknown:
        raise ValueError(f"unknown method(s) {unknown}; choose from {sorted(METHOD_CLASSES)}.")
    if not methods:
        raise ValueError("methods is empty; name at least one method.")
    params = dict(params or {})
    bad = [m for m in params if m not in methods]
    if bad:
        raise ValueError(f"params given for method(s) {bad} that are not in methods={list(methods)}.")
    split = torch_utils.monitoring_split(
        src, tgt, torch_utils.check_fraction(validation_fraction, "validation_fraction"),
        check_random_state(random_state),
    )
    out: dict[str, Any] = {}
    for name in methods:
        kw = dict(params.get(name, {}))
        if name == "laot":
            out[name] = laot_history(src, tgt, split, laot_params=kw, progress=progress)
            continue
        import trackability.models as models

        cls = getattr(models, METHOD_CLASSES[name])
        kw.setdefault("progress", progress)
        model = cls(validation_fraction=validation_fraction, random_state=random_state, **kw)
        model.fit(src, tgt)
        out[name] = history_table(model)
    return out
