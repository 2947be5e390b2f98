"""``tl.match``: optimal matching of control to treated cells, and transitions between annotations.

A partner column (``obs[key + "_partner"]``) is written only when the matching is one-to-one
(equal group sizes, every cell matched once); otherwise a partner would be missing for some cells
or shared by several, and the column would mislead. The transition table (control annotation ->
treated annotation, counts and row fractions) reads like moscot's ``cell_transition``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trackability.tl._anndata import check_adata, check_key, get_matrix, group_masks, jsonish


def is_one_to_one(n_control: int, n_treated: int, source: np.ndarray, target: np.ndarray) -> bool:
    """Whether the pairs ``(source[k], target[k])`` form a permutation of equal-sized groups."""
    return (n_control == n_treated and len(source) == n_control
            and np.unique(source).size == n_control and np.unique(target).size == n_treated)


def write_partners(adata: Any, ctrl: np.ndarray, trt: np.ndarray, source: np.ndarray,
                   target: np.ndarray, xs: np.ndarray, xt: np.ndarray, cost_name: str,
                   key: str) -> bool:
    """Write ``obs[key_partner]`` / ``obs[key_partner_cost]`` if the matching is one-to-one.

    ``xs`` are the (mapped) control cells and ``xt`` the treated cells the cost is measured between.
    Returns whether the columns were written (stale columns of an earlier call are removed).
    """
    for col in (f"{key}_partner", f"{key}_partner_cost"):
        if col in adata.obs.columns:
            del adata.obs[col]
    src_ids, tgt_ids = np.flatnonzero(ctrl), np.flatnonzero(trt)
    if not is_one_to_one(src_ids.size, tgt_ids.size, source, target):
        return False
    names = np.asarray(adata.obs_names, dtype=object)
    s_idx, t_idx = src_ids[source], tgt_ids[target]
    partner = np.full(adata.n_obs, "", dtype=object)
    partner[s_idx], partner[t_idx] = names[t_idx], names[s_idx]
    diff = xs[source] - xt[target]
    pair = np.einsum("ij,ij->i", diff, diff)
    if cost_name == "euclidean":
        pair = np.sqrt(pair)
    cost = np.full(adata.n_obs, np.nan)
    cost[s_idx], cost[t_idx] = pair, pair
    adata.obs[f"{key}_partner"] = partner.astype(str)
    adata.obs[f"{key}_partner_cost"] = cost
    return True


def transition_table(source_labels: Any, target_labels: Any, *, normalize: str = "control") -> Any:
    """Counts and fractions of matched pairs between two annotations (long, tidy form).

    Parameters
    ----------
    source_labels, target_labels
        Annotation of each matched control cell and of its matched treated cell (equal length).
    normalize
        ``"control"``: fractions of each control annotation's cells going to each treated one (rows
        sum to 1); ``"treated"``: fractions of each treated annotation's cells coming from each
        control one.

    Returns
    -------
    pandas.DataFrame
        Columns ``control``, ``treated``, ``count``, ``fraction``; every pair of annotations present.

    """
    import pandas as pd

    if normalize not in ("control", "treated"):
        raise ValueError(f"normalize must be 'control' or 'treated'; got {normalize!r}.")
    s, t = np.asarray(source_labels, dtype=str), np.asarray(target_labels, dtype=str)
    if s.shape != t.shape:
        raise ValueError(f"{s.size} control labels but {t.size} treated labels.")
    counts = pd.crosstab(pd.Series(s, name="control"), pd.Series(t, name="treated"))
    axis = 1 if normalize == "control" else 0
    frac = counts.div(counts.sum(axis=axis), axis=1 - axis)
    out = counts.stack().rename("count").to_frame()
    out["fraction"] = frac.stack()
    return out.reset_index()


def match(
    adata: Any,
    *,
    groupby: str,
    control: Any,
    treated: Any,
    annotation: str | None = None,
    treated_annotation: str | None = None,
    use_rep: str | None = None,
    layer: str | None = None,
    cost: str = "sqeuclidean",
    method: str = "auto",
    normalize: str = "control",
    key_added: str = "trackability_match",
    **options: Any,
) -> Any:
    """Match control to treated cells by optimal assignment; tabulate transitions of annotations.

    Parameters
    ----------
    adata
        AnnData with both groups.
    groupby, control, treated
        ``obs`` column of the condition and the two labels.
    annotation
        ``obs`` column (e.g. cell type) to tabulate transitions of; None: no table.
    treated_annotation
        Column for the treated cells if it differs (default: ``annotation``).
    use_rep, layer
        Feature space of the matching (``obsm`` key or layer; default ``X``).
    cost, method, **options
        Passed to :func:`trackability.matching.assign` (``method="auto"``: exact dense for small
        problems, certified sparse above).
    normalize
        Fractions per ``"control"`` annotation (rows) or per ``"treated"`` one.
    key_added
        Prefix of the ``obs`` columns and the ``uns`` key.

    Returns
    -------
    pandas.DataFrame or None
        The transition table (see :func:`transition_table`) when ``annotation`` is given. Also
        written: ``uns[key_added]`` (``params``, ``n_pairs``, ``one_to_one``, ``cost``,
        ``transitions`` as columns) and, only for one-to-one matchings,
        ``obs[key_added + "_partner"]`` (the ``obs_name`` of the matched cell) and
        ``obs[key_added + "_partner_cost"]``.

    """
    from trackability.matching import assign

    check_adata(adata)
    key = check_key(key_added)
    ctrl, trt = group_masks(adata, groupby, control, treated)
    for arg, col in (("annotation", annotation), ("treated_annotation", treated_annotation)):
        if col is not None and col not in adata.obs.columns:
            raise KeyError(f"{arg}={col!r} is not a column of adata.obs "
                           f"(columns: {list(adata.obs.columns)}).")
    x, _ = get_matrix(adata, use_rep, layer)
    xs, xt = x[ctrl], x[trt]
    m = assign(xs, xt, cost, method=method, **options)
    if not hasattr(m, "target"):
        raise ValueError(
            f"method={method!r} gives a soft transport plan, not a one-to-one matching: it has no "
            "partner per cell. Use method='auto', 'dense' or 'sparse' (trackability.matching.assign "
            "returns the plan itself)."
        )
    one = write_partners(adata, ctrl, trt, m.source, m.target, xs, xt, m.cost_name, key)
    uns: dict[str, Any] = {
        "params": {"groupby": groupby, "control": str(control), "treated": str(treated),
                   "annotation": annotation or "", "treated_annotation": treated_annotation or "",
                   "use_rep": use_rep or "", "layer": layer or "", "cost": cost, "method": method,
                   "normalize": normalize},
        "n_pairs": len(m.source), "one_to_one": one, "cost": float(m.cost), "solver": m.method,
    }
    table = None
    if annotation is not None:
        col_t = treated_annotation or annotation
        lab_s = adata.obs[annotation].astype(str).to_numpy()[np.flatnonzero(ctrl)[m.source]]
        lab_t = adata.obs[col_t].astype(str).to_numpy()[np.flatnonzero(trt)[m.target]]
        table = transition_table(lab_s, lab_t, normalize=normalize)
        uns["transitions"] = jsonish({c: table[c].to_numpy() for c in table.columns})
    adata.uns[key] = uns
    return table
