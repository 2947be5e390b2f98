"""Run pertpy's ``Scgen`` (JAX scGen, pertpy 1.4.0) on the harness's exported splits.

Runs in pertpy's own virtual environment (Python >= 3.12; ``pip install "pertpy[scgen]==1.4.0"``
installs JAX/flax and no torch; see ``docs/peers.md`` and ``make peers-scgen``); needs only numpy,
anndata, pandas and pertpy there, not trackability. For every exported split it trains one scGen
model on the training cells (control and treated, every context) and writes its prediction of the
test control cells to ``PRED/<task>/seed<seed>.npy`` with a manifest entry (tool, version, CPU
seconds, parameters), for the harness's ``external`` method to score.

Setup, as in scGen's own held-out cell type protocol and pertpy's tutorial: the condition
(control / stimulated) is the batch key, the context (cell type) the label key; the held-out
type's treated cells are absent from the training split (the harness never exports them), its
control cells are present. ``predict(adata_to_predict=...)`` shifts the test control cells by the
latent difference of the (cell-type balanced) treated and control training means. The network and
training settings are pertpy's defaults and its tutorial's (``SETTINGS`` below, in the manifest).

pertpy 1.4.0 draws its balancing and subsampling indices from an unseeded
``np.random.default_rng()``; so that the same seed gives the same prediction, this script seeds
those calls from the split's seed (``_seeded_default_rng``), recorded as ``rng_shim`` in the
manifest.

    python benchmarks/peers/run_pertpy_scgen.py SPLITS PRED [--tasks kang/CD4T] [--seeds 0]
"""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peer_io import run_peer  # noqa: E402

SETTINGS = {
    "n_hidden": 800,
    "n_latent": 100,
    "n_layers": 2,
    "dropout_rate": 0.2,
    "max_epochs": 100,
    "batch_size": 32,
    "early_stopping": True,
    "early_stopping_patience": 25,
}


@contextlib.contextmanager
def _seeded_default_rng(seed: int):
    """Make unseeded ``np.random.default_rng()`` calls reproducible inside the block."""
    original = np.random.default_rng
    seq = np.random.SeedSequence(seed)

    def default_rng(s=None):
        return original(seq.spawn(1)[0] if s is None else s)

    np.random.default_rng = default_rng
    try:
        yield
    finally:
        np.random.default_rng = original


def _adata(arrays: dict, info: dict):
    import anndata as ad
    import pandas as pd

    labels = info["labels"]
    xs, xt = arrays["source_train"], arrays["target_train"]
    ls = list(labels.get("source_train", ["all"] * xs.shape[0]))
    lt = list(labels.get("target_train", ["all"] * xt.shape[0]))
    x = np.vstack([xs, xt]).astype(np.float32)
    obs = pd.DataFrame({
        "condition": pd.Categorical(["control"] * xs.shape[0] + ["stimulated"] * xt.shape[0]),
        "cell_type": pd.Categorical(ls + lt),
    }, index=[f"c{i}" for i in range(x.shape[0])])
    return ad.AnnData(X=x, obs=obs)


def fit_predict(arrays: dict, info: dict, seed: int) -> tuple[np.ndarray, dict]:
    """Train pertpy's Scgen on one split and predict its test control cells."""
    import anndata as ad
    import jax
    import pandas as pd
    import pertpy as pt

    adata = _adata(arrays, info)
    test_ctx = info["labels"].get("source_test", ["all"] * arrays["source_test"].shape[0])
    with _seeded_default_rng(seed):
        t0, c0 = time.perf_counter(), time.process_time()
        pt.tl.Scgen.setup_anndata(adata, batch_key="condition", labels_key="cell_type")
        model = pt.tl.Scgen(adata, n_hidden=SETTINGS["n_hidden"], n_latent=SETTINGS["n_latent"],
                            n_layers=SETTINGS["n_layers"], dropout_rate=SETTINGS["dropout_rate"])
        model.train(max_epochs=SETTINGS["max_epochs"], batch_size=SETTINGS["batch_size"],
                    early_stopping=SETTINGS["early_stopping"],
                    early_stopping_patience=SETTINGS["early_stopping_patience"], seed=seed)
        fit_wall, fit_cpu = time.perf_counter() - t0, time.process_time() - c0
        xs = arrays["source_test"].astype(np.float32)
        obs = pd.DataFrame({"condition": pd.Categorical(["control"] * xs.shape[0]),
                            "cell_type": pd.Categorical(test_ctx)},
                           index=[f"t{i}" for i in range(xs.shape[0])])
        query = ad.AnnData(X=xs, obs=obs)
        pred_adata, _ = model.predict(ctrl_key="control", stim_key="stimulated",
                                      adata_to_predict=query)
    pred = np.asarray(pred_adata.X, dtype=np.float64)
    n_params = int(sum(np.size(p) for p in jax.tree_util.tree_leaves(model.params)))
    epochs = len(next(iter(model.history.values()), [])) if model.history else None
    return pred, {"fit_seconds": fit_wall, "fit_cpu_seconds": fit_cpu,
                  "n_parameters": n_params, "epochs": epochs}


def main() -> None:
    run_peer(fit_predict, tool="pertpy", distribution="pertpy",
             settings={**SETTINGS, "rng_shim": "np.random.default_rng seeded"},
             description=__doc__.splitlines()[0])


if __name__ == "__main__":
    main()
