"""Trackability diagnostics: whether the measurement gap is short enough to track cells.

Numpy-only, cells as rows. From the control cells and the gap it computes the restricted-isometry
constant ``delta`` (:func:`rip_constant`), the Lipschitz rate in time ``L`` (:func:`lipschitz_rate`),
the critical gap ``Delta = sqrt((1 - delta) / (2 n L^2))`` (:func:`critical_gap`) and the regime
(:func:`regime`), all together in :func:`diagnose`. :func:`assignment_margins` and
:func:`certify_matching` certify a fitted matching cell by cell; :func:`max_cells_for_gap` and
:func:`max_gap_for_cells` plan an experiment. :func:`estimate_recoverability` predicts the fraction
of cells an exact matching recovers (a calibrated planted-matching bootstrap),
:func:`estimate_recoverability_course` the same from a time course (fitted step by step and
composed), :func:`estimate_recoverability_windows` for states that are windows of consecutive
frames, and :func:`measured_recovery` measures it on tracked cells.
"""

from trackability.diagnostics.certificates import (
    MatchingCertificate,
    assignment_margins,
    bootstrap_stability,
    certify_matching,
)
from trackability.diagnostics.critical import (
    BORDERLINE,
    REGIMES,
    critical_gap,
    max_cells_for_gap,
    max_gap_for_cells,
    regime,
)
from trackability.diagnostics.lipschitz import (
    LipschitzEstimate,
    lipschitz_from_map,
    lipschitz_from_timecourse,
    lipschitz_rate,
)
from trackability.diagnostics.recoverability import (
    RecoverabilityEstimate,
    estimate_recoverability,
    estimate_recoverability_course,
    estimate_recoverability_windows,
    expected_calibration_error,
)
from trackability.diagnostics.report import TrackabilityReport, diagnose
from trackability.diagnostics.rip import (
    RIPResult,
    Separation,
    min_separation,
    pair_gram_eigenvalues,
    rip,
    rip_constant,
)
from trackability.diagnostics.tracks import measured_recovery, window_states

__all__ = [
    "BORDERLINE",
    "REGIMES",
    "LipschitzEstimate",
    "MatchingCertificate",
    "RIPResult",
    "RecoverabilityEstimate",
    "Separation",
    "TrackabilityReport",
    "assignment_margins",
    "bootstrap_stability",
    "certify_matching",
    "critical_gap",
    "diagnose",
    "estimate_recoverability",
    "estimate_recoverability_course",
    "estimate_recoverability_windows",
    "expected_calibration_error",
    "lipschitz_from_map",
    "lipschitz_from_timecourse",
    "lipschitz_rate",
    "max_cells_for_gap",
    "max_gap_for_cells",
    "measured_recovery",
    "min_separation",
    "pair_gram_eigenvalues",
    "regime",
    "rip",
    "rip_constant",
    "window_states",
]
