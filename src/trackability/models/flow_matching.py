"""Conditional flow matching with minibatch optimal-transport coupling, context-conditioned.

Lipman et al. (2023), Tong et al. (2024): source-conditioned (the flow starts at each control cell)
and, where contexts are labelled, conditioned on a context descriptor.

A velocity field ``v(x, t, c)`` is trained so that integrating ``dx/dt = v(x, t, c)`` from
``t = 0`` (a control cell) to ``t = 1`` gives its predicted treated state. Training pairs come from
an exact optimal-transport coupling of each minibatch: ``b`` control and ``b`` treated cells of one
context are matched by an optimal assignment on squared Euclidean cost (scipy's
``linear_sum_assignment``: with equal batch sizes and uniform weights the exact OT plan is a
permutation), and the network regresses the straight-line velocity ``x1 - x0`` at a random point
``x_t = (1 - t) x0 + t x1 (+ sigma * noise)`` of each pair's segment.

Contexts (e.g. cell types) are given as labels at ``fit`` and ``predict``. Pairs are only drawn
within a context, and the network sees a *context descriptor*: the mean of that context's control
cells (in the model's standardised coordinates). A context whose treated cells are never seen in
training (the held-out cell type of the scGen task) still has control cells, so its descriptor is
known, and the flow starts from its own control cells: both are how the held-out context's control
cells inform its prediction.

torch is imported only inside functions (the ``neural`` extra).
"""

from __future__ import annotations

import functools
import time
from typing import Any, ClassVar

import numpy as np

from trackability._progress import progress_bar
from trackability._validation import (
    check_choice,
    check_positive,
    check_random_state,
)
from trackability.metrics import median_heuristic_gamma, mmd2
from trackability.models._torch import (
    check_fraction,
    check_hidden,
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

SOLVERS = ("euler", "midpoint", "rk4")
COUPLINGS = ("ot", "independent")
CONDITIONS = ("source_mean", "none")
#: Validation cells per context on which the validation MMD^2 is computed.
MONITOR_CELLS = 1000
_PREDICT_BATCH = 4096
_STD_EPS = 1e-8


@functools.cache
def _velocity_class() -> type:
    torch = require_torch("FlowMatching")
    nn = torch.nn

    class VelocityMLP(nn.Module):
        """``v(x, t, c)``: an MLP on ``[x, time features, c]`` with SiLU activations.

        Time enters as ``t`` and ``sin / cos(pi k t)`` for ``k = 1..n_freq``. The output layer
        starts at zero, so the untrained flow is the identity map.
        """

        def __init__(self, d: int, d_cond: int, hidden: tuple[int, ...], n_freq: int) -> None:
            super().__init__()
            self.register_buffer(
                "freqs", torch.pi * torch.arange(1, n_freq + 1, dtype=torch.float32)
            )
            units = [d + 1 + 2 * n_freq + d_cond, *hidden]
            layers: list = []
            for i, o in zip(units[:-1], units[1:], strict=True):
                layers += [nn.Linear(i, o), nn.SiLU()]
            self.body = nn.Sequential(*layers)
            self.out = nn.Linear(units[-1], d)
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)

        def forward(self, x: Any, t: Any, c: Any | None) -> Any:
            tf = t[:, None] * self.freqs[None, :]
            parts = [x, t[:, None], torch.sin(tf), torch.cos(tf)]
            if c is not None:
                parts.append(c)
            return self.out(self.body(torch.cat(parts, dim=1)))

    return VelocityMLP


def _check_labels(labels: Any, n: int, name: str) -> np.ndarray | None:
    """One label per cell, as strings (None passes through)."""
    arr = check_label_vector(labels, n, name, "context label")
    if arr is None:
        return None
    values = arr.tolist()
    if any(v is None or (isinstance(v, float) and not np.isfinite(v)) for v in values):
        raise ValueError(f"{name} contains missing labels (None/NaN); label every cell.")
    return np.asarray([str(v) for v in values], dtype=object)


