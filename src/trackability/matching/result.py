"""The result types of the matching solvers: a one-to-one Matching and a soft TransportPlan.

The exact solvers (``dense``, ``sparse``) return a :class:`Matching`: every cell of the smaller
population paired with a distinct cell of the larger one. The entropic solver returns a
:class:`TransportPlan`: mass spread over many targets, with a barycentric target per source cell.
A plan is not a matching (its row-wise argmax can repeat), so it has no ``target`` column and
cannot be used where a partner per cell is expected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Matching:
    """A one-to-one assignment between source cells and target cells.

    Source cell ``source[k]`` is matched to target cell ``target[k]``. Every cell of the smaller
    population appears exactly once; cells of the larger population appear at most once (checked:
    repeated indices are an error).

    Attributes
    ----------
    source, target
        Integer index arrays of equal length ``min(n_source, n_target)``, sorted by ``source``.
    total_cost
        Total cost of the matched pairs, under the cost function named in ``cost_name``
        (``cost`` is an alias).
    cost_name
        ``"sqeuclidean"`` or ``"euclidean"``.
    method
        The solver that produced it (``"dense"``, ``"sparse"``).
    info
        Solver diagnostics (certificates, widened neighbourhoods, timings, ...).
    certified
        Whether a dual certificate proved the matching optimal among all one-to-one matchings:
        True, False (the check found an improving pair it could not repair), or None (not
        checked: the dense solvers are exact by construction and carry no certificate).
    u, v
        Dual potentials, where the solver computes them (``sparse``): ``u`` per source cell,
        ``v`` per target cell, with ``c_ij - u_i - v_j = 0`` on matched pairs and ``>= 0`` on every
        pair the certificate checked. None otherwise. Not saved with a model and not compared.

    """

    source: np.ndarray
    target: np.ndarray
    total_cost: float
    cost_name: str = "sqeuclidean"
    method: str = "dense"
    info: dict[str, Any] = field(default_factory=dict)
    certified: bool | None = None
    u: np.ndarray | None = field(default=None, repr=False, compare=False)
    v: np.ndarray | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        src = np.asarray(self.source, dtype=np.int64)
        tgt = np.asarray(self.target, dtype=np.int64)
        if src.shape != tgt.shape or src.ndim != 1:
            raise ValueError(
                f"source and target index arrays must be 1-D of equal length; got shapes "
                f"{src.shape} and {tgt.shape}."
            )
        for name, idx in (("source", src), ("target", tgt)):
            srt = np.sort(idx)  # not np.unique: numpy 2's hashing took ~1 s at 1M cells
            if np.any(srt[1:] == srt[:-1]):
                raise ValueError(
                    f"a Matching is one-to-one, but its {name} indices repeat; a soft plan is a "
                    "TransportPlan."
                )
        order = np.argsort(src, kind="stable")
        object.__setattr__(self, "source", src[order])
        object.__setattr__(self, "target", tgt[order])
        object.__setattr__(self, "total_cost", float(self.total_cost))
        if self.certified is not None:
            object.__setattr__(self, "certified", bool(self.certified))

    @property
    def cost(self) -> float:
        """Alias of :attr:`total_cost`."""
        return self.total_cost

    @property
    def optimal(self) -> bool | None:
        """Whether the matching is known to be optimal: exact dense solvers, or a certificate."""
        if self.method == "dense":
            return True
        return self.certified

    def __len__(self) -> int:
        return int(self.source.size)

    def target_of(self, n_source: int) -> np.ndarray:
        """Array of length ``n_source``: the matched target of each source cell, -1 if unmatched."""
        out = np.full(n_source, -1, dtype=np.int64)
        out[self.source] = self.target
        return out

    def source_of(self, n_target: int) -> np.ndarray:
        """Array of length ``n_target``: the matched source of each target cell, -1 if unmatched."""
        out = np.full(n_target, -1, dtype=np.int64)
        out[self.target] = self.source
        return out

    def same_pairs(self, other: Matching) -> bool:
        """Whether two matchings pair the same cells (sorted by source, so a plain comparison)."""
        return bool(
            self.source.shape == other.source.shape
            and np.array_equal(self.source, other.source)
            and np.array_equal(self.target, other.target)
        )

    def n_changed(self, other: Matching | None) -> int:
        """Number of source cells whose partner differs from ``other`` (all of them if None)."""
        if other is None:
            return len(self)
        n = int(max(self.source.max(initial=-1), other.source.max(initial=-1))) + 1
        return int(np.sum(self.target_of(n)[self.source] != other.target_of(n)[self.source]))

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python form (for JSON / saving)."""
        return {
            "source": self.source.tolist(),
            "target": self.target.tolist(),
            "cost": self.total_cost,
            "cost_name": self.cost_name,
            "method": self.method,
            "certified": self.certified,
        }


@dataclass(frozen=True)
class TransportPlan:
    """A soft transport plan (entropic optimal transport) between two populations.

    Attributes
    ----------
    plan
        Array (n_source, n_target): the mass sent from each source cell to each target cell
        (uniform marginals ``1 / n``).
    barycentric
        Array (n_source, d): each source cell's barycentric target ``sum_j P_ij y_j / sum_j P_ij``,
        what LAOT's least-squares step pairs it with.
    total_cost
        ``n_source * <P, C>``: the plan's transport cost with one unit of mass per source cell
        (for equal sizes comparable with a hard matching's total; ``cost`` is an alias).
    cost_name, method, info
        As for :class:`Matching` (``method="entropic"``).

    There is no ``target``: a plan has no single partner per cell. :meth:`mode_target` gives the
    row-wise argmax for inspection (it can repeat).

    """

    plan: np.ndarray = field(repr=False)
    barycentric: np.ndarray = field(repr=False)
    total_cost: float
    cost_name: str = "sqeuclidean"
    method: str = "entropic"
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        plan = np.asarray(self.plan, dtype=np.float64)
        bary = np.asarray(self.barycentric, dtype=np.float64)
        if plan.ndim != 2:
            raise ValueError(f"plan must be 2-D (n_source, n_target); got shape {plan.shape}.")
        if bary.ndim != 2 or bary.shape[0] != plan.shape[0]:
            raise ValueError(
                f"barycentric must have one row per source cell ({plan.shape[0]}); got shape "
                f"{bary.shape}."
            )
        object.__setattr__(self, "plan", plan)
        object.__setattr__(self, "barycentric", bary)
        object.__setattr__(self, "total_cost", float(self.total_cost))

    @property
    def cost(self) -> float:
        """Alias of :attr:`total_cost`."""
        return self.total_cost

    @property
    def source(self) -> np.ndarray:
        """Every source cell, ``arange(n_source)`` (each has a barycentric target)."""
        return np.arange(self.plan.shape[0])

    @property
    def certified(self) -> None:
        """Always None: a soft plan is not an optimal one-to-one matching and has no certificate."""
        return None

    def mode_target(self) -> np.ndarray:
        """The most likely target of each source cell (row-wise argmax of the plan; can repeat)."""
        return self.plan.argmax(axis=1)

    def __len__(self) -> int:
        return int(self.plan.shape[0])

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python summary (the plan itself is not included)."""
        return {
            "n_source": int(self.plan.shape[0]),
            "n_target": int(self.plan.shape[1]),
            "cost": self.total_cost,
            "cost_name": self.cost_name,
            "method": self.method,
        }
