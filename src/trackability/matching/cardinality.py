"""Maximum-cardinality bipartite matching of a candidate graph, started from a greedy matching.

The sparse solver must know whether its candidate graph has a full matching before it hands the
graph to ``lap.lapmod`` (which crashes on graphs without one). scipy's Hopcroft-Karp
(:func:`scipy.sparse.csgraph.maximum_bipartite_matching`) answers that, but starts from nothing
and cannot be warm-started: on a 1M-cell nearest-neighbour graph (8M edges) it takes ~20 s,
although every cell's nearest listed partner is already distinct for all but a handful of cells.
:func:`maximum_matching` starts from the cheapest-edge greedy matching (or from a matching the
caller already has, e.g. the previous round's on a graph that has since grown), then augments
from each free row by a breadth-first search over alternating paths, vectorised level by level.
A row with no augmenting path is skipped for good: by the classical lemma behind Kuhn's
algorithm, no later augmentation can create one, so the result is a maximum matching. When the
greedy start leaves many rows free, scipy's Hopcroft-Karp is used instead.
"""

from __future__ import annotations

import numpy as np

#: Free rows after the greedy start above which scipy's Hopcroft-Karp is used instead.
MAX_FREE_ROWS = 2000


def greedy_matching(
    indptr: np.ndarray, indices: np.ndarray, costs: np.ndarray, n_cols: int, rounds: int = 8
) -> np.ndarray:
    """A matching (column of each row, -1 if none) by rounds of cheapest-free-edge proposals.

    In every round each free row proposes its cheapest edge to a free column, and every column
    proposed to accepts its cheapest proposer. Vectorised: ``O(rounds * n_edges)``.
    """
    n_rows = indptr.size - 1
    lens = np.diff(indptr)
    er = np.repeat(np.arange(n_rows), lens)
    starts = indptr[:-1][lens > 0]
    has = np.flatnonzero(lens > 0)
    match = np.full(n_rows, -1, dtype=np.int64)
    taken = np.zeros(n_cols, dtype=bool)
    for _ in range(rounds):
        live = (match[er] < 0) & ~taken[indices]
        if not live.any():
            break
        w = np.where(live, costs, np.inf)
        best = np.full(n_rows, np.inf)
        best[has] = np.minimum.reduceat(w, starts)
        cand = np.flatnonzero(live & (w == best[er]))  # each free row's cheapest edge(s) to a free column
        cand = cand[np.r_[True, er[cand][1:] != er[cand][:-1]]]  # first of ties
        r, c, wc = er[cand], indices[cand], costs[cand]
        by_col = np.lexsort((wc, c))
        r, c = r[by_col], c[by_col]
        win = np.r_[True, c[1:] != c[:-1]]  # each column's cheapest proposer
        match[r[win]] = c[win]
        taken[c[win]] = True
    return match


def augment(
    indptr: np.ndarray, indices: np.ndarray, match: np.ndarray, n_cols: int
) -> tuple[np.ndarray, int]:
    """Augment ``match`` (modified in place) from every free row; returns it and the searches run.

    Breadth-first search over alternating paths from one free row at a time: from the rows of
    the frontier to their not yet visited columns, and from those columns to the rows matched to
    them. A free column ends the search, and the path is flipped.
    """
    row_of = np.full(n_cols, -1, dtype=np.int64)
    ok = match >= 0
    row_of[match[ok]] = np.flatnonzero(ok)
    stamp = np.zeros(n_cols, dtype=np.int64)
    parent = np.empty(n_cols, dtype=np.int64)
    free_rows = np.flatnonzero(~ok)
    for s, r0 in enumerate(free_rows, start=1):
        frontier = np.array([r0])
        while frontier.size:
            lens = indptr[frontier + 1] - indptr[frontier]
            starts = np.repeat(indptr[frontier] - np.cumsum(lens) + lens, lens)
            pos = starts + np.arange(int(lens.sum()))
            cols, src = indices[pos], np.repeat(frontier, lens)
            new = stamp[cols] != s
            cols, src = cols[new], src[new]
            cols, first = np.unique(cols, return_index=True)
            src = src[first]
            stamp[cols] = s
            parent[cols] = src
            free = cols[row_of[cols] < 0]
            if free.size:
                j = int(free[0])
                while True:  # flip the path back to r0
                    i = int(parent[j])
                    prev = int(match[i])
                    match[i], row_of[j] = j, i
                    if i == r0:
                        break
                    j = prev
                break
            frontier = row_of[cols]
    return match, int(free_rows.size)


def maximum_matching(
    indptr: np.ndarray,
    indices: np.ndarray,
    costs: np.ndarray,
    n_cols: int,
    init: np.ndarray | None = None,
) -> np.ndarray:
    """A maximum-cardinality matching of a CSR bipartite graph: column of each row, -1 if none.

    Parameters
    ----------
    indptr, indices
        The graph in CSR form (rows x columns).
    costs
        Edge costs, used only to choose the greedy start (cheapest edges first).
    n_cols
        Number of columns.
    init
        A matching of (a subgraph of) this graph to start from instead of the greedy one.

    """
    match = greedy_matching(indptr, indices, costs, n_cols) if init is None else init.copy()
    if np.count_nonzero(match < 0) > MAX_FREE_ROWS:
        import scipy.sparse as sp
        from scipy.sparse.csgraph import maximum_bipartite_matching

        graph = sp.csr_array((np.ones(indices.size), indices, indptr), shape=(indptr.size - 1, n_cols))
        return maximum_bipartite_matching(graph, perm_type="column").astype(np.int64)
    return augment(indptr, indices, match, n_cols)[0]
