"""Trivial baselines that must appear in every comparison.

In the original study a no-change predictor beat the compact neural model at every synthetic grid
point, and nobody knew because it was never run. Any method worth using must beat these.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from trackability.models.base import PerturbationModel


class Identity(PerturbationModel):
    """Predicts no change: ``predict(x) = x``.

    Parameters
    ----------
    random_state
        Unused (the model is deterministic); kept for the common protocol.

    """

    _fitted_attributes: ClassVar[tuple[str, ...]] = ()

    def __init__(self, random_state: Any = 0) -> None:
        self.random_state = random_state

    def _fit(self, source: np.ndarray, target: np.ndarray) -> None:
        pass

    def _predict(self, source: np.ndarray) -> np.ndarray:
        return source.copy()


class MeanShift(PerturbationModel):
    """Adds the difference of the population means: ``predict(x) = x + (mean(target) - mean(source))``.

    Attributes
    ----------
    shift_
        The mean difference, shape (d,).

    """

    _fitted_attributes: ClassVar[tuple[str, ...]] = ("shift_",)

    def __init__(self, random_state: Any = 0) -> None:
        self.random_state = random_state

    def _fit(self, source: np.ndarray, target: np.ndarray) -> None:
        self.shift_ = target.mean(axis=0) - source.mean(axis=0)

    def _predict(self, source: np.ndarray) -> np.ndarray:
        return source + self.shift_
