"""Experiments: the phase-transition sweep, the benchmark harness, and their parallel backends."""

from trackability.experiments.parallel import BACKENDS, run_jobs
from trackability.experiments.phase_transition import ORIGINAL_LAOT, phase_transition

__all__ = ["BACKENDS", "ORIGINAL_LAOT", "phase_transition", "run_jobs"]
