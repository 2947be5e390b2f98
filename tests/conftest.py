"""Shared fixtures. Real-data tests read ``$TRACKABILITY_DATA`` (default ``../shared/data``).

Where the data are absent the tests skip with the reason, except when ``TRACKABILITY_REQUIRE_DATA=1``
(set by ``.ci/run``), where their absence is a failure.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"

os.environ.setdefault("TRACKABILITY_PROGRESS", "0")
os.environ.setdefault("MPLBACKEND", "Agg")


def _data_root() -> Path:
    return Path(os.environ.get("TRACKABILITY_DATA") or DEFAULT_DATA)


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """Folder with the public data sets; skip (or fail in CI) when it is missing."""
    root = _data_root()
    required = ("kang2018", "sachs2005", "colo858_4i")
    missing = [name for name in required if not (root / name).exists()]
    if missing:
        msg = f"real data not found under {root} (missing {missing}); set TRACKABILITY_DATA"
        if os.environ.get("TRACKABILITY_REQUIRE_DATA") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    os.environ["TRACKABILITY_DATA"] = str(root)
    return root


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)
