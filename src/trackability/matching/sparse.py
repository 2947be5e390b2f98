"""Exact sparse assignment on a k-nearest-neighbour candidate graph, with an optimality certificate.

In the trackable regime a cell's partner lies close to it once the current map is applied, so the
optimal assignment uses only short edges. :func:`solve_sparse`

1. builds a candidate graph: for every cell of the smaller population ("rows") its ``k`` nearest
   cells of the larger one ("columns"), with the nearest-neighbour library named by ``knn``;
2. solves the assignment restricted to that graph exactly (``lap.lapmod`` for equal sizes,
   scipy's LAPJVsp otherwise), once a maximum-cardinality matching
   (:mod:`trackability.matching.cardinality`) has shown that the graph has a full matching; if it
   has none, the cells left over get their exact nearest cells and the graph is solved again;
3. computes dual potentials ``(u, v)`` of the sparse optimum: ``v`` by Bellman-Ford shortest paths in
   the exchange graph of the matching (the largest ``v <= 0`` that the graph allows), and
   ``u_i = c(i, s(i)) - v(s(i))``, so every matched edge has reduced cost 0;
4. certifies: if every pair, in the graph or not, has reduced cost ``c_ij - u_i - v_j >= 0``, the
   potentials are feasible for the full problem and, by LP duality, the matching is optimal among
   all one-to-one matchings (it equals the dense optimum). For the squared Euclidean cost the check
   is a nearest-neighbour query in the dual-augmented space ``(y_j, sqrt(-v_j))``: row ``i`` is
   certified when its partner is its exact nearest neighbour there. It runs in row blocks (a float32
   matrix product as a screen, float64 where the screen is not conclusive); rows whose partner
   already beats their k-th neighbour are certified for free when the graph is exact;
5. widens: rows that fail get their best columns in the augmented space added (k doubles for them);
   the assignment is re-solved and re-certified until nothing fails. Every round is recorded in
   ``Matching.info["rounds"]``.

The exact check costs ``O(n_rows * n_cols * d)`` time (``O(block * n_cols)`` memory), as much
arithmetic as a dense cost matrix. Above ``exact_limit`` pairs (default ``2e10``, about 140k cells per
side) ``certify="auto"`` checks a seeded random sample of rows instead, and says so: ``info``
then holds ``certificate="sampled"``, the sample size, the violations found and fixed, and a 95 %
upper bound on the fraction of rows that could still be improved.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from trackability._validation import check_choice, check_random_state
from trackability.matching.auto import check_k
from trackability.matching.cardinality import maximum_matching
from trackability.matching.costs import COSTS, pair_costs
from trackability.matching.dense import power_of_two_scale
from trackability.matching.result import Matching

KNN_BACKENDS = ("auto", "sklearn", "faiss", "faiss-ivf", "pynndescent")
CERTIFY = ("auto", "exact", "sampled", "none")

#: Above this many (row, column) pairs ``certify="auto"`` switches from the exact to the sampled check.
EXACT_CERTIFY_PAIRS = 2 * 10**10
#: Above this many pairs ``knn="auto"`` uses faiss' inverted-file index (approximate) when installed.
EXACT_KNN_PAIRS = 2 * 10**10
#: Sparse costs handed to ``lap.lapmod`` are scaled so that the largest is just below this.
LAPMOD_TOP = 1.0
#: Inverted lists ``faiss-ivf`` visits per query at first (doubled when a sampled check widens).
IVF_NPROBE = 32
#: ``faiss-ivf`` re-ranks this many times ``k`` fast-scan candidates by exact distance.
IVF_REFINE = 2
#: Largest brute-force work (cells x cells x features) spent on the exact neighbours of the cells
#: an infeasible candidate graph leaves over, before a reverse index is built instead.
_EXACT_FIX_WORK = 2 * 10**11
#: Rows per faiss search call.
_QUERY_BLOCK = 1 << 16
#: Bytes of one block of the certificate's float32 reduced-cost matrix.
_BLOCK_BYTES = 64 * 1024**2


# -- candidate graph -------------------------------------------------------------------------------
def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def resolve_knn(knn: str, n_pairs: int) -> str:
    """The nearest-neighbour backend that ``knn="auto"`` (or an explicit name) stands for."""
    check_choice(knn, "knn", KNN_BACKENDS)
    if knn != "auto":
        if knn.startswith("faiss") and not _has("faiss"):
            raise ImportError(f"knn={knn!r} needs faiss: pip install faiss-cpu.")
        if knn == "pynndescent" and not _has("pynndescent"):
            raise ImportError("knn='pynndescent' needs pynndescent: pip install pynndescent.")
        return knn
    if _has("faiss"):
        return "faiss" if n_pairs <= EXACT_KNN_PAIRS else "faiss-ivf"
    return "sklearn"


def build_index(
    cols: np.ndarray, backend: str = "sklearn", random_state: Any = 0, n_neighbors: int = 8
) -> Any:
    """A nearest-neighbour index over ``cols`` for :func:`query_index` (built once, reusable).

    ``sklearn``: a fitted ``NearestNeighbors``; ``faiss``: a flat L2 index; ``faiss-ivf``: an
    inverted-file index trained on a seeded sample of ``cols``; ``pynndescent``: an ``NNDescent``.
    """
    n_cols = cols.shape[0]
    if backend == "sklearn":
        from sklearn.neighbors import NearestNeighbors

        return NearestNeighbors(n_neighbors=int(min(n_neighbors, n_cols))).fit(cols)
    if backend in ("faiss", "faiss-ivf"):
        import faiss

        d = cols.shape[1]
        c32 = np.ascontiguousarray(cols, dtype=np.float32)
        if backend == "faiss":
            index = faiss.IndexFlatL2(d)
        else:
            index = _ivf_index(faiss, c32, check_random_state(random_state))
        index.add(c32)
        return index
    if backend == "pynndescent":
        from pynndescent import NNDescent

        seed = int(check_random_state(random_state).integers(0, 2**31 - 1))
        return NNDescent(cols, n_neighbors=max(int(n_neighbors), 15), random_state=seed, n_jobs=1)
    raise ValueError(f"unknown knn backend {backend!r}")


def _ivf_index(faiss: Any, c32: np.ndarray, rng: np.random.Generator) -> Any:
    """A trained inverted file over ``c32``: IVF lists, 4-bit fast-scan PQ, exact rerank.

    ``4 sqrt(n)`` lists (k-means, 10 iterations, on a seeded sample of 40 cells per list); the
    cells in a list are stored as 4-bit product-quantizer codes scanned with SIMD ("fast scan"),
    and the ``IVF_REFINE`` x ``k`` best codes of a query are re-ranked by exact float32 distance
    (``IndexRefineFlat``). At 1M cells (d = 50) this searches about 3x faster than the plain
    inverted file (``IndexIVFFlat``) at equal recall of the partner (``docs/scale.md``).
    """
    n_cols, d = c32.shape
    nlist = int(max(1, min(4 * np.sqrt(n_cols), n_cols // 39)))
    m_pq = d // 2 if d % 2 == 0 else d  # sub-quantizers of 2 features (fast scan needs d % m == 0)
    base = faiss.index_factory(d, f"IVF{nlist},PQ{m_pq}x4fs")
    ivf = faiss.downcast_index(base)  # IndexIVFPQFastScan
    ivf.cp.niter = 10
    ivf.cp.seed = int(rng.integers(0, 2**31 - 1))
    ivf.cp.min_points_per_centroid = 1  # small inputs: no faiss warning about few training points
    ivf.pq.cp.seed = int(rng.integers(0, 2**31 - 1))
    ivf.pq.cp.min_points_per_centroid = 1
    index = faiss.IndexRefineFlat(base)
    index.k_factor = IVF_REFINE
    n_train = min(n_cols, 40 * nlist)
    index.train(c32[np.sort(rng.choice(n_cols, size=n_train, replace=False))])
    return index


def query_index(
    index: Any, rows: np.ndarray, k: int, backend: str, nprobe: int = 8
) -> tuple[np.ndarray, bool]:
    """Indices ``(n_rows, k)`` of the (approximately) ``k`` nearest indexed columns of each row."""
    if backend == "sklearn":
        k = int(min(k, index.n_samples_fit_))
        return index.kneighbors(rows, n_neighbors=k, return_distance=False).astype(np.int64), True
    if backend in ("faiss", "faiss-ivf"):
        k = int(min(k, index.ntotal))
        if backend == "faiss-ivf":
            import faiss

            ivf = faiss.extract_index_ivf(index)  # through the exact re-ranking wrapper
            ivf.nprobe = int(min(ivf.nlist, nprobe))
        # in blocks of rows: faiss' per-query buffers (probe lists, look-up tables) stay small
        idx = np.empty((rows.shape[0], k), dtype=np.int64)
        for s in range(0, rows.shape[0], _QUERY_BLOCK):
            block = np.ascontiguousarray(rows[s : s + _QUERY_BLOCK], dtype=np.float32)
            idx[s : s + block.shape[0]] = index.search(block, k)[1]
        if np.any(idx < 0):  # an inverted list ran short: fill from the row's first neighbour
            bad = idx < 0
            idx[bad] = np.broadcast_to(idx[:, :1], idx.shape)[bad]
        return idx, backend == "faiss"
    if backend == "pynndescent":
        k = int(min(k, index._raw_data.shape[0]))
        idx, _ = index.query(rows, k=k)
        return idx.astype(np.int64), False
    raise ValueError(f"unknown knn backend {backend!r}")


def knn_graph(
    rows: np.ndarray,
    cols: np.ndarray,
    k: int,
    backend: str = "sklearn",
    random_state: Any = 0,
    nprobe: int = 8,
) -> tuple[np.ndarray, bool]:
    """Indices ``(n_rows, k)`` of (approximately) the ``k`` nearest columns of every row.

    Returns the indices and whether they are exact nearest neighbours (``sklearn`` and ``faiss``'
    flat index are; ``faiss-ivf`` and ``pynndescent`` are approximate). Either way the certificate
    of :func:`solve_sparse` decides optimality; an approximate graph only means more widening.
    ``nprobe`` is the number of inverted lists ``faiss-ivf`` visits per query.
    """
    index = build_index(cols, backend, random_state, n_neighbors=k)
    return query_index(index, rows, k, backend, nprobe)


@dataclass
class SparseWarmStart:
    """What :func:`solve_sparse` keeps between calls on the same target population.

    LAOT matches a moving source (the mapped control cells) against a fixed target at every
    iteration: the nearest-neighbour index over the target (a faiss inverted file at 1M cells),
    the centre used for it, and the previous assignment (whose edges keep the next candidate graph
    feasible) carry over. Filled and read by :func:`solve_sparse`; used only while the target is
    the larger (indexed) side and unchanged.
    """

    target: np.ndarray | None = None
    centre: np.ndarray | None = None
    backend: str | None = None
    index: Any = None
    previous: np.ndarray | None = None
    u: np.ndarray | None = None
    v: np.ndarray | None = None
    n_index_builds: int = 0

    def fits(self, target: np.ndarray, backend: str) -> bool:
        """Whether the cached index belongs to this target and backend."""
        if self.target is None or self.backend != backend or self.index is None:
            return False
        if target is self.target:
            return True
        return target.shape == self.target.shape and np.array_equal(target, self.target)


# -- sparse assignment -----------------------------------------------------------------------------
class _Graph:
    """Candidate edges (row, col), kept unique and sorted by row, with their exact costs.

    A cost is computed once, when its edge is added (the rows and columns are fixed within one
    call of :func:`solve_sparse`); without ``rows``/``cols`` only the edge set is kept.
    """

    def __init__(
        self, n_rows: int, n_cols: int, rows: np.ndarray | None = None,
        cols: np.ndarray | None = None, cost: str = "sqeuclidean",
    ) -> None:
        self.n_rows, self.n_cols = n_rows, n_cols
        self._points, self._cost = (rows, cols), cost
        self.keys = np.empty(0, dtype=np.int64)
        self.costs = np.empty(0)

    def add(self, r: np.ndarray, c: np.ndarray) -> int:
        """Add edges (duplicates and edges already present are dropped); returns how many were new."""
        new = np.sort(np.asarray(r, np.int64) * self.n_cols + np.asarray(c, np.int64))
        if new.size:
            new = new[np.r_[True, new[1:] != new[:-1]]]
        # sort-and-merge, not np.union1d: numpy 2's hash-based unique took ~4 s per call at 8M edges
        pos = np.searchsorted(self.keys, new)
        present = pos < self.keys.size
        present[present] = self.keys[pos[present]] == new[present]
        new, pos = new[~present], pos[~present]
        self.keys = np.insert(self.keys, pos, new)
        rows, cols = self._points
        if rows is not None and cols is not None:
            cost = _edge_costs(rows, cols, new // self.n_cols, new % self.n_cols, self._cost)
            self.costs = np.insert(self.costs, pos, cost)
        return int(new.size)

    @property
    def rows(self) -> np.ndarray:
        return self.keys // self.n_cols

    @property
    def cols(self) -> np.ndarray:
        return self.keys % self.n_cols

    def __len__(self) -> int:
        return int(self.keys.size)


def _solve_on_graph(
    er: np.ndarray,
    ec: np.ndarray,
    costs: np.ndarray,
    n_rows: int,
    n_cols: int,
    feasible: bool = False,
    init: np.ndarray | None = None,
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Column matched to each row, optimal on the graph, or None if no full matching exists.

    Returns ``(sigma, match)``: ``match`` is a maximum-cardinality matching (column of each row,
    -1 if none) when the graph has no full matching, for the caller's repair, else None.
    Feasibility is checked first (:func:`~trackability.matching.cardinality.maximum_matching`,
    from the greedy matching or from ``init``, a matching of a subgraph such as the previous
    round's) unless ``feasible`` says the graph is known to hold a full matching (it contains the
    previous assignment). Square problems go to
    ``lap.lapmod`` (sparse Jonker-Volgenant); rectangular ones to scipy's LAPJVsp. scipy's solver
    is not used for square problems because it can loop forever on some feasible graphs (seen
    here on a widened graph at n = 800, which lapmod solved in 0.07 s).
    """
    import scipy.sparse as sp
    from scipy.sparse.csgraph import min_weight_full_bipartite_matching

    # Both solvers need non-zero weights; a constant shift changes every full matching equally.
    shift = max(float(costs.max(initial=0.0)), 1e-300) * 1e-6 + 1e-300
    # The edges arrive sorted by row, then column (the graph's keys): build the CSR arrays directly.
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(er, minlength=n_rows), out=indptr[1:])
    graph = sp.csr_array((costs + shift, ec, indptr), shape=(n_rows, n_cols))
    if not feasible:
        match = maximum_matching(indptr, ec, costs, n_cols, init=init)
        if np.any(match < 0):
            return None, match
    if n_rows == n_cols:
        import lap

        # lapmod refuses costs >= lap.LARGE (1e6) and uses it as "no edge" in its searches: the
        # weights are scaled by a power of two (exact) into [1/2, 1), far below that sentinel but
        # not tiny: lapmod mixes LARGE into its potentials (v -= LARGE - v1 for a row with one
        # edge), and next to 1e6 a cost of 2**-20 (the dense solver's range) keeps ~3 digits.
        data = graph.data * power_of_two_scale(float(graph.data.max(initial=0.0)), LAPMOD_TOP)
        # return_cost=False: lap's total cost is a pure-Python loop of binary searches over the
        # rows (seconds per call at 1M cells); the caller computes the cost itself.
        x, _ = lap.lapmod(n_rows, data, graph.indptr, graph.indices, return_cost=False)
        return np.asarray(x, dtype=np.int64), None
    r, c = min_weight_full_bipartite_matching(graph)
    sigma = np.full(n_rows, -1, dtype=np.int64)
    sigma[r] = c
    return sigma, None


