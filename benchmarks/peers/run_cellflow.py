"""Run CellFlow (``cellflow-tools``, flow matching in JAX) on the harness's exported splits.

Runs in CellFlow's own virtual environment (see ``docs/peers.md`` and ``make peers``); needs only
numpy, anndata, pandas and cellflow there, not trackability. For every exported split it trains
one CellFlow model on the training cells and writes its prediction of the test control cells to
``PRED/<task>/seed<seed>.npy`` with a manifest entry (tool, version, CPU seconds, parameters), for
the harness's ``external`` method to score.

Setup, as for the held-out cell type of the scGen task: the perturbation is a boolean covariate
(treated or not); the context (cell type) is a sample covariate whose representation is the mean
of that context's training control cells (the same descriptor our FlowMatching uses), and the
control cells are split by context (``split_covariates``), so each context's treated cells are
paired with its own control cells. The network is shrunk to CPU size (CellFlow's defaults are
2,048-4,096 units per layer for GPUs); the settings are the constants below and go into the
manifest.

    python benchmarks/peers/run_cellflow.py SPLITS PRED [--tasks kang/CD4T] [--seeds 0]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peer_io import run_peer  # noqa: E402

SETTINGS = {
    "solver": "otfm",
    "condition_embedding_dim": 32,
    "time_freqs": 64,
    "time_encoder_dims": (128, 128),
    "hidden_dims": (256, 256),
    "decoder_dims": (256, 256),
    "lr": 1e-4,
    "num_iterations": 3000,
    "batch_size": 256,
    "pooling": "mean",
    "cond_output_dropout": 0.0,
}


def _adata(arrays: dict, info: dict):
    import anndata as ad
    import pandas as pd

    labels = info["labels"]
    xs_all, xt = arrays["source_train"], arrays["target_train"]
    ls_all = np.asarray(labels.get("source_train", ["all"] * xs_all.shape[0]))
    lt = labels.get("target_train", ["all"] * xt.shape[0])
    # CellFlow needs a treated population for every control population it trains on: a context
    # with control cells only (the held-out type) enters through its representation alone
    reps = {c: xs_all[ls_all == c].mean(axis=0).astype(np.float32) for c in sorted(set(ls_all))}
    keep = np.isin(ls_all, sorted(set(lt)))
    xs, ls = xs_all[keep], ls_all[keep].tolist()
    x = np.vstack([xs, xt]).astype(np.float32)
    obs = pd.DataFrame({
        "control": np.r_[np.ones(xs.shape[0], bool), np.zeros(xt.shape[0], bool)],
        "treated": np.r_[np.zeros(xs.shape[0], bool), np.ones(xt.shape[0], bool)],
        "context": pd.Categorical(list(ls) + list(lt)),
    }, index=[f"c{i}" for i in range(x.shape[0])])
    adata = ad.AnnData(X=np.zeros((x.shape[0], 1), np.float32), obs=obs)
    adata.obsm["X_rep"] = x
    adata.uns["context_reps"] = reps
    return adata


def fit_predict(arrays: dict, info: dict, seed: int) -> tuple[np.ndarray, dict]:
    """Train CellFlow on one split and predict its test control cells."""
    import anndata as ad
    import cellflow
    import jax
    import optax
    import pandas as pd

    adata = _adata(arrays, info)
    test_ctx = info["labels"].get("source_test", ["all"] * arrays["source_test"].shape[0])
    contexts = sorted(set(test_ctx))
    if len(contexts) != 1:
        raise ValueError(f"{info['task']}: expected one test context, got {contexts}.")
    t0, c0 = time.perf_counter(), time.process_time()
    cf = cellflow.model.CellFlow(adata, solver=SETTINGS["solver"])
    cf.prepare_data(
        sample_rep="X_rep", control_key="control",
        perturbation_covariates={"treatment": ("treated",)},
        sample_covariates=["context"], sample_covariate_reps={"context": "context_reps"},
        split_covariates=["context"],
    )
    cf.prepare_model(
        condition_embedding_dim=SETTINGS["condition_embedding_dim"],
        cond_output_dropout=SETTINGS["cond_output_dropout"], pooling=SETTINGS["pooling"],
        time_freqs=SETTINGS["time_freqs"], time_encoder_dims=SETTINGS["time_encoder_dims"],
        hidden_dims=SETTINGS["hidden_dims"], decoder_dims=SETTINGS["decoder_dims"],
        optimizer=optax.adam(SETTINGS["lr"]), seed=seed,
    )
    cf.train(num_iterations=SETTINGS["num_iterations"], batch_size=SETTINGS["batch_size"],
             valid_freq=SETTINGS["num_iterations"] + 1)
    fit_wall, fit_cpu = time.perf_counter() - t0, time.process_time() - c0
    n_params = int(sum(np.size(p) for p in jax.tree_util.tree_leaves(cf.solver.vf_state.params)))
    xs = arrays["source_test"].astype(np.float32)
    obs = pd.DataFrame({"control": True, "treated": False, "context": pd.Categorical(test_ctx)},
                       index=[f"t{i}" for i in range(xs.shape[0])])
    query = ad.AnnData(X=np.zeros((xs.shape[0], 1), np.float32), obs=obs)
    query.obsm["X_rep"] = xs
    query.uns["context_reps"] = adata.uns["context_reps"]  # predict reads reps from the query
    cov = pd.DataFrame({"control": [False], "treated": [True],
                        "context": pd.Categorical(contexts), "cid": ["pred"]})
    out = cf.predict(query, covariate_data=cov, sample_rep="X_rep", condition_id_key="cid")
    pred = np.asarray(out["pred"], dtype=np.float64)
    return pred, {"fit_seconds": fit_wall, "fit_cpu_seconds": fit_cpu, "n_parameters": n_params}


def main() -> None:
    run_peer(fit_predict, tool="cellflow-tools", distribution="cellflow-tools",
             settings={k: list(v) if isinstance(v, tuple) else v for k, v in SETTINGS.items()},
             description=__doc__.splitlines()[0])


if __name__ == "__main__":
    main()
