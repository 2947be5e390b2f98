"""Import POT (Python Optimal Transport) without its optional deep-learning backends.

POT probes torch, JAX, CuPy and TensorFlow at import time. With torch installed (the ``neural``
extra) that alone costs seconds per process, and we only ever call POT on numpy arrays, so the
backends are switched off unless the user has set the variables already.
"""

from __future__ import annotations

import os
from types import ModuleType

_BACKENDS = ("PYTORCH", "JAX", "CUPY", "TENSORFLOW")


def import_ot() -> ModuleType:
    """Return the ``ot`` module, importing it with the numpy backend only (if not yet imported)."""
    for name in _BACKENDS:
        os.environ.setdefault(f"POT_BACKEND_DISABLE_{name}", "1")
    import ot

    return ot
