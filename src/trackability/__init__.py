"""trackability: single-cell perturbation prediction from unpaired populations.

Subpackages are imported lazily so that ``import trackability`` stays fast and never pulls in
torch, anndata, dask or matplotlib:

- :mod:`trackability.data`: synthetic generators, dataset loaders, splits, preprocessing
- :mod:`trackability.matching`: optimal assignment between two cell populations
- :mod:`trackability.metrics`: MMD^2, energy distance, W2, mean R^2, recovery rate
- :mod:`trackability.diagnostics`: restricted isometry, Lipschitz rate, critical gap, regime
- :mod:`trackability.models`: Identity, MeanShift, LAOT, CellOT, CompactCellOT, ScGen
- :mod:`trackability.experiments`: phase-transition sweep, benchmark harness
- :mod:`trackability.plotting`: figures from result tables
- :mod:`trackability.tl` / :mod:`trackability.pl`: the AnnData front, scanpy style (``tk.tl.fit``,
  ``tk.tl.predict``, ``tk.tl.score``, ``tk.tl.diagnose``, ``tk.tl.match``; ``tk.pl.*`` plots)
"""

from __future__ import annotations

import importlib
from typing import Any

from trackability._version import __version__

_SUBMODULES = {
    "data", "matching", "metrics", "diagnostics", "models", "experiments", "plotting", "tl", "pl",
    "cli",
}

__all__ = ["__version__", *sorted(_SUBMODULES)]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"trackability.{name}")
    raise AttributeError(f"module 'trackability' has no attribute {name!r}")