def _column_potentials(
    er: np.ndarray, ec: np.ndarray, costs: np.ndarray, sigma: np.ndarray, n_cols: int, eps: float
) -> tuple[np.ndarray, int]:
    """Largest ``v <= 0`` with ``v_j' <= v_s(i) + c_ij' - c_is(i)`` on every graph edge (Bellman-Ford).

    Moving row ``i`` from its partner ``s(i)`` to ``j'`` costs ``c_ij' - c_is(i)``; ``v`` is the
    shortest-path distance in that exchange graph from a root joined to every column at cost 0.
    It exists (no negative cycle) exactly when the matching is optimal on the graph. Vectorised
    label-correcting rounds: only edges out of columns whose label changed are relaxed.
    """
    matched_cost = np.zeros(sigma.size)
    own = ec == sigma[er]
    matched_cost[er[own]] = costs[own]
    w = costs - matched_cost[er]
    src = sigma[er]
    v = np.zeros(n_cols)
    active = np.ones(n_cols, dtype=bool)
    n_rounds = 0
    max_rounds = sigma.size + 2
    while n_rounds < max_rounds:
        n_rounds += 1
        sel = active[src]
        if not sel.any():
            break
        cand = v[src[sel]] + w[sel]
        new = v.copy()
        np.minimum.at(new, ec[sel], cand)
        changed = new < v - eps
        if not changed.any():
            break
        v = np.where(changed, new, v)
        active = changed
    else:  # pragma: no cover - only with a non-optimal matching (a solver bug)
        raise RuntimeError("dual potentials did not converge: the sparse matching is not optimal.")
    return v, n_rounds


