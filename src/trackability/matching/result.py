"""The one result type of every matching solver."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Matching:
    """A one-to-one assignment between source cells and target cells.

    Source cell ``source[k]`` is matched to target cell ``target[k]``. Every cell of the smaller
    population appears exactly once; cells of the larger population appear at most once.

    Attributes
    ----------
    source, target
        Integer index arrays of equal length ``min(n_source, n_target)``, sorted by ``source``.
    cost
        Total cost of the matched pairs, under the cost function named in ``cost_name``.
    cost_name
        ``"sqeuclidean"`` or ``"euclidean"``.
    method
        The solver that produced it (``"dense"``, ...).
    info
        Solver diagnostics (certificates, widened neighbourhoods, timings, ...).
    barycentric
        Only for soft plans (``method="entropic"``): the barycentric target of every listed source
        cell, shape (len, d), which LAOT's least-squares step uses instead of ``target``. Not
        saved with a model and not compared by ``same_pairs``.

    """

    source: np.ndarray
    target: np.ndarray
    cost: float
    cost_name: str = "sqeuclidean"
    method: str = "dense"
    info: dict[str, Any] = field(default_factory=dict)
    barycentric: np.ndarray | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        src = np.asarray(self.source, dtype=np.int64)
        tgt = np.asarray(self.target, dtype=np.int64)
        if src.shape != tgt.shape or src.ndim != 1:
            raise ValueError(
                f"source and target index arrays must be 1-D of equal length; got shapes "
                f"{src.shape} and {tgt.shape}."
            )
        order = np.argsort(src, kind="stable")
        object.__setattr__(self, "source", src[order])
        object.__setattr__(self, "target", tgt[order])
        if self.barycentric is not None:
            bary = np.asarray(self.barycentric, dtype=np.float64)
            if bary.ndim != 2 or bary.shape[0] != src.size:
                raise ValueError(
                    f"barycentric must have one row per pair ({src.size}); got shape {bary.shape}."
                )
            object.__setattr__(self, "barycentric", bary[order])
        object.__setattr__(self, "cost", float(self.cost))

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
            "cost": self.cost,
            "cost_name": self.cost_name,
            "method": self.method,
        }
