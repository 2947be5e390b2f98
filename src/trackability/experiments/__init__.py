"""Experiments: the phase-transition sweep, the benchmark harness, and their parallel backends."""

from trackability.experiments.parallel import BACKENDS, run_jobs
from trackability.experiments.phase_transition import ORIGINAL_LAOT, phase_transition

#: Benchmark harness names, imported on first use (pydantic, pandas) to keep this import light.
_LAZY = {
    "run_benchmark": "trackability.experiments.bench",
    "load_config": "trackability.experiments.config",
    "BenchConfig": "trackability.experiments.config",
    "summarize": "trackability.experiments.tables",
    "pivot": "trackability.experiments.tables",
    "write_report": "trackability.experiments.report",
}

__all__ = ["BACKENDS", "ORIGINAL_LAOT", "phase_transition", "run_jobs", *_LAZY]


def __getattr__(name: str):
    """Lazily import the benchmark harness names listed in ``_LAZY``."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'trackability.experiments' has no attribute {name!r}")
