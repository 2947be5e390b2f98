"""CellOT (Bunne et al., Nature Methods 2023): neural optimal transport with input-convex networks.

Two input-convex neural networks (ICNNs) ``f`` and ``g`` are trained on the min-max dual of the
squared-Euclidean optimal-transport problem (Makkuva et al., 2020). The predicted treated state of
a control cell ``x`` is ``grad g(x)``, the transport map of the convex potential ``g``.

The architecture, initialisation, losses, update schedule and optimiser follow the published
method and its official code (``bunnech/cellot``: ``networks/icnns.py``, ``models/cellot.py``,
``train/train.py``, ``configs/models/cellot.yaml``). What differs, and why, is listed in
``docs/neural.md``: seeded everything, a prediction API, and checkpoint selection on a validation
split carved from the training cells (the official code selects on the test split).

torch is imported only inside functions (the ``neural`` extra).
"""

from __future__ import annotations

import functools
import time
from typing import Any, ClassVar

import numpy as np

from trackability._progress import progress_bar
from trackability._validation import check_array, check_choice, check_positive, check_random_state
from trackability.metrics import mmd2
from trackability.models._torch import (
    BatchCycler,
    check_fraction,
    check_int,
    check_threads,
    copy_state,
    monitoring_split,
    numpy_to_state,
    require_torch,
    state_to_numpy,
    torch_session,
)
from trackability.models.base import PerturbationModel

SELECTIONS = ("validation", "last")
#: Cells per population used to monitor MMD^2 on the training and validation splits.
MONITOR_CELLS = 1000
_PREDICT_BATCH = 4096


@functools.cache
def _icnn_class() -> type:
    torch = require_torch("CellOT")
    nn = torch.nn

    class ICNN(nn.Module):
        """Input-convex network ``R^d -> R`` (Amos et al., 2017) as in the CellOT code.

        ``z_1 = leaky_relu(A_0 x)^2``; ``z_{l+1} = leaky_relu(W_l z_l + A_l x)``;
        ``out = W_L z_L + A_L x``, slope 0.2. Convex in ``x`` when every ``W_l >= 0``.
        """

        def __init__(self, d: int, hidden: tuple[int, ...]) -> None:
            super().__init__()
            units = [*hidden, 1]
            self.W = nn.ModuleList(
                [nn.Linear(i, o, bias=False) for i, o in zip(units[:-1], units[1:], strict=True)]
            )
            self.A = nn.ModuleList([nn.Linear(d, o, bias=True) for o in units])
            for layer in self.A:
                nn.init.uniform_(layer.weight, 0.0, 0.1)
                nn.init.zeros_(layer.bias)
            for layer in self.W:
                nn.init.uniform_(layer.weight, 0.0, 0.1)

        def forward(self, x: Any) -> Any:
            act = nn.functional.leaky_relu
            z = act(self.A[0](x), 0.2)
            z = z * z
            for w, a in zip(self.W[:-1], self.A[1:-1], strict=True):
                z = act(w(z) + a(x), 0.2)
            return self.W[-1](z) + self.A[-1](x)

        def transport(self, x: Any, create_graph: bool = False) -> Any:
            """``grad_x`` of the potential (``x`` must require grad)."""
            (grad,) = torch.autograd.grad(
                self.forward(x).sum(), x, create_graph=create_graph
            )
            return grad

        def clamp_w(self) -> None:
            """Project the convexity-carrying weights onto ``W >= 0``."""
            with torch.no_grad():
                for w in self.W:
                    w.weight.clamp_(min=0.0)

        def negative_weight_penalty(self) -> Any:
            """``sum_l |min(W_l, 0)|_F``: the soft convexity penalty used for g."""
            return sum(torch.relu(-w.weight).norm() for w in self.W)

    return ICNN


