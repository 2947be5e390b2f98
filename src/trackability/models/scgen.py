"""scGen (Lotfollahi et al., Nature Methods 2019): latent vector arithmetic in a VAE.

A variational auto-encoder is trained on control and treated cells together. The perturbation is
the difference ``delta`` between the mean latent codes of treated and control cells (after
balancing cell types by resampling); a control cell is predicted by decoding its latent code plus
``delta``.

The network, loss, optimiser and training schedule follow the scvi-tools release of scGen
(``theislab/scgen``: ``_scgenvae.py``, ``_scgen.py``, ``_utils.balancer``) and the scvi-tools
defaults it trains with. That release no longer imports with current scvi-tools, so this is a
self-contained PyTorch version; the differences are listed in ``docs/neural.md``.

torch is imported only inside functions (the ``neural`` extra).
"""

from __future__ import annotations

import functools
import time
from typing import Any, ClassVar

import numpy as np

from trackability._progress import progress_bar
from trackability._validation import check_positive, check_random_state
from trackability.metrics import median_heuristic_gamma, mmd2
from trackability.models._torch import (
    check_flag,
    check_fraction,
    check_int,
    check_label_vector,
    check_threads,
    copy_state,
    numpy_to_state,
    require_torch,
    seed_from,
    split_validation,
    state_to_numpy,
    torch_session,
)
from trackability.models.base import PerturbationModel

#: Cells per population used to monitor MMD^2 on the validation split.
MONITOR_CELLS = 1000
_PREDICT_BATCH = 4096
_VAR_EPS = 1e-4


def default_epochs(n_cells: int) -> int:
    """scvi-tools' epoch rule: ``min(round(20000 / n_cells * 400), 400)``."""
    return int(min(round(20000 / max(int(n_cells), 1) * 400), 400))


@functools.cache
def _vae_class() -> type:
    torch = require_torch("ScGen")
    nn = torch.nn

    def block(n_in: int, n_out: int, dropout: float) -> list:
        return [
            nn.Linear(n_in, n_out),
            nn.BatchNorm1d(n_out, eps=1e-3, momentum=0.01),
            nn.LeakyReLU(0.01),
            nn.Dropout(p=dropout),
        ]

    class VAE(nn.Module):
        """The scGen VAE.

        Encoder ``n_layers x [Linear, BatchNorm, LeakyReLU, Dropout]`` to a Gaussian latent
        (variance ``exp(.) + 1e-4``); the decoder mirrors it and ends in a Linear layer with no
        output activation.
        """

        def __init__(self, d: int, n_hidden: int, n_latent: int, n_layers: int, dropout: float):
            super().__init__()
            enc: list = []
            for i in range(n_layers):
                enc += block(d if i == 0 else n_hidden, n_hidden, dropout)
            self.encoder = nn.Sequential(*enc)
            self.mean = nn.Linear(n_hidden, n_latent)
            self.log_var = nn.Linear(n_hidden, n_latent)
            dec: list = []
            for i in range(n_layers):
                dec += block(n_latent if i == 0 else n_hidden, n_hidden, dropout)
            self.decoder = nn.Sequential(*dec, nn.Linear(n_hidden, d))

        def encode(self, x: Any) -> tuple[Any, Any]:
            h = self.encoder(x)
            return self.mean(h), torch.exp(self.log_var(h)) + _VAR_EPS

        def decode(self, z: Any) -> Any:
            return self.decoder(z)

        def loss(self, x: Any, kl_weight: float) -> Any:
            """Per-cell ``0.5 * sum (x - x_hat)^2 + 0.5 * kl_weight * KL(q(z|x) | N(0, I))``."""
            mu, var = self.encode(x)
            z = mu + torch.sqrt(var) * torch.randn_like(mu)
            recon = ((self.decode(z) - x) ** 2).sum(dim=1)
            kl = 0.5 * (var + mu * mu - 1.0 - torch.log(var)).sum(dim=1)
            return 0.5 * recon + 0.5 * kl_weight * kl

    return VAE


