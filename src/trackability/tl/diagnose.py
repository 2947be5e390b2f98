"""``tl.diagnose``: whether the measurement gap between two groups of an AnnData is trackable."""

from __future__ import annotations

import json
import warnings
from typing import Any

import numpy as np

from trackability.tl._anndata import (
    check_adata,
    check_key,
    get_matrix,
    group_mask,
    group_masks,
    jsonish,
)

#: Non-negative data whose largest value exceeds this look untransformed (counts, intensities).
RAW_MAX = 100.0
#: The unit of the gap when none is given.
DEFAULT_UNIT = "time units of the gap"


def _warn_if_raw(x: np.ndarray, where: str) -> bool:
    """Warn (and return True) when ``x`` looks like untransformed counts or intensities."""
    if x.size and float(x.min()) >= 0 and float(x.max()) > RAW_MAX:
        warnings.warn(
            f"{where} is non-negative with values up to {float(x.max()):.4g}: it looks like raw "
            "counts or intensities. Distances, delta and L are dominated by the brightest features "
            "there; transform first: log1p for counts (np.log1p / scanpy.pp.log1p) or arcsinh(x / 5) "
            "for cytometry (np.arcsinh(x / 5)).",
            UserWarning, stacklevel=3,
        )
        return True
    return False


def diagnose(
    adata: Any,
    groupby: str,
    control: Any,
    treated: Any,
    gap: float,
    *,
    use_rep: str | None = None,
    layer: str | None = None,
    time_unit: str = DEFAULT_UNIT,
    key_added: str = "trackability_diagnose",
    random_state: Any = 0,
    intermediate: dict[Any, float] | None = None,
    **kwargs: Any,
) -> Any:
    """Diagnose the gap between two groups of ``adata`` and store the report under ``uns``.

    Parameters
    ----------
    adata
        AnnData with both groups.
    groupby, control, treated
        ``obs`` column of the condition and the control / treated labels.
    gap
        The measurement gap ``t`` between the two snapshots, in ``time_unit``.
    use_rep, layer
        Feature space (``obsm`` key or layer; default ``X``).
    time_unit
        Unit of ``gap`` (e.g. ``"hours"``); ``L`` is then in data units per ``time_unit`` and
        ``Delta`` in ``time_unit``.
    key_added
        ``uns`` key of the report.
    random_state
        Seed of the bootstrap and of pair samples.
    intermediate
        Groups of ``groupby`` measured between the two, with their time after the control in
        ``time_unit``, in increasing order: ``{"6h": 6, "12h": 12}``. The calibrated estimate
        is then composed over the course (``intermediate`` of
        :func:`trackability.diagnostics.diagnose`; needs ``recoverability=True``).
    **kwargs
        Passed to :func:`trackability.diagnostics.diagnose` (``L``, ``n_boot``, ``confidence``,
        ``max_pairs``, ``recoverability``, ``map_rounds``...). On data that look untransformed
        (non-negative, values above :data:`RAW_MAX`; a warning says so) the calibrated estimate
        is skipped unless ``recoverability=True`` is passed (the verdict says why).

    Returns
    -------
    TrackabilityReport
        Displays as a table in notebooks. ``adata.uns[key_added]`` holds its JSON form
        (infinite values as missing) plus ``params`` and ``time_unit``.

    """
    from trackability.diagnostics import diagnose as _diagnose

    check_adata(adata)
    key = check_key(key_added)
    if not isinstance(time_unit, str) or not time_unit:
        raise ValueError(f"time_unit must be a non-empty string; got {time_unit!r}.")
    ctrl, trt = group_masks(adata, groupby, control, treated)
    x, _ = get_matrix(adata, use_rep, layer)
    where = (f"adata.obsm[{use_rep!r}]" if use_rep not in (None, "X") else
             f"adata.layers[{layer!r}]" if layer else "adata.X")
    raw = _warn_if_raw(x[ctrl | trt], where)
    # the calibrated estimate on untransformed data takes minutes (the map search does not settle:
    # 197 s for one Sachs pair) and answers for the brightest features: not by default
    skip_raw = raw and kwargs.get("recoverability", "auto") == "auto" and intermediate is None
    if skip_raw:
        kwargs["recoverability"] = False
    course = None
    if intermediate is not None:
        if not isinstance(intermediate, dict):
            raise ValueError("intermediate must map groups of "
                             f"adata.obs[{groupby!r}] to their times; got {type(intermediate).__name__}.")
        # the times themselves are checked (positive, below gap, increasing) by diagnose
        course = [(tc, x[group_mask(adata, groupby, lab, "intermediate")])
                  for lab, tc in intermediate.items()]
    report = _diagnose(x[ctrl], x[trt], gap, random_state=random_state, intermediate=course,
                       time_unit="" if time_unit == DEFAULT_UNIT else time_unit, **kwargs)
    report.details["time_unit"] = time_unit
    if skip_raw:
        report.details["recoverability_skipped"] = (
            f"{where} looks untransformed (non-negative, values above {RAW_MAX:g}); transform it "
            "first, or pass recoverability=True")
    record = json.loads(report.to_json())
    record["params"] = {"groupby": groupby, "control": str(control), "treated": str(treated),
                        "gap": float(gap), "use_rep": use_rep or "", "layer": layer or "",
                        "time_unit": time_unit}
    if intermediate:
        record["params"]["intermediate"] = {str(k): float(v) for k, v in intermediate.items()}
    record["time_unit"] = time_unit
    adata.uns[key] = jsonish(record)
    return report