# -- certificate -----------------------------------------------------------------------------------
def certificate_block_rows(n_cols: int) -> int:
    """Rows per block of the certificate: ``_BLOCK_BYTES`` of float32, at most 1024 rows."""
    return int(max(1, min(1024, _BLOCK_BYTES // (4 * n_cols))))


def _reduced_costs(
    xr: np.ndarray, cols: np.ndarray, ysq: np.ndarray, u: np.ndarray, v: np.ndarray, cost: str
) -> np.ndarray:
    """``c_ij - u_i - v_j`` for a block of rows against all columns, in the dtype of ``xr``."""
    dt = xr.dtype
    d2 = np.einsum("ij,ij->i", xr, xr)[:, None] + ysq[None, :]
    d2 -= 2.0 * (xr @ cols.T)
    np.maximum(d2, 0.0, out=d2)
    if cost == "euclidean":
        np.sqrt(d2, out=d2)
    d2 -= u.astype(dt)[:, None]
    d2 -= v.astype(dt)[None, :]
    return d2


def _check_rows(
    rows: np.ndarray,
    cols: np.ndarray,
    check: np.ndarray,
    sigma: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    cost: str,
    n_add: int,
    progress: bool | None,
) -> tuple[np.ndarray, list[np.ndarray], dict[str, float]]:
    """Rows among ``check`` with a pair of negative reduced cost, and their best columns to add.

    A float32 screen over all columns (partner excluded) clears rows whose smallest reduced cost is
    above the screen's error bound; the others are recomputed in float64, where a reduced cost below
    ``-tol`` (float64 rounding) is a violation.
    """
    from trackability._progress import progress_bar

    n_cols, d = cols.shape
    sq_r = np.einsum("ij,ij->i", rows, rows)
    sq_c = np.einsum("ij,ij->i", cols, cols)
    if cost == "sqeuclidean":
        scale = float(sq_r.max() + sq_c.max() + np.abs(u).max() + np.abs(v).max())
    else:
        scale = float(np.sqrt(sq_r.max()) + np.sqrt(sq_c.max()) + np.abs(u).max() + np.abs(v).max())
    rel32 = max(1e-5, 8.0 * d * 2.0**-24)
    sq_scale = float(sq_r.max() + sq_c.max())
    margin32 = rel32 * scale if cost == "sqeuclidean" else np.sqrt(rel32 * sq_scale) + 1e-6 * scale
    tol64 = 1e-9 * scale
    # The float32 screen in tiles of rows x columns (at most _BLOCK_BYTES): every column block is
    # read once per row block, so a sampled check (2,000 rows) reads the columns once.
    row_block = int(min(max(check.size, 1), 4096))
    col_block = int(max(1, min(n_cols, _BLOCK_BYTES // (4 * row_block))))
    lowest = np.full(check.size, np.inf, dtype=np.float32)
    n_tiles = -(-check.size // row_block) * -(-n_cols // col_block)
    bar = progress_bar(total=n_tiles, desc="certificate", progress=progress)
    for rs in range(0, check.size, row_block):
        idx = check[rs : rs + row_block]
        part = sigma[idx]
        if cost == "sqeuclidean":
            # One matrix product gives the reduced costs: [x, |x|^2 - u, 1] . [-2y, 1, |y|^2 - v].
            ra = np.empty((idx.size, d + 2), dtype=np.float32)
            ra[:, :d], ra[:, d], ra[:, d + 1] = rows[idx], sq_r[idx] - u[idx], 1.0
        else:
            r32 = rows[idx].astype(np.float32)
        for cs in range(0, n_cols, col_block):
            ce = min(cs + col_block, n_cols)
            if cost == "sqeuclidean":
                ca = np.empty((ce - cs, d + 2), dtype=np.float32)
                ca[:, :d], ca[:, d], ca[:, d + 1] = -2.0 * cols[cs:ce], 1.0, sq_c[cs:ce] - v[cs:ce]
                rc = ra @ ca.T
            else:
                rc = _reduced_costs(r32, cols[cs:ce].astype(np.float32),
                                    sq_c[cs:ce].astype(np.float32), u[idx], v[cs:ce], cost)
            own = np.flatnonzero((part >= cs) & (part < ce))
            rc[own, part[own] - cs] = np.inf  # the partner's own (zero) reduced cost
            np.minimum(lowest[rs : rs + idx.size], rc.min(axis=1), out=lowest[rs : rs + idx.size])
            bar.update(1)
    bar.close()
    suspects = [check[lowest < margin32]]
    suspect = np.concatenate(suspects) if suspects else np.empty(0, np.int64)
    bad_rows: list[int] = []
    adds: list[np.ndarray] = []
    block64 = max(1, certificate_block_rows(n_cols) // 2)
    for start in range(0, suspect.size, block64):
        idx = suspect[start : start + block64]
        rc = _reduced_costs(rows[idx], cols, sq_c, u[idx], v, cost)
        rc[np.arange(idx.size), sigma[idx]] = np.inf
        worst = rc.min(axis=1)
        viol = np.flatnonzero(worst < -tol64)
        if viol.size == 0:
            continue
        take = min(n_add, n_cols)
        sub = rc[viol]
        best = np.argpartition(sub, take - 1, axis=1)[:, :take]
        best_rc = np.take_along_axis(sub, best, axis=1)
        for r_local, i in enumerate(idx[viol]):
            bad_rows.append(int(i))
            adds.append(best[r_local][best_rc[r_local] < -tol64])
    stats = {"screen_margin": float(margin32), "tolerance": float(tol64), "n_rechecked": int(suspect.size)}
    return np.asarray(bad_rows, dtype=np.int64), adds, stats


# -- the solver ------------------------------------------------------------------------------------
def solve_sparse(
    source: np.ndarray,
    target: np.ndarray,
    cost: str = "sqeuclidean",
    *,
    k: int = 8,
    knn: str = "auto",
    certify: str = "auto",
    exact_limit: float = EXACT_CERTIFY_PAIRS,
    sample_size: int = 2000,
    max_rounds: int = 20,
    random_state: Any = 0,
    progress: bool | None = False,
    warm_start: SparseWarmStart | None = None,
) -> Matching:
    """Exact minimum-cost one-to-one matching through a certified k-nearest-neighbour graph.

    Parameters
    ----------
    source, target
        Validated float arrays (n_source, d) and (n_target, d); see
        :func:`trackability.matching.assign` for the public entry point.
    cost
        ``"sqeuclidean"`` or ``"euclidean"``.
    k
        Initial number of candidate partners per cell of the smaller population.
    knn
        Nearest-neighbour library: ``"sklearn"`` (exact), ``"faiss"`` (exact, flat index),
        ``"faiss-ivf"`` (approximate inverted file), ``"pynndescent"`` (approximate), or ``"auto"``
        (faiss when installed: flat up to 2e10 pairs, inverted file above; else sklearn).
    certify
        ``"exact"`` (every pair checked, in blocks), ``"sampled"`` (``sample_size`` random rows
        checked against all columns), ``"none"``, or ``"auto"`` (exact up to ``exact_limit``
        pairs, sampled above).
    exact_limit
        Number of (row, column) pairs above which ``certify="auto"`` samples.
    sample_size
        Rows checked by the sampled certificate.
    max_rounds
        Largest number of solve-certify-widen rounds.
    random_state
        Seed for the sampled certificate and the approximate indices.
    progress
        Show a progress bar over the certificate's blocks.
    warm_start
        A :class:`SparseWarmStart` kept by the caller across calls with the same ``target``
        (what :class:`~trackability.matching.Matcher` does): the target's index is built once
        and the previous assignment's edges join the candidate graph. Used only when the target
        is the larger side (or equal); the result is certified exactly as without it.

    Returns
    -------
    Matching
        ``method="sparse"``; ``certified`` as in ``info``; ``u``, ``v`` the dual potentials of
        the final round (per source and per target cell). ``info`` holds ``certificate``
        (``"exact"``, ``"sampled"`` or ``"none"``), ``certified`` (True, False or None when not
        checked), ``widened`` (whether the graph had to grow), ``rounds`` (per round: edges, rows
        checked, violations, edges added), ``k``, ``knn``, ``n_edges`` and, when sampled,
        ``n_sampled`` and ``violation_rate_upper95``.

    """
    check_choice(cost, "cost", COSTS)
    check_choice(certify, "certify", CERTIFY)
    k = check_k(k)
    if not isinstance(sample_size, int | np.integer) or sample_size < 1:
        raise ValueError(f"sample_size must be a positive integer; got {sample_size!r}.")
    if not isinstance(max_rounds, int | np.integer) or max_rounds < 1:
        raise ValueError(f"max_rounds must be a positive integer; got {max_rounds!r}.")
    t0 = time.perf_counter()
    swap = source.shape[0] > target.shape[0]
    rows, cols = (target, source) if swap else (source, target)
    m, n = rows.shape[0], cols.shape[0]
    backend = resolve_knn(knn, m * n)
    rng = check_random_state(random_state)
    warm = warm_start if (warm_start is not None and not swap) else None
    reuse = warm is not None and warm.fits(target, backend)
    if warm is None:
        shift = rows.mean(axis=0)
    else:  # centred on the fixed target, so the cached index stays valid as the source moves
        shift = warm.centre if reuse else cols.mean(axis=0)
    rows, cols = rows - shift, cols - shift  # distances unchanged; the expansion loses less precision
    mode = certify
    if mode == "auto":
        mode = "exact" if m * n <= exact_limit else "sampled"
    k_cur = int(min(k, n))
    nprobe = IVF_NPROBE
    if reuse:
        index = warm.index
    else:
        index = build_index(cols, backend, random_state=rng, n_neighbors=k_cur)
        if warm is not None:
            warm.target, warm.centre, warm.backend, warm.index = target, shift, backend, index
            warm.previous = warm.u = warm.v = None
            warm.n_index_builds += 1
    nbr, exact_knn = query_index(index, rows, k_cur, backend, nprobe=nprobe)
    graph = _Graph(m, n, rows, cols, cost)
    graph.add(np.repeat(np.arange(m), nbr.shape[1]), nbr.ravel())
    warm_edges = 0
    feasible = False  # whether the graph is known to hold a full matching (the graph only grows)
    if warm is not None and warm.previous is not None and warm.previous.size == m:
        # the previous assignment is a full matching of this graph: no infeasible round
        warm_edges = graph.add(np.arange(m), warm.previous)
        feasible = True
    t_knn = time.perf_counter() - t0
    rounds: list[dict[str, Any]] = []
    certified: bool | None = None
    sample: np.ndarray | None = None
    if mode == "sampled":
        sample = np.sort(rng.choice(m, size=min(sample_size, m), replace=False))
    sigma = match = None  # match: the last infeasible round's maximum matching (a warm start)
    duals: tuple[np.ndarray, np.ndarray] | None = None
    t_solve = t_cert = 0.0
    n_bad = 0  # rounds whose certificate failed: each one widens more
    exact_fixes = 0
    reverse_added = False
    n_pot_rounds = 0
    for rnd in range(1, max_rounds + 1):
        er, ec, costs = graph.rows, graph.cols, graph.costs
        ts = time.perf_counter()
        sigma, match = _solve_on_graph(er, ec, costs, m, n, feasible=feasible, init=match)
        t_solve += time.perf_counter() - ts
        if sigma is None:  # no full matching on the graph: make one possible, let the certificate fix it
            lonely_r, lonely_c = _lonely(match, ec, n)
            n_lonely = lonely_r.size + lonely_c.size
            if exact_fixes < 3 and n_lonely * max(m, n) * rows.shape[1] <= _EXACT_FIX_WORK:
                # Usually a few partners the (approximate) index missed: the rows a maximum
                # matching leaves over, and the columns no row lists, get their exact nearest
                # cells by brute force (cheap for a few cells, unlike a reverse index at 1M).
                k_fix = k_cur * 2**exact_fixes  # more each time, should the first not suffice
                added = graph.add(*_exact_edges(rows, cols, lonely_r, lonely_c, k_fix))
                exact_fixes += 1
                reason = (f"no full matching on the kNN graph: added the exact {k_fix} nearest cells "
                          f"of {lonely_r.size} unmatched rows and {lonely_c.size} unlisted columns")
            elif not reverse_added:
                # Many cells left over: every column's nearest rows bring the missed partners back
                # from the other side.
                rev, _ = knn_graph(cols, rows, k_cur, backend, random_state=rng, nprobe=nprobe)
                added = graph.add(rev.ravel(), np.repeat(np.arange(n), rev.shape[1]))
                reverse_added = True
                reason = (f"no full matching on the kNN graph ({lonely_r.size} rows left over): "
                          f"added each column's {k_cur} nearest rows")
            else:
                added = graph.add(*_pairing_edges(rows, cols, match))
                reason = ("no full matching on the kNN graph: added a 1-D pairing of the cells left "
                          "unmatched")
            rounds.append({"round": rnd, "n_edges": len(graph), "feasible": False,
                           "edges_added": added, "reason": reason})
            continue
        feasible = True
        if mode == "none":
            rounds.append({"round": rnd, "n_edges": len(graph), "feasible": True})
            break
        tc = time.perf_counter()
        # Tolerances relative to the costs (an absolute "+ 1" here made every potential stall at
        # data scales below ~1e-5, and the certificate fail on optimal matchings).
        scale = float(costs.max(initial=0.0))
        v, n_pot_rounds = _column_potentials(
            er, ec, costs, sigma, n, eps=1e-12 * scale + np.finfo(float).tiny
        )
        own = ec == sigma[er]
        u = np.empty(m)
        u[er[own]] = costs[own] - v[sigma[er[own]]]
        duals = (u, v)
        if sample is not None and n_bad > 0:
            # A fresh sample after every repair: re-checking the rows just fixed would say nothing
            # about the others, and the final bound must come from rows the repairs never saw.
            sample = np.sort(rng.choice(m, size=min(sample_size, m), replace=False))
        check = np.arange(m) if sample is None else sample
        n_free = 0
        if exact_knn:
            # Every column outside row i's k nearest costs at least its k-th neighbour's cost, and
            # -v >= 0: rows whose u stays below that (by a float32 margin) are certified for free.
            kth = _kth_cost(rows, cols, nbr, cost)
            margin = 1e-5 * (scale + float(np.abs(v).max(initial=0.0)))
            free = u[check] <= kth[check] - margin
            n_free = int(free.sum())
            check = check[~free]
        bad, adds, stats = _check_rows(
            rows, cols, check, sigma, u, v, cost, n_add=min(2 * k_cur * 2**n_bad, 512),
            progress=progress,
        )
        t_cert += time.perf_counter() - tc
        entry = {"round": rnd, "n_edges": len(graph), "feasible": True,
                 "rows_checked": int(check.size), "rows_free_by_knn_bound": n_free,
                 "violations": int(bad.size), "potential_rounds": n_pot_rounds, **stats}
        if bad.size == 0:
            certified = True
            rounds.append(entry)
            break
        added = graph.add(np.repeat(bad, [a.size for a in adds]), np.concatenate(adds))
        if sample is not None:
            # Violations in a random sample mean the graph misses edges all over: widen every row
            # (k and, for faiss-ivf, the lists probed double), not only the rows that were seen.
            k_cur, nprobe = int(min(2 * k_cur, n)), 2 * nprobe
            nbr, exact_knn = query_index(index, rows, k_cur, backend, nprobe=nprobe)
            added += graph.add(np.repeat(np.arange(m), nbr.shape[1]), nbr.ravel())
            entry["widened_all_rows_to_k"] = k_cur
        n_bad += 1
        entry["edges_added"] = added
        rounds.append(entry)
        certified = False
    if certified is False:
        warnings.warn(
            f"sparse matching: the certificate still failed after max_rounds={max_rounds}; the "
            "result may not be optimal (raise max_rounds or k, or use method='dense').",
            RuntimeWarning,
            stacklevel=3,
        )
    if sigma is None or np.any(sigma < 0):
        raise RuntimeError(
            f"sparse matching found no full matching on the candidate graph within max_rounds="
            f"{max_rounds}; raise k or max_rounds, or use method='dense'."
        )
    r_idx = np.arange(m)
    src_idx, tgt_idx = (sigma, r_idx) if swap else (r_idx, sigma)
    orig_src, orig_tgt = (cols, rows) if swap else (rows, cols)
    total = float(pair_costs(orig_src, orig_tgt, src_idx, tgt_idx, cost).sum())
    info: dict[str, Any] = {
        "solver": "lap.lapmod" if m == n else "scipy-lapjvsp",
        "knn": backend,
        "knn_exact": bool(exact_knn),
        "k": int(k),
        "k_final": int(k_cur),
        "n_edges": len(graph),
        "warm_start": None if warm is None else {
            "index_reused": bool(reuse), "previous_edges_added": int(warm_edges),
            "index_builds": int(warm.n_index_builds)},
        "certificate": mode,
        "certified": certified if mode != "none" else None,
        "widened": len(rounds) > 1,
        "n_rounds": len(rounds),
        "rounds": rounds,
        "seconds": {"knn": t_knn, "assignment": t_solve, "certificate": t_cert,
                    "total": time.perf_counter() - t0},
    }
    if mode == "sampled" and sample is not None:
        s = int(sample.size)
        info["n_sampled"] = s
        info["n_repaired_rows"] = int(sum(r.get("violations", 0) for r in rounds))
        # Clopper-Pearson 95 % upper bound on the fraction of rows with an improving pair, given that
        # the final round's sample (drawn after the last repair) showed none.
        info["violation_rate_upper95"] = float(1.0 - 0.05 ** (1.0 / s)) if certified else None
        info["note"] = (
            f"sampled certificate: {s} of {m} rows (a fresh sample after each repair) checked "
            f"against all {n} columns; optimality of the unchecked rows is not proven."
        )
    if warm is not None:
        warm.previous, warm.u, warm.v = sigma.copy(), *(duals or (None, None))
    u_src = v_tgt = None
    if duals is not None:  # rows' potentials belong to the smaller population
        u_src, v_tgt = (duals[1], duals[0]) if swap else duals
    return Matching(
        src_idx, tgt_idx, total, cost_name=cost, method="sparse", info=info,
        certified=certified if mode != "none" else None, u=u_src, v=v_tgt,
    )


def _lonely(match: np.ndarray, ec: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows a maximum matching (column of each row, -1 if none) leaves over, and columns with no edge."""
    listed = np.zeros(n, dtype=bool)
    listed[ec] = True
    return np.flatnonzero(match < 0), np.flatnonzero(~listed)


def _exact_edges(
    rows: np.ndarray, cols: np.ndarray, lonely_r: np.ndarray, lonely_c: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest columns of ``lonely_r`` and exact k nearest rows of ``lonely_c``."""
    from sklearn.neighbors import NearestNeighbors

    er_new, ec_new = [np.empty(0, np.int64)], [np.empty(0, np.int64)]
    if lonely_r.size:
        kk = min(k, cols.shape[0])
        nbr = NearestNeighbors(n_neighbors=kk, algorithm="brute").fit(cols)
        idx = nbr.kneighbors(rows[lonely_r], return_distance=False)
        er_new.append(np.repeat(lonely_r, kk))
        ec_new.append(idx.ravel())
    if lonely_c.size:
        kk = min(k, rows.shape[0])
        nbr = NearestNeighbors(n_neighbors=kk, algorithm="brute").fit(rows)
        idx = nbr.kneighbors(cols[lonely_c], return_distance=False)
        er_new.append(idx.ravel())
        ec_new.append(np.repeat(lonely_c, kk))
    return np.concatenate(er_new), np.concatenate(ec_new)


def _pairing_edges(
    rows: np.ndarray, cols: np.ndarray, match: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Edges that complete a maximum matching of the graph into a full one.

    Rows left unmatched by a maximum-cardinality matching of the graph are paired with unused
    columns in the order of their projections on the first principal axis (a 1-D transport
    plan). These edges can be expensive; the certificate then adds what the optimum needs.
    """
    n = cols.shape[0]
    free_r = np.flatnonzero(match < 0)
    used = np.zeros(n, dtype=bool)
    used[match[match >= 0]] = True
    free_c = np.flatnonzero(~used)
    _, _, vt = np.linalg.svd(np.vstack([rows[free_r], cols[free_c]]), full_matrices=False)
    pr = rows[free_r] @ vt[0]
    pc = cols[free_c] @ vt[0]
    r_sorted = free_r[np.argsort(pr, kind="stable")]
    c_sorted = free_c[np.argsort(pc, kind="stable")]
    pick = np.round(np.linspace(0, c_sorted.size - 1, r_sorted.size)).astype(np.int64)
    pairs_r = np.concatenate([r_sorted, np.flatnonzero(match >= 0)])
    pairs_c = np.concatenate([c_sorted[pick], match[match >= 0]])
    return pairs_r, pairs_c


def _kth_cost(rows: np.ndarray, cols: np.ndarray, nbr: np.ndarray, cost: str) -> np.ndarray:
    """Cost from each row to the farthest of its listed neighbours (its k-th nearest when exact)."""
    m, k = nbr.shape
    c = _edge_costs(rows, cols, np.repeat(np.arange(m), k), nbr.ravel(), cost).reshape(m, k)
    return c.max(axis=1)


def _edge_costs(
    rows: np.ndarray, cols: np.ndarray, er: np.ndarray, ec: np.ndarray, cost: str,
    chunk: int = 1 << 18,
) -> np.ndarray:
    """Exact cost of every edge, from direct differences, in chunks (memory ``O(chunk * d)``)."""
    out = np.empty(er.size)
    for s in range(0, er.size, chunk):
        out[s : s + chunk] = pair_costs(rows, cols, er[s : s + chunk], ec[s : s + chunk], cost)
    return out