def balanced_indices(labels: np.ndarray | None, n: int, rng: np.random.Generator) -> np.ndarray:
    """Balance cell types as scGen's ``balancer`` does.

    Every cell type is resampled (with replacement) to the size of the largest one.

    With no labels, or a single label, all ``n`` rows are returned unchanged.
    """
    if labels is None:
        return np.arange(n)
    classes, inverse = np.unique(labels, return_inverse=True)
    if classes.size == 1:
        return np.arange(n)
    counts = np.bincount(inverse)
    size = int(counts.max())
    return np.concatenate(
        [rng.choice(np.flatnonzero(inverse == k), size=size, replace=True) for k in range(classes.size)]
    )


def _check_labels(labels: Any, n: int, name: str) -> np.ndarray | None:
    arr = check_label_vector(labels, n, name, "cell-type label")
    if arr is None:
        return None
    if arr.dtype == object or arr.dtype.kind in "US":
        if any(v is None or (isinstance(v, float) and np.isnan(v)) for v in arr.tolist()):
            raise ValueError(f"{name} contains missing labels (None/NaN); label every cell.")
        return arr.astype(str)
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN/inf labels; label every cell.")
    return arr


class ScGen(PerturbationModel):
    """scGen: VAE latent arithmetic, ``predict(x) = decode(encode(x) + delta)``.

    Parameters
    ----------
    n_latent, n_hidden, n_layers, dropout
        Latent size (100), hidden width (800), hidden layers per side (2) and dropout rate (0.2),
        the published defaults. :meth:`protein_panel` gives the original study's preset for small
        protein panels (50, 256, 2, 0.2, lr 5e-4, batch 64).
    kl_weight
        Weight of the KL term: per-cell loss ``0.5 * SSE + 0.5 * kl_weight * KL`` (5e-5).
    lr, weight_decay, adam_eps
        Adam settings (1e-3, 1e-6, 0.01: scvi-tools' defaults that scGen trains with).
    batch_size
        Cells per mini-batch (128).
    max_epochs
        Cap on epochs; None: ``min(round(20000 / n_cells * 400), 400)`` as scvi-tools.
    validation_fraction
        Fraction of each population held out (seeded) for the validation loss, early stopping and
        the monitored MMD^2 (0.1 as scvi-tools' ``train_size=0.9``).
    early_stopping
        Stop when the validation loss has not improved by more than ``min_delta`` for
        ``patience`` epochs, and restore the weights of the best epoch (default True; the
        original trains for all epochs and keeps the last weights).
    patience
        Epochs without improvement before stopping (25).
    min_delta
        Smallest decrease of the validation loss (mean per cell) that counts as an improvement.
    eval_every
        Compute the validation MMD^2 every this many epochs (and at the last one).
    n_threads
        torch CPU threads inside ``fit``/``predict`` (None: the measured fastest).
    random_state
        Seed for initialisation, split, batches, sampling, dropout and cell-type balancing.
    progress
        Progress bar over epochs.

    Attributes
    ----------
    delta_ : ndarray of shape (n_latent,)
        Mean latent code of (balanced) treated minus control cells.
    history_ : pandas.DataFrame
        One row per epoch: ``step`` (the epoch), ``train_loss``, ``val_score`` (the validation
        loss that early stopping watches), ``val_loss`` (mean per-cell loss), ``val_mmd2``
        (MMD^2 between predicted validation control cells and validation treated cells, every
        ``eval_every`` epochs; NaN otherwise).
    best_epoch_, best_step_ : int
        Epoch whose weights are kept (the last one without early stopping).
    n_iter_, n_epochs_ : int
        Epochs run.
    stopped_early_ : bool
        Whether early stopping (not ``max_epochs``) ended training.
    stop_reason_ : str
        ``"early_stopping"`` or ``"max_epochs"``.
    gamma_ : float
        RBF bandwidth of the monitored MMD^2 (median heuristic on the training split).
    n_train_, n_val_ : list of int
        Cells (source, target) used for training and validation.
    val_source_index_, val_target_index_ : ndarray of int
        Rows of ``source`` / ``target`` held out for validation.
    fit_seconds_ : float

    Examples
    --------
    >>> import numpy as np
    >>> from trackability.models import ScGen
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.normal(size=(200, 5)), rng.normal(size=(200, 5)) + 1.0
    >>> model = ScGen(n_hidden=32, n_latent=4, max_epochs=5, progress=False).fit(x, y)
    >>> model.predict(x).shape
    (200, 5)

    """

    _fitted_attributes: ClassVar[tuple[str, ...]] = (
        "delta_",
        "latent_source_mean_",
        "latent_target_mean_",
        "history_",
        "best_epoch_",
        "best_step_",
        "n_epochs_",
        "n_iter_",
        "stopped_early_",
        "stop_reason_",
        "gamma_",
        "n_train_",
        "n_val_",
        "val_source_index_",
        "val_target_index_",
        "fit_seconds_",
    )
    _min_cells: ClassVar[int] = 4

    def __init__(
        self,
        n_latent: int = 100,
        n_hidden: int = 800,
        n_layers: int = 2,
        dropout: float = 0.2,
        kl_weight: float = 5e-5,
        lr: float = 1e-3,
        weight_decay: float = 1e-6,
        adam_eps: float = 0.01,
        batch_size: int = 128,
        max_epochs: int | None = None,
        validation_fraction: float = 0.1,
        early_stopping: bool = True,
        patience: int = 25,
        min_delta: float = 0.0,
        eval_every: int = 10,
        n_threads: int | None = None,
        random_state: Any = 0,
        progress: bool = False,
    ) -> None:
        self.n_latent = n_latent
        self.n_hidden = n_hidden
        self.n_layers = n_layers
        self.dropout = dropout
        self.kl_weight = kl_weight
        self.lr = lr
        self.weight_decay = weight_decay
        self.adam_eps = adam_eps
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.patience = patience
        self.min_delta = min_delta
        self.eval_every = eval_every
        self.n_threads = n_threads
        self.random_state = random_state
        self.progress = progress

    @classmethod
    def check_dependencies(cls) -> None:
        """Raise ``ImportError`` with the install command when torch is missing (run by ``fit``)."""
        require_torch(cls.__name__)

    @classmethod
    def protein_panel(cls, **overrides: Any) -> ScGen:
        """The original study's preset for protein panels (tens of markers).

        Latent 50, hidden 256, 2 layers, dropout 0.2, lr 5e-4, batch 64; ``overrides`` win.
        """
        params: dict[str, Any] = {
            "n_latent": 50, "n_hidden": 256, "n_layers": 2, "dropout": 0.2, "lr": 5e-4,
            "batch_size": 64,
        }
        params.update(overrides)
        return cls(**params)

    def _validate_params(self) -> None:
        for name in ("n_latent", "n_hidden", "n_layers", "batch_size", "patience", "eval_every"):
            check_int(getattr(self, name), name)
        if self.max_epochs is not None:
            check_int(self.max_epochs, "max_epochs")
        check_positive(self.lr, "lr")
        check_positive(self.adam_eps, "adam_eps")
        check_positive(self.kl_weight, "kl_weight", allow_zero=True)
        check_positive(self.weight_decay, "weight_decay", allow_zero=True)
        check_positive(self.min_delta, "min_delta", allow_zero=True)
        if self.batch_size < 2:
            raise ValueError(
                f"batch_size must be at least 2 for ScGen; got {self.batch_size!r}. Its "
                "BatchNorm layers cannot train on one cell per batch (every batch would be "
                "skipped and the network would never train)."
            )
        check_flag(self.early_stopping, "early_stopping")
        check_flag(self.progress, "progress", allow_none=True)
        check_fraction(self.dropout, "dropout")
        check_fraction(self.validation_fraction, "validation_fraction")
        if self.early_stopping and self.validation_fraction == 0:
            raise ValueError("early_stopping=True needs validation_fraction > 0.")
        check_threads(self.n_threads)

    def _build(self, d: int) -> Any:
        return _vae_class()(
            d, int(self.n_hidden), int(self.n_latent), int(self.n_layers), float(self.dropout)
        )

    # -- fitting ----------------------------------------------------------------------------------
    def _fit(
        self,
        source: np.ndarray,
        target: np.ndarray,
        source_labels: Any = None,
        target_labels: Any = None,
    ) -> None:
        """Train the VAE on both populations, then compute the latent shift ``delta_``.

        ``source_labels`` / ``target_labels`` (cell types, one per cell) balance the cell types
        by resampling before the latent means are taken, as scGen does.
        """
        import pandas as pd

        require_torch(type(self).__name__)
        self._validate_params()
        lab_s = _check_labels(source_labels, source.shape[0], "source_labels")
        lab_t = _check_labels(target_labels, target.shape[0], "target_labels")
        t_start = time.perf_counter()
        rng = check_random_state(self.random_state)
        seed = seed_from(rng)
        s_tr, s_val = split_validation(source.shape[0], self.validation_fraction, rng)
        t_tr, t_val = split_validation(target.shape[0], self.validation_fraction, rng)
        if self.early_stopping and s_val.size + t_val.size < 2:
            raise ValueError(
                f"validation_fraction={self.validation_fraction} leaves fewer than 2 validation "
                "cells; early stopping needs a validation split (raise it or pass more cells)."
            )
        x_train = np.concatenate([source[s_tr], target[t_tr]])
        x_val = np.concatenate([source[s_val], target[t_val]])
        n_total = source.shape[0] + target.shape[0]
        epochs = self.max_epochs if self.max_epochs is not None else default_epochs(n_total)
        self.gamma_ = median_heuristic_gamma(
            source[s_tr], target[t_tr], max_samples=2000, random_state=seed
        )
        mon_src, mon_tgt = source[s_val][:MONITOR_CELLS], target[t_val][:MONITOR_CELLS]
        have_mmd = mon_src.shape[0] >= 2 and mon_tgt.shape[0] >= 2
        n_src_tr = s_tr.size

        rows: list[dict[str, float]] = []
        with torch_session(seed, check_threads(self.n_threads)) as torch:
            vae = self._build(source.shape[1])
            opt = torch.optim.Adam(
                vae.parameters(), lr=self.lr, weight_decay=self.weight_decay, eps=self.adam_eps
            )
            xt = torch.as_tensor(x_train, dtype=torch.float32)
            xv = torch.as_tensor(x_val, dtype=torch.float32)
            bs = int(self.batch_size)
            best: tuple[float, int, dict] | None = None
            since_best = 0
            stop_reason = "max_epochs"
            bar = progress_bar(total=epochs, desc="ScGen", progress=self.progress)
            for epoch in range(1, epochs + 1):
                vae.train()
                perm = rng.permutation(xt.shape[0])
                total, count = 0.0, 0
                for start in range(0, perm.size, bs):
                    idx = perm[start : start + bs]
                    if idx.size < 2:  # BatchNorm cannot train on a single cell
                        continue
                    loss = vae.loss(xt[idx], self.kl_weight).mean()
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    value = loss.detach().item()
                    if not np.isfinite(value):
                        bar.close()
                        raise FloatingPointError(
                            f"ScGen diverged in epoch {epoch} (loss={value}); lower lr or "
                            "standardise the features."
                        )
                    total += value * idx.size
                    count += idx.size
                if count == 0:
                    bar.close()
                    raise ValueError(
                        f"ScGen trained on no mini-batch in epoch {epoch}: {perm.size} training "
                        f"cells with batch_size={bs}; pass more cells or a batch_size >= 2."
                    )
                row: dict[str, float] = {
                    "step": epoch,
                    "train_loss": total / count,
                    "val_score": np.nan,
                    "val_loss": np.nan,
                    "val_mmd2": np.nan,
                }
                vae.eval()
                if xv.shape[0] > 0:
                    with torch.no_grad():
                        row["val_loss"] = float(vae.loss(xv, self.kl_weight).mean())
                    row["val_score"] = row["val_loss"]
                is_last = epoch == epochs
                if have_mmd and (epoch % self.eval_every == 0 or is_last):
                    delta = self._latent_mean(torch, vae, target[t_tr]) - self._latent_mean(
                        torch, vae, x_train[:n_src_tr]
                    )
                    pred = self._shift_decode(torch, vae, mon_src, delta)
                    row["val_mmd2"] = mmd2(pred, mon_tgt, gamma=self.gamma_)
                rows.append(row)
                bar.update(1)
                if self.early_stopping:
                    score = row["val_score"]
                    finite = bool(np.isfinite(score))  # a NaN score never becomes the best
                    improved = finite and (best is None or score < best[0] - self.min_delta)
                    if finite and (best is None or score < best[0]):
                        best = (score, epoch, copy_state(vae))
                    if improved:
                        since_best = 0
                    else:
                        since_best += 1
                        if since_best >= self.patience:
                            stop_reason = "early_stopping"
                            break
            bar.close()
            if self.early_stopping and best is not None:
                vae.load_state_dict(best[2])
                self.best_epoch_ = int(best[1])
            else:
                self.best_epoch_ = len(rows)
            vae.eval()
            # Latent shift on all training cells, with cell types balanced as scGen does.
            idx_s = balanced_indices(lab_s, source.shape[0], rng)
            idx_t = balanced_indices(lab_t, target.shape[0], rng)
            eq = min(idx_s.size, idx_t.size)
            idx_s = idx_s[rng.choice(idx_s.size, size=eq, replace=False)]
            idx_t = idx_t[rng.choice(idx_t.size, size=eq, replace=False)]
            self.latent_source_mean_ = self._latent_mean(torch, vae, source[idx_s])
            self.latent_target_mean_ = self._latent_mean(torch, vae, target[idx_t])
        self.delta_ = self.latent_target_mean_ - self.latent_source_mean_
        self.vae_ = vae
        self.history_ = pd.DataFrame(
            rows, columns=["step", "train_loss", "val_score", "val_loss", "val_mmd2"]
        )
        self.history_["step"] = self.history_["step"].astype(int)
        self.n_epochs_ = self.n_iter_ = len(rows)
        self.best_step_ = self.best_epoch_
        self.stop_reason_ = stop_reason
        self.stopped_early_ = stop_reason == "early_stopping"
        self.n_train_ = [int(s_tr.size), int(t_tr.size)]
        self.n_val_ = [int(s_val.size), int(t_val.size)]
        self.val_source_index_, self.val_target_index_ = s_val, t_val
        self.fit_seconds_ = time.perf_counter() - t_start

    @staticmethod
    def _latent(torch: Any, vae: Any, x: np.ndarray) -> np.ndarray:
        out = []
        with torch.no_grad():
            for start in range(0, x.shape[0], _PREDICT_BATCH):
                xb = torch.as_tensor(x[start : start + _PREDICT_BATCH], dtype=torch.float32)
                out.append(vae.encode(xb)[0].numpy().astype(np.float64))
        return np.concatenate(out)

    @classmethod
    def _latent_mean(cls, torch: Any, vae: Any, x: np.ndarray) -> np.ndarray:
        return cls._latent(torch, vae, x).mean(axis=0)

    @classmethod
    def _shift_decode(cls, torch: Any, vae: Any, x: np.ndarray, delta: np.ndarray) -> np.ndarray:
        z = cls._latent(torch, vae, x) + delta
        out = []
        with torch.no_grad():
            for start in range(0, z.shape[0], _PREDICT_BATCH):
                zb = torch.as_tensor(z[start : start + _PREDICT_BATCH], dtype=torch.float32)
                out.append(vae.decode(zb).numpy().astype(np.float64))
        return np.concatenate(out)

    # -- prediction -------------------------------------------------------------------------------
    def _predict(self, source: np.ndarray) -> np.ndarray:
        with torch_session(None, check_threads(self.n_threads)) as torch:
            self.vae_.eval()
            return self._shift_decode(torch, self.vae_, source, self.delta_)

    def latent(self, x: Any) -> np.ndarray:
        """Latent means (the codes scGen's arithmetic uses) of the rows of ``x``."""
        xa = self._check_input(x, "x")
        with torch_session(None, check_threads(self.n_threads)) as torch:
            self.vae_.eval()
            return self._latent(torch, self.vae_, xa)

    # -- persistence ------------------------------------------------------------------------------
    def _extra_state(self) -> dict[str, np.ndarray]:
        return state_to_numpy(self.vae_, "vae")

    def _restore_extra_state(self, arrays: dict[str, np.ndarray]) -> None:
        vae = self._build(int(self.n_features_in_))
        numpy_to_state(vae, arrays, "vae")
        vae.eval()
        self.vae_ = vae