class CellOT(PerturbationModel):
    """CellOT: a transport map ``grad g`` between control and treated cells from two ICNNs.

    Parameters
    ----------
    hidden
        Hidden layer widths of both ICNNs (default 4 x 64, the published setting).
    n_iters
        Outer iterations. Each: one target batch, ``n_inner`` g updates on fresh source batches,
        then one f update. The official default is 100,000; the original study used 1k-10k.
    batch_size
        Cells per mini-batch (256 in the paper).
    n_inner
        g updates per f update (10 in the paper).
    lr, betas
        Adam learning rate and betas for both networks (1e-4, (0.5, 0.9) in the paper).
    g_penalty
        Weight of the soft convexity penalty ``sum |min(W, 0)|_F`` on g (1 in the paper); f's
        weights are clamped to be non-negative after every f update instead.
    grad_clip
        If set, clip the gradient norm of each network to this value before each update (the
        option the issue names, e.g. 0.5); None (default) does not clip, as the official config.
    validation_fraction
        Fraction of the training cells (of each population, seeded) held out to monitor training
        and, with ``selection="validation"``, to choose the checkpoint. Test cells are never used.
    selection
        ``"validation"``: keep the evaluated checkpoint with the lowest validation MMD^2;
        ``"last"``: keep the last iterate.
    log_every
        Record training and validation losses every this many outer iterations (one row of
        ``history_``).
    eval_every
        Compute MMD^2 on the training and validation splits every this many outer iterations (and
        at the last one); these are the candidate checkpoints for ``selection="validation"``.
    n_threads
        torch CPU threads inside ``fit``/``predict`` (None: the measured fastest,
        :data:`trackability.models._torch.DEFAULT_THREADS`); the caller's setting is restored.
    random_state
        Seed for initialisation, the validation split and mini-batches. Same seed, same result.
    progress
        Progress bar over outer iterations (None: follow ``TRACKABILITY_PROGRESS``).

    Attributes
    ----------
    history_ : pandas.DataFrame
        One row per logged step: ``step``, ``train_loss_g``, ``train_loss_f`` (means since the
        previous row), ``val_loss_g``, ``val_loss_f``, ``train_mmd2``, ``val_mmd2`` (NaN where not
        evaluated), ``w2_estimate`` (dual estimate of ``W2^2 / 2`` on the validation split).
    best_step_ : int
        Outer iteration of the kept checkpoint.
    gamma_ : float
        RBF bandwidth for the monitored MMD^2, median heuristic on the training split.
    n_train_, n_val_ : list of int
        Cells (source, target) used for training and validation.
    val_source_index_, val_target_index_ : ndarray of int
        Rows of ``source`` / ``target`` held out for validation.
    fit_seconds_ : float

    Examples
    --------
    >>> import numpy as np
    >>> from trackability.models import CellOT
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.normal(size=(300, 3)), rng.normal(size=(300, 3)) + 2.0
    >>> model = CellOT(n_iters=100, random_state=0, progress=False).fit(x, y)
    >>> model.predict(x).shape
    (300, 3)

    """

    _fitted_attributes: ClassVar[tuple[str, ...]] = (
        "history_",
        "best_step_",
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
        hidden: tuple[int, ...] = (64, 64, 64, 64),
        n_iters: int = 2000,
        batch_size: int = 256,
        n_inner: int = 10,
        lr: float = 1e-4,
        betas: tuple[float, float] = (0.5, 0.9),
        g_penalty: float = 1.0,
        grad_clip: float | None = None,
        validation_fraction: float = 0.1,
        selection: str = "validation",
        log_every: int = 50,
        eval_every: int = 250,
        n_threads: int | None = None,
        random_state: Any = 0,
        progress: bool | None = None,
    ) -> None:
        self.hidden = hidden
        self.n_iters = n_iters
        self.batch_size = batch_size
        self.n_inner = n_inner
        self.lr = lr
        self.betas = betas
        self.g_penalty = g_penalty
        self.grad_clip = grad_clip
        self.validation_fraction = validation_fraction
        self.selection = selection
        self.log_every = log_every
        self.eval_every = eval_every
        self.n_threads = n_threads
        self.random_state = random_state
        self.progress = progress

    @classmethod
    def check_dependencies(cls) -> None:
        """Raise ``ImportError`` with the install command when torch is missing (run by ``fit``)."""
        require_torch(cls.__name__)

    # -- parameters -------------------------------------------------------------------------------
    def _hidden_tuple(self) -> tuple[int, ...]:
        hidden = self.hidden
        if isinstance(hidden, int | np.integer):
            hidden = (int(hidden),)
        try:
            hidden = tuple(hidden)
        except TypeError as exc:
            raise TypeError(f"hidden must be a sequence of layer widths; got {self.hidden!r}.") from exc
        if not hidden:
            raise ValueError("hidden must list at least one hidden layer width.")
        return tuple(check_int(h, "hidden width") for h in hidden)

    def _validate_params(self) -> None:
        self._hidden_tuple()
        check_int(self.n_iters, "n_iters")
        check_int(self.batch_size, "batch_size")
        check_int(self.n_inner, "n_inner")
        check_int(self.log_every, "log_every")
        check_int(self.eval_every, "eval_every")
        check_positive(self.lr, "lr")
        check_positive(self.g_penalty, "g_penalty", allow_zero=True)
        if self.grad_clip is not None:
            check_positive(self.grad_clip, "grad_clip")
        try:
            b1, b2 = (float(b) for b in self.betas)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"betas must be two numbers in [0, 1); got {self.betas!r}.") from exc
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise ValueError(f"betas must be two numbers in [0, 1); got {self.betas!r}.")
        check_fraction(self.validation_fraction, "validation_fraction")
        check_choice(self.selection, "selection", SELECTIONS)
        if self.selection == "validation" and self.validation_fraction == 0:
            raise ValueError(
                'selection="validation" needs validation_fraction > 0; use selection="last" to '
                "keep the last iterate without a validation split."
            )
        check_threads(self.n_threads)

    # -- fitting ----------------------------------------------------------------------------------
    def _build(self, d: int) -> tuple[Any, Any]:
        icnn = _icnn_class()
        hidden = self._hidden_tuple()
        return icnn(d, hidden), icnn(d, hidden)

    def _fit(self, source: np.ndarray, target: np.ndarray) -> None:
        import pandas as pd

        self._validate_params()
        t_start = time.perf_counter()
        rng = check_random_state(self.random_state)
        split = monitoring_split(
            source, target, self.validation_fraction, rng, max_monitor=MONITOR_CELLS
        )
        seed = split["seed"]
        src_tr, src_val = split["src_train"], split["src_val"]
        tgt_tr, tgt_val = split["tgt_train"], split["tgt_val"]
        if self.selection == "validation" and (src_val.size < 2 or tgt_val.size < 2):
            raise ValueError(
                f"validation_fraction={self.validation_fraction} leaves {src_val.size} source and "
                f"{tgt_val.size} target cells for validation; at least 2 of each are needed to "
                'choose a checkpoint (raise it, pass more cells, or use selection="last").'
            )
        x_tr, y_tr = source[src_tr], target[tgt_tr]
        self.gamma_ = split["gamma"]
        x_mon, y_mon = source[split["src_monitor"]], target[split["tgt_monitor"]]
        x_val, y_val = source[src_val[:MONITOR_CELLS]], target[tgt_val[:MONITOR_CELLS]]
        have_val = x_val.shape[0] >= 2 and y_val.shape[0] >= 2

        rows: list[dict[str, float]] = []
        with torch_session(seed, check_threads(self.n_threads)) as torch:
            f, g = self._build(source.shape[1])
            opt_f = torch.optim.Adam(f.parameters(), lr=self.lr, betas=tuple(self.betas))
            opt_g = torch.optim.Adam(g.parameters(), lr=self.lr, betas=tuple(self.betas))
            xt = torch.as_tensor(x_tr, dtype=torch.float32)
            yt = torch.as_tensor(y_tr, dtype=torch.float32)
            xv = torch.as_tensor(x_val, dtype=torch.float32)
            yv = torch.as_tensor(y_val, dtype=torch.float32)
            src_batches = BatchCycler(xt.shape[0], self.batch_size, rng)
            tgt_batches = BatchCycler(yt.shape[0], self.batch_size, rng)
            clip = self.grad_clip
            acc_g = acc_f = 0.0
            n_acc = 0
            best: tuple[float, int, dict, dict] | None = None
            bar = progress_bar(total=self.n_iters, desc=type(self).__name__, progress=self.progress)
            for step in range(1, self.n_iters + 1):
                y = yt[next(tgt_batches)]
                f.requires_grad_(False)
                for _ in range(self.n_inner):
                    x = xt[next(src_batches)].requires_grad_(True)
                    tx = g.transport(x, create_graph=True)
                    loss_g = (f(tx) - (x * tx).sum(-1, keepdim=True)).mean()
                    if self.g_penalty > 0:
                        loss_g = loss_g + self.g_penalty * g.negative_weight_penalty()
                    opt_g.zero_grad(set_to_none=True)
                    loss_g.backward()
                    if clip is not None:
                        torch.nn.utils.clip_grad_norm_(g.parameters(), clip)
                    opt_g.step()
                f.requires_grad_(True)
                x = xt[next(src_batches)].requires_grad_(True)
                tx = g.transport(x).detach()
                loss_f = (-f(tx) + f(y)).mean()
                opt_f.zero_grad(set_to_none=True)
                loss_f.backward()
                if clip is not None:
                    torch.nn.utils.clip_grad_norm_(f.parameters(), clip)
                opt_f.step()
                f.clamp_w()
                lg, lf = loss_g.detach().item(), loss_f.detach().item()
                if not (np.isfinite(lg) and np.isfinite(lf)):
                    bar.close()
                    raise FloatingPointError(
                        f"{type(self).__name__} diverged at iteration {step} (loss_g={lg}, "
                        f"loss_f={lf}); lower lr, set grad_clip (e.g. 0.5) or standardise the "
                        "features."
                    )
                acc_g, acc_f, n_acc = acc_g + lg, acc_f + lf, n_acc + 1
                bar.update(1)
                is_last = step == self.n_iters
                do_eval = step % self.eval_every == 0 or is_last
                if not (step % self.log_every == 0 or do_eval):
                    continue
                row: dict[str, float] = {
                    "step": step,
                    "train_loss_g": acc_g / n_acc,
                    "train_loss_f": acc_f / n_acc,
                    "val_loss_g": np.nan,
                    "val_loss_f": np.nan,
                    "train_mmd2": np.nan,
                    "val_mmd2": np.nan,
                    "w2_estimate": np.nan,
                }
                acc_g = acc_f = 0.0
                n_acc = 0
                if have_val:
                    row.update(self._validation_losses(torch, f, g, xv, yv))
                if do_eval:
                    row["train_mmd2"] = mmd2(
                        self._transport(torch, g, x_mon), y_mon, gamma=self.gamma_
                    )
                    if have_val:
                        row["val_mmd2"] = mmd2(
                            self._transport(torch, g, x_val), y_val, gamma=self.gamma_
                        )
                        if self.selection == "validation" and (
                            best is None or row["val_mmd2"] < best[0]
                        ):
                            best = (row["val_mmd2"], step, copy_state(f), copy_state(g))
                rows.append(row)
            bar.close()
            if self.selection == "validation" and best is not None:
                f.load_state_dict(best[2])
                g.load_state_dict(best[3])
                self.best_step_ = int(best[1])
            else:
                self.best_step_ = int(self.n_iters)
        self.f_, self.g_ = f, g
        self.history_ = pd.DataFrame(
            rows,
            columns=[
                "step", "train_loss_g", "train_loss_f", "val_loss_g", "val_loss_f",
                "train_mmd2", "val_mmd2", "w2_estimate",
            ],
        )
        self.history_["step"] = self.history_["step"].astype(int)
        self.n_train_ = [int(x_tr.shape[0]), int(y_tr.shape[0])]
        self.n_val_ = [int(src_val.size), int(tgt_val.size)]
        self.val_source_index_, self.val_target_index_ = src_val, tgt_val
        self.fit_seconds_ = time.perf_counter() - t_start

    @staticmethod
    def _validation_losses(torch: Any, f: Any, g: Any, xv: Any, yv: Any) -> dict[str, float]:
        x = xv.clone().requires_grad_(True)
        tx = g.transport(x).detach()
        with torch.no_grad():
            fx = f(tx)
            fy = f(yv)
            dot = (xv * tx).sum(-1, keepdim=True)
            loss_g = float((fx - dot).mean())
            loss_f = float((-fx).mean() + fy.mean())
            # Dual estimate of W2^2 / 2 (the official "w2 distance"): E[|x|^2 + |y|^2] / 2 +
            # E[f(grad g(x)) - <x, grad g(x)>] - E[f(y)].
            half_sq = 0.5 * (float((xv * xv).sum(1).mean()) + float((yv * yv).sum(1).mean()))
            w2 = half_sq + loss_g - float(fy.mean())
        return {"val_loss_g": loss_g, "val_loss_f": loss_f, "w2_estimate": w2}

    @staticmethod
    def _transport(torch: Any, g: Any, x: np.ndarray) -> np.ndarray:
        out = np.empty_like(x, dtype=np.float64)
        for start in range(0, x.shape[0], _PREDICT_BATCH):
            xb = torch.as_tensor(x[start : start + _PREDICT_BATCH], dtype=torch.float32)
            xb.requires_grad_(True)
            out[start : start + _PREDICT_BATCH] = g.transport(xb).detach().numpy()
        return out

    # -- prediction -------------------------------------------------------------------------------
    def _predict(self, source: np.ndarray) -> np.ndarray:
        with torch_session(None, check_threads(self.n_threads)) as torch:
            return self._transport(torch, self.g_, source)

    def potential(self, x: Any, which: str = "f") -> np.ndarray:
        """Evaluate a fitted potential (``"f"`` or ``"g"``) at the rows of ``x``.

        ``f`` is convex by construction (its convexity-carrying weights are clamped to be
        non-negative); ``g`` only approximately (soft penalty). ``predict(x)`` is ``grad g(x)``.

        Returns
        -------
        numpy.ndarray of shape (n,)

        """
        self._check_fitted()
        check_choice(which, "which", ("f", "g"))
        xa = check_array(x, "x")
        if xa.shape[1] != self.n_features_in_:
            raise ValueError(
                f"x has {xa.shape[1]} features but {type(self).__name__} was fitted on "
                f"{self.n_features_in_}."
            )
        net = self.f_ if which == "f" else self.g_
        with torch_session(None, check_threads(self.n_threads)) as torch, torch.no_grad():
            return net(torch.as_tensor(xa, dtype=torch.float32)).numpy()[:, 0].astype(np.float64)

    # -- persistence ------------------------------------------------------------------------------
    def _extra_state(self) -> dict[str, np.ndarray]:
        return {**state_to_numpy(self.f_, "f"), **state_to_numpy(self.g_, "g")}

    def _restore_extra_state(self, arrays: dict[str, np.ndarray]) -> None:
        f, g = self._build(int(self.n_features_in_))
        numpy_to_state(f, arrays, "f")
        numpy_to_state(g, arrays, "g")
        self.f_, self.g_ = f, g


class CompactCellOT(CellOT):
    """CellOT with small ICNNs: 3 hidden layers of 32 units; everything else as :class:`CellOT`.

    The compact configuration of the original study. Takes the same parameters as
    :class:`CellOT` (``hidden`` defaults to ``(32, 32, 32)``).
    """

    def __init__(
        self,
        hidden: tuple[int, ...] = (32, 32, 32),
        n_iters: int = 2000,
        batch_size: int = 256,
        n_inner: int = 10,
        lr: float = 1e-4,
        betas: tuple[float, float] = (0.5, 0.9),
        g_penalty: float = 1.0,
        grad_clip: float | None = None,
        validation_fraction: float = 0.1,
        selection: str = "validation",
        log_every: int = 50,
        eval_every: int = 250,
        n_threads: int | None = None,
        random_state: Any = 0,
        progress: bool | None = None,
    ) -> None:
        super().__init__(
            hidden=hidden, n_iters=n_iters, batch_size=batch_size, n_inner=n_inner, lr=lr,
            betas=betas, g_penalty=g_penalty, grad_clip=grad_clip,
            validation_fraction=validation_fraction, selection=selection, log_every=log_every,
            eval_every=eval_every, n_threads=n_threads, random_state=random_state,
            progress=progress,
        )