def ot_pairs(x0: np.ndarray, x1: np.ndarray) -> np.ndarray:
    """Exact OT coupling of two equal-size batches: ``x1[perm[i]]`` is the partner of ``x0[i]``.

    With uniform weights on ``b`` points per side the optimal plan of the squared Euclidean cost
    is a permutation (Birkhoff), found exactly by :func:`scipy.optimize.linear_sum_assignment`.
    """
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist

    if x0.shape[0] != x1.shape[0]:
        raise ValueError(f"ot_pairs needs equal batch sizes; got {x0.shape[0]} and {x1.shape[0]}.")
    rows, cols = linear_sum_assignment(cdist(x0, x1, "sqeuclidean"))
    perm = np.empty(x0.shape[0], dtype=np.int64)
    perm[rows] = cols
    return perm


def integrate(velocity: Any, x: np.ndarray, n_steps: int, solver: str) -> np.ndarray:
    """Fixed-step integration of ``dx/dt = velocity(x, t)`` from ``t = 0`` to ``t = 1``.

    ``velocity`` takes and returns arrays (numpy or torch) of the shape of ``x`` and a scalar
    ``t``; ``solver`` is ``"euler"``, ``"midpoint"`` or ``"rk4"``.
    """
    check_choice(solver, "solver", SOLVERS)
    h = 1.0 / int(n_steps)
    for k in range(int(n_steps)):
        t = k * h
        if solver == "euler":
            x = x + h * velocity(x, t)
        elif solver == "midpoint":
            x = x + h * velocity(x + 0.5 * h * velocity(x, t), t + 0.5 * h)
        else:
            k1 = velocity(x, t)
            k2 = velocity(x + 0.5 * h * k1, t + 0.5 * h)
            k3 = velocity(x + 0.5 * h * k2, t + 0.5 * h)
            k4 = velocity(x + h * k3, t + h)
            x = x + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return x


