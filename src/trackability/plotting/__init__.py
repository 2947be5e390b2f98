"""Figures from result tables (matplotlib, imported on first use); never computes a metric itself."""

from __future__ import annotations

import importlib
from typing import Any

#: Public plotting functions and the module that defines each (imported lazily).
_LAZY = {
    "plot_method_comparison": "trackability.plotting.benchmark",
    "plot_metric_vs_gap": "trackability.plotting.benchmark",
    "plot_metric_panels": "trackability.plotting.comparison",
    "plot_phase_heatmap": "trackability.plotting.phase",
    "plot_recovery_curves": "trackability.plotting.phase",
    "plot_nfkb_phase": "trackability.plotting.diagnostics",
    "plot_phase_with_delta": "trackability.plotting.diagnostics",
    "plot_trackable_region": "trackability.plotting.diagnostics",
    "plot_training_dynamics": "trackability.plotting.training",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'trackability.plotting' has no attribute {name!r}")
