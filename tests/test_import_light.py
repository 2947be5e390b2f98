"""``import trackability`` and its numpy layers must not pull in the heavy optional dependencies."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "anndata", "dask", "distributed", "matplotlib")


def _loaded_after(code: str) -> dict[str, bool]:
    """Run ``code`` in a fresh interpreter and report which heavy modules ended up imported."""
    probe = (
        f"{code}\nimport json, sys\n"
        f"print(json.dumps({{m: m in sys.modules for m in {list(HEAVY)!r}}}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_probe_detects_a_heavy_import():
    """The check itself works: importing matplotlib directly is seen."""
    assert _loaded_after("import matplotlib")["matplotlib"]


@pytest.mark.parametrize(
    "code",
    [
        "import trackability",
        "import trackability, trackability.matching, trackability.metrics, "
        "trackability.models, trackability.data",
        # touching the names users need first must stay light as well
        "from trackability.models import LAOT, Identity, MeanShift\n"
        "from trackability.matching import assign\n"
        "from trackability.metrics import mmd2, median_heuristic_gamma\n"
        "from trackability.data import near_identity, seed_faithful\n"
        "import numpy as np\n"
        "p = near_identity(30, 3, 1.0, random_state=0)\n"
        "LAOT().fit(p.control, p.treated).predict(p.control)\n"
        "mmd2(p.control, p.treated)",
    ],
    ids=["package", "numpy-layers", "fit-and-score"],
)
def test_light_imports(code):
    loaded = _loaded_after(code)
    assert not any(loaded.values()), f"heavy modules imported: {[m for m, v in loaded.items() if v]}"


def test_pot_metrics_do_not_pull_in_torch():
    """POT probes torch at import; our numpy-only uses of it must not pay for that."""
    loaded = _loaded_after(
        "import numpy as np\n"
        "from trackability.metrics import wasserstein2\n"
        "from trackability.matching import assign\n"
        "x = np.random.default_rng(0).normal(size=(20, 3))\n"
        "wasserstein2(x, x + 1.0)\n"
        "assign(x, x[::-1], method='entropic')"
    )
    assert not loaded["torch"]