class FlowMatching(PerturbationModel):
    """Conditional flow matching from control to treated cells, with minibatch OT coupling.

    Parameters
    ----------
    hidden
        Hidden layer widths of the velocity MLP (default 3 x 256).
    max_iter
        Cap on training iterations (one minibatch each); early stopping usually ends sooner.
    batch_size
        Cells per side in each minibatch (fewer when a context has fewer training cells).
    lr, weight_decay
        AdamW learning rate and weight decay.
    sigma
        Standard deviation of the Gaussian noise around each straight path (0: deterministic
        paths, as in rectified flow / OT-CFM with sigma = 0).
    coupling
        ``"ot"``: exact OT coupling within each minibatch; ``"independent"``: random pairs.
    condition
        ``"source_mean"``: the network sees the mean of the context's control cells;
        ``"none"``: no context input (pairs are still drawn within contexts).
    condition_noise
        Standard deviation (in standardised units) of Gaussian noise added to the context
        descriptor of each training pair, so that the velocity varies smoothly with the
        descriptor and a held-out context's descriptor is not an unseen point (0: none). The
        default 1.0 is the Kang-tested value (docs/benchmarks.md: without it the held-out type's
        descriptor is extrapolated, e.g. CD14+ monocytes 0.29 instead of 0.037).
    n_freq
        Sine / cosine frequencies of the time features.
    n_steps, solver
        Steps and scheme (``"euler"``, ``"midpoint"``, ``"rk4"``) of the fixed-step ODE solver
        used at ``predict`` (and for the validation score).
    validation_fraction
        Fraction of the training cells (of each population, seeded) held out for early stopping.
        Test cells are never used.
    eval_every
        Compute the validation score every this many iterations (and at the last one).
    patience
        Stop after this many evaluations without a better validation score, and keep the best.
        None: train for ``max_iter`` iterations and keep the best evaluated checkpoint.
    n_threads
        torch CPU threads inside ``fit``/``predict`` (None: the measured default, 1).
    random_state
        Seed for initialisation, the validation split, minibatches, times and noise.
    progress
        Progress bar over iterations (off by default; None follows ``TRACKABILITY_PROGRESS``).

    Attributes
    ----------
    history_ : pandas.DataFrame
        ``step``, ``train_loss`` (mean flow-matching loss since the previous row), ``val_score``
        (validation MMD^2 of predicted vs treated validation cells, averaged over contexts
        weighted by their treated cells), ``val_loss`` (flow-matching loss on validation pairs).
    best_step_ : int
        Iteration of the kept weights.
    n_iter_ : int
        Iterations run.
    stop_reason_ : str
        ``"early_stopping"`` (the validation score stopped improving for ``patience``
        evaluations) or ``"max_iter"`` (the cap ended training).
    contexts_ : list of str
        Context labels seen at fit (``["all"]`` without labels).
    context_means_ : ndarray of shape (n_contexts, d)
        Mean control cell of each context (input units): the context descriptors.
    trained_contexts_ : list of str
        Contexts with both control and treated training cells (the ones pairs are drawn from).
    mean_, scale_ : ndarray of shape (d,)
        Standardisation of the inputs (training cells pooled).
    gamma_ : float
        RBF bandwidth of the validation MMD^2 (median heuristic on the training split).
    n_parameters_ : int
        Trainable parameters of the velocity network.
    n_train_, n_val_ : list of int
        Cells (source, target) used for training and validation.
    fit_seconds_, fit_cpu_seconds_ : float
        Wall-clock and process CPU time of ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> from trackability.models.flow_matching import FlowMatching
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.normal(size=(300, 3)), rng.normal(size=(300, 3)) + 2.0
    >>> model = FlowMatching(hidden=(32, 32), max_iter=200).fit(x, y)
    >>> model.predict(x).shape
    (300, 3)

    """

    _fitted_attributes: ClassVar[tuple[str, ...]] = (
        "history_",
        "best_step_",
        "n_iter_",
        "stop_reason_",
        "contexts_",
        "context_means_",
        "trained_contexts_",
        "labelled_",
        "mean_",
        "scale_",
        "gamma_",
        "n_parameters_",
        "n_train_",
        "n_val_",
        "fit_seconds_",
        "fit_cpu_seconds_",
    )
    _min_cells: ClassVar[int] = 4

    def __init__(
        self,
        hidden: tuple[int, ...] = (256, 256, 256),
        max_iter: int = 3000,
        batch_size: int = 256,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        sigma: float = 0.0,
        coupling: str = "ot",
        condition: str = "source_mean",
        condition_noise: float = 1.0,
        n_freq: int = 4,
        n_steps: int = 20,
        solver: str = "midpoint",
        validation_fraction: float = 0.1,
        eval_every: int = 100,
        patience: int | None = 5,
        n_threads: int | None = None,
        random_state: Any = 0,
        progress: bool | None = False,
    ) -> None:
        self.hidden = hidden
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.sigma = sigma
        self.coupling = coupling
        self.condition = condition
        self.condition_noise = condition_noise
        self.n_freq = n_freq
        self.n_steps = n_steps
        self.solver = solver
        self.validation_fraction = validation_fraction
        self.eval_every = eval_every
        self.patience = patience
        self.n_threads = n_threads
        self.random_state = random_state
        self.progress = progress

    # -- parameters -------------------------------------------------------------------------------
    def _validate_params(self) -> None:
        check_hidden(self.hidden)
        for name in ("max_iter", "batch_size", "n_steps", "eval_every"):
            check_int(getattr(self, name), name)
        check_int(self.n_freq, "n_freq", minimum=0)
        if self.patience is not None:
            check_int(self.patience, "patience")
        check_positive(self.lr, "lr")
        check_positive(self.weight_decay, "weight_decay", allow_zero=True)
        check_positive(self.sigma, "sigma", allow_zero=True)
        check_positive(self.condition_noise, "condition_noise", allow_zero=True)
        check_choice(self.coupling, "coupling", COUPLINGS)
        check_choice(self.condition, "condition", CONDITIONS)
        check_choice(self.solver, "solver", SOLVERS)
        check_fraction(self.validation_fraction, "validation_fraction")
        if self.patience is not None and self.validation_fraction == 0:
            raise ValueError(
                "early stopping (patience) needs validation_fraction > 0; set patience=None to "
                "train for max_iter iterations without a validation split."
            )
        check_threads(self.n_threads)

    def _build(self, d: int) -> Any:
        d_cond = d if self.condition == "source_mean" else 0
        return _velocity_class()(d, d_cond, check_hidden(self.hidden), int(self.n_freq))

    # -- fitting ----------------------------------------------------------------------------------
    def _fit(
        self,
        source: np.ndarray,
        target: np.ndarray,
        source_labels: Any = None,
        target_labels: Any = None,
    ) -> None:
        """Train the velocity field on within-context OT-coupled minibatches.

        ``source_labels`` / ``target_labels`` give each cell's context (e.g. cell type); give both
        or neither. Contexts with control cells only (a held-out context) contribute their
        descriptor but no training pairs.
        """
        import pandas as pd

        self._validate_params()
        lab_s = _check_labels(source_labels, source.shape[0], "source_labels")
        lab_t = _check_labels(target_labels, target.shape[0], "target_labels")
        if (lab_s is None) != (lab_t is None):
            raise ValueError(
                "give both source_labels and target_labels (one context label per cell) or neither."
            )
        labelled = lab_s is not None
        if not labelled:
            lab_s = np.full(source.shape[0], "all", dtype=object)
            lab_t = np.full(target.shape[0], "all", dtype=object)
        t_start, c_start = time.perf_counter(), time.process_time()
        rng = check_random_state(self.random_state)
        seed = seed_from(rng)
        s_tr, s_val = split_validation(source.shape[0], self.validation_fraction, rng)
        t_tr, t_val = split_validation(target.shape[0], self.validation_fraction, rng)

        contexts = sorted(set(lab_s.tolist()))
        missing = sorted(set(lab_t.tolist()) - set(contexts))
        if missing:
            raise ValueError(
                f"target_labels has context(s) {missing} without any control cells; every context "
                "needs control cells (they define its descriptor)."
            )
        # descriptors from all training control cells of each context (validation rows included:
        # they are training cells, and the held-out context may have few)
        means = np.stack([source[lab_s == c].mean(axis=0) for c in contexts])
        self.mean_ = np.concatenate([source[s_tr], target[t_tr]]).mean(axis=0)
        scale = np.concatenate([source[s_tr], target[t_tr]]).std(axis=0)
        self.scale_ = np.where(scale > _STD_EPS, scale, 1.0)
        self.contexts_, self.context_means_, self.labelled_ = contexts, means, labelled
        self.gamma_ = median_heuristic_gamma(
            source[s_tr], target[t_tr], max_samples=2000, random_state=seed
        )
        zs, zt = self._standardise(source), self._standardise(target)
        cond_z = self._standardise(means)

        train_groups, val_groups = [], []
        for k, c in enumerate(contexts):
            tr_s, tr_t = s_tr[lab_s[s_tr] == c], t_tr[lab_t[t_tr] == c]
            if tr_s.size >= 1 and tr_t.size >= 1:
                train_groups.append((k, c, tr_s, tr_t))
            va_s, va_t = s_val[lab_s[s_val] == c], t_val[lab_t[t_val] == c]
            if va_s.size >= 2 and va_t.size >= 2:
                val_groups.append((k, va_s[:MONITOR_CELLS], va_t[:MONITOR_CELLS]))
        if not train_groups:
            raise ValueError(
                "no context has both control and treated training cells; flow matching needs "
                "pairs of one context to learn from."
            )
        if self.patience is not None and not val_groups:
            raise ValueError(
                f"validation_fraction={self.validation_fraction} leaves no context with 2 control "
                "and 2 treated validation cells; early stopping needs them (raise it, pass more "
                "cells, or set patience=None)."
            )
        self.trained_contexts_ = [g[1] for g in train_groups]
        bs = int(self.batch_size)
        use_ot = self.coupling == "ot"
        use_cond = self.condition == "source_mean"
        sigma = float(self.sigma)
        c_noise = float(self.condition_noise)

        rows: list[dict[str, float]] = []
        with torch_session(seed, check_threads(self.n_threads)) as torch:
            net = self._build(source.shape[1])
            self.n_parameters_ = int(sum(p.numel() for p in net.parameters() if p.requires_grad))
            opt = torch.optim.AdamW(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
            zs_t = torch.as_tensor(zs, dtype=torch.float32)
            zt_t = torch.as_tensor(zt, dtype=torch.float32)
            cond_t = torch.as_tensor(cond_z, dtype=torch.float32)
            val_pairs = self._val_pairs(zs, zt, val_groups, rng, use_ot)
            best: tuple[float, int, dict] | None = None
            since_best, acc, n_acc, step = 0, 0.0, 0, 0
            stop_reason = "max_iter"
            bar = progress_bar(total=int(self.max_iter), desc="FlowMatching", progress=self.progress)
            for step in range(1, int(self.max_iter) + 1):
                k, _, tr_s, tr_t = train_groups[int(rng.integers(len(train_groups)))]
                b = min(bs, tr_s.size, tr_t.size)
                i0 = rng.choice(tr_s, size=b, replace=False)
                i1 = rng.choice(tr_t, size=b, replace=False)
                if use_ot and b > 1:
                    i1 = i1[ot_pairs(zs[i0], zt[i1])]
                x0, x1 = zs_t[i0], zt_t[i1]
                tt = torch.as_tensor(rng.random(b), dtype=torch.float32)
                xt = (1 - tt[:, None]) * x0 + tt[:, None] * x1
                if sigma > 0:
                    xt = xt + sigma * torch.as_tensor(
                        rng.standard_normal(x0.shape), dtype=torch.float32
                    )
                c = cond_t[k].expand(b, -1) if use_cond else None
                if use_cond and c_noise > 0:
                    c = c + c_noise * torch.as_tensor(
                        rng.standard_normal(c.shape), dtype=torch.float32
                    )
                loss = ((net(xt, tt, c) - (x1 - x0)) ** 2).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                value = loss.detach().item()
                if not np.isfinite(value):
                    bar.close()
                    raise FloatingPointError(
                        f"FlowMatching diverged at iteration {step} (loss={value}); lower lr."
                    )
                acc, n_acc = acc + value, n_acc + 1
                bar.update(1)
                is_last = step == int(self.max_iter)
                if not (step % int(self.eval_every) == 0 or is_last):
                    continue
                row = {"step": step, "train_loss": acc / n_acc, "val_score": np.nan,
                       "val_loss": np.nan}
                acc, n_acc = 0.0, 0
                if val_groups:
                    row["val_score"], row["val_loss"] = self._validate(
                        torch, net, source, target, val_groups, val_pairs, cond_t
                    )
                rows.append(row)
                if val_groups:
                    if best is None or row["val_score"] < best[0]:
                        best, since_best = (row["val_score"], step, copy_state(net)), 0
                    else:
                        since_best += 1
                        if self.patience is not None and since_best >= int(self.patience):
                            stop_reason = "early_stopping"
                            break
            bar.close()
            if best is not None:
                net.load_state_dict(best[2])
                self.best_step_ = int(best[1])
            else:
                self.best_step_ = step
        net.eval()
        self.net_ = net
        self.n_iter_ = step
        self.stop_reason_ = stop_reason
        self.history_ = pd.DataFrame(rows, columns=["step", "train_loss", "val_score", "val_loss"])
        self.history_["step"] = self.history_["step"].astype(int)
        self.n_train_ = [int(s_tr.size), int(t_tr.size)]
        self.n_val_ = [int(s_val.size), int(t_val.size)]
        self.fit_seconds_ = time.perf_counter() - t_start
        self.fit_cpu_seconds_ = time.process_time() - c_start

    def _standardise(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mean_) / self.scale_

    @staticmethod
    def _val_pairs(
        zs: np.ndarray, zt: np.ndarray, groups: list, rng: np.random.Generator, use_ot: bool
    ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Fixed (x0, x1, t) validation pairs per context for the validation flow-matching loss."""
        out = []
        for _, va_s, va_t in groups:
            b = min(va_s.size, va_t.size)
            i0, i1 = va_s[:b], va_t[:b]
            if use_ot:
                i1 = i1[ot_pairs(zs[i0], zt[i1])]
            out.append((zs[i0], zt[i1], rng.random(b)))
        return out

    def _validate(
        self, torch: Any, net: Any, source: np.ndarray, target: np.ndarray, groups: list,
        pairs: list, cond_t: Any,
    ) -> tuple[float, float]:
        """Validation MMD^2 (weighted by treated cells per context) and flow-matching loss."""
        net.eval()
        score = weight = loss = n_loss = 0.0
        with torch.no_grad():
            for (k, va_s, va_t), (x0, x1, tt) in zip(groups, pairs, strict=True):
                pred = self._flow(torch, net, source[va_s], cond_t[k])
                score += va_t.size * mmd2(pred, target[va_t], gamma=self.gamma_)
                weight += va_t.size
                x0t, x1t = (torch.as_tensor(a, dtype=torch.float32) for a in (x0, x1))
                t = torch.as_tensor(tt, dtype=torch.float32)
                c = cond_t[k].expand(x0t.shape[0], -1) if self.condition == "source_mean" else None
                xt = (1 - t[:, None]) * x0t + t[:, None] * x1t
                loss += float(((net(xt, t, c) - (x1t - x0t)) ** 2).sum(1).mean() / x0t.shape[1]
                              ) * x0t.shape[0]
                n_loss += x0t.shape[0]
        net.train()
        return score / weight, loss / n_loss

    def _flow(self, torch: Any, net: Any, x: np.ndarray, cond: Any) -> np.ndarray:
        """Integrate the flow from control cells ``x`` (input units) under descriptor ``cond``."""
        out = np.empty_like(x, dtype=np.float64)
        use_cond = self.condition == "source_mean"
        for start in range(0, x.shape[0], _PREDICT_BATCH):
            z = torch.as_tensor(self._standardise(x[start : start + _PREDICT_BATCH]),
                                dtype=torch.float32)
            c = cond.expand(z.shape[0], -1) if use_cond else None

            def velocity(state: Any, t: float, c: Any = c) -> Any:
                tt = torch.full((state.shape[0],), float(t), dtype=torch.float32)
                return net(state, tt, c)

            with torch.no_grad():
                z = integrate(velocity, z, int(self.n_steps), self.solver)
            out[start : start + _PREDICT_BATCH] = z.numpy() * self.scale_ + self.mean_
        return out

    # -- prediction -------------------------------------------------------------------------------
    def predict(self, source: Any, labels: Any = None) -> np.ndarray:
        """Predicted treated state of each control cell in ``source``.

        Parameters
        ----------
        source
            Control cells, shape (n, d).
        labels
            Context of each cell (needed when the model was fitted with labels). A context not
            seen at fit gets the mean of its cells in ``source`` as its descriptor; so does the
            whole of ``source`` when a labelled model is given no labels.

        """
        return self._predict(self._check_input(source, "source"), labels)

    def _predict(self, source: np.ndarray, labels: Any = None) -> np.ndarray:
        lab = _check_labels(labels, source.shape[0], "labels")
        if not self.labelled_:
            lab = None  # one context: labels carry no information
        known = {c: i for i, c in enumerate(self.contexts_)}
        out = np.empty_like(source, dtype=np.float64)
        with torch_session(None, check_threads(self.n_threads)) as torch:
            if lab is None:
                groups = [(np.arange(source.shape[0]), None)]
            else:
                groups = [(np.flatnonzero(lab == c), c) for c in sorted(set(lab.tolist()))]
            for rows, c in groups:
                if c is None and not self.labelled_:
                    mean = self.context_means_[0]
                elif c is not None and c in known:
                    mean = self.context_means_[known[c]]
                else:
                    mean = source[rows].mean(axis=0)
                cond = torch.as_tensor(self._standardise(mean), dtype=torch.float32)
                out[rows] = self._flow(torch, self.net_, source[rows], cond)
        return out

    # -- persistence ------------------------------------------------------------------------------
    def _extra_state(self) -> dict[str, np.ndarray]:
        return state_to_numpy(self.net_, "net")

    def _restore_extra_state(self, arrays: dict[str, np.ndarray]) -> None:
        net = self._build(int(self.n_features_in_))
        numpy_to_state(net, arrays, "net")
        net.eval()
        self.net_ = net
