"""Shared torch plumbing for the neural models: lazy import, seeding, threads, batches, weights.

torch is an optional extra (``pip install "trackability[neural]"``). Nothing here imports it at
module import time: :func:`require_torch` does, and raises a clear error when it is missing.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from trackability._validation import check_random_state

#: The torch version the ``neural`` extra pins (an open range pulls a multi-GB CUDA build).
TORCH_VERSION = "2.13.0"

#: Threads used inside ``fit``/``predict`` when a model's ``n_threads`` is None. Measured with
#: ``benchmarks/bench_neural.py``: these small networks run faster on one thread than on two
#: (thread hand-off costs more than the tiny matrix products gain); see docs/neural.md.
DEFAULT_THREADS = 1

_INSTALL_HINT = (
    "{what} needs PyTorch, which is not installed. Install the neural extra with\n"
    '    pip install "trackability[neural]"\n'
    f"(it pins torch=={TORCH_VERSION}; for a CPU-only machine add "
    "--extra-index-url https://download.pytorch.org/whl/cpu)."
)


def _import_torch() -> Any:
    """Import and return torch (the single place it is imported; tests monkeypatch it)."""
    return importlib.import_module("torch")


def require_torch(what: str = "This model") -> Any:
    """Return the torch module, or raise ``ImportError`` saying how to install the extra."""
    try:
        return _import_torch()
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT.format(what=what)) from exc


def seed_from(random_state: Any) -> int:
    """Draw one integer seed for torch from ``random_state`` (None: fresh entropy)."""
    return int(check_random_state(random_state).integers(0, 2**31 - 1))


def check_threads(n_threads: Any) -> int:
    """Validate ``n_threads`` (None -> :data:`DEFAULT_THREADS`)."""
    if n_threads is None:
        return DEFAULT_THREADS
    if isinstance(n_threads, bool) or not isinstance(n_threads, int | np.integer) or n_threads < 1:
        raise ValueError(f"n_threads must be a positive integer or None; got {n_threads!r}.")
    return int(n_threads)


@contextlib.contextmanager
def torch_session(seed: int | None, n_threads: int) -> Iterator[Any]:
    """Run a block with torch seeded and set to ``n_threads``; restore the caller's state after.

    The global torch RNG (used by dropout and initialisers) is forked, so the caller's random
    stream is left untouched, and the caller's thread count is restored.
    """
    torch = require_torch()
    old_threads = torch.get_num_threads()
    torch.set_num_threads(int(n_threads))
    try:
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(int(seed))
            yield torch
    finally:
        torch.set_num_threads(old_threads)


class BatchCycler:
    """Endless seeded mini-batches of row indices: shuffle, walk through, reshuffle (epochs).

    Like a shuffling ``DataLoader`` cycled forever; when there are fewer rows than
    ``batch_size``, every batch is all rows in a fresh order.
    """

    def __init__(self, n: int, batch_size: int, rng: np.random.Generator) -> None:
        self.n = int(n)
        self.batch_size = min(int(batch_size), self.n)
        self.rng = rng
        self._perm = rng.permutation(self.n)
        self._pos = 0

    def __next__(self) -> np.ndarray:
        if self._pos + self.batch_size > self.n:
            self._perm = self.rng.permutation(self.n)
            self._pos = 0
        idx = self._perm[self._pos : self._pos + self.batch_size]
        self._pos += self.batch_size
        return idx

    def __iter__(self) -> BatchCycler:
        return self


def split_validation(
    n: int, fraction: float, rng: np.random.Generator, *, min_train: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded split of ``range(n)`` into (train, validation) index arrays.

    ``round(fraction * n)`` rows go to validation, but never so many that fewer than
    ``min_train`` are left for training; ``fraction=0`` gives an empty validation set.
    """
    n_val = int(round(fraction * n)) if fraction > 0 else 0
    n_val = max(0, min(n_val, n - min_train))
    perm = rng.permutation(n)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def monitoring_split(
    source: np.ndarray,
    target: np.ndarray,
    validation_fraction: float,
    rng: np.random.Generator,
    *,
    max_monitor: int = 1000,
) -> dict[str, Any]:
    """The seeded train/validation split and the cells used to monitor MMD^2 during training.

    Draws, in this order from ``rng``: a torch seed, the source split, the target split, and the
    training subsamples (``max_monitor`` cells each) on which the training MMD^2 is tracked. The
    RBF bandwidth ``gamma`` is the median heuristic on the training cells only. Shared by CellOT
    and the training-dynamics experiment, so that LAOT is monitored on exactly the same cells.

    Returns
    -------
    dict
        ``seed``, ``src_train``, ``src_val``, ``tgt_train``, ``tgt_val`` (row indices),
        ``src_monitor``, ``tgt_monitor`` (row indices into ``source``/``target``) and ``gamma``.

    """
    from trackability.metrics import median_heuristic_gamma

    seed = seed_from(rng)
    src_tr, src_val = split_validation(source.shape[0], validation_fraction, rng)
    tgt_tr, tgt_val = split_validation(target.shape[0], validation_fraction, rng)
    gamma = median_heuristic_gamma(
        source[src_tr], target[tgt_tr], max_samples=2000, random_state=seed
    )
    src_mon = src_tr[rng.permutation(src_tr.size)[:max_monitor]]
    tgt_mon = tgt_tr[rng.permutation(tgt_tr.size)[:max_monitor]]
    return {
        "seed": seed, "src_train": src_tr, "src_val": src_val, "tgt_train": tgt_tr,
        "tgt_val": tgt_val, "src_monitor": src_mon, "tgt_monitor": tgt_mon, "gamma": gamma,
    }


def check_fraction(value: Any, name: str) -> float:
    """Validate a fraction in [0, 1)."""
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a number in [0, 1); got {value!r}.") from exc
    if not (0.0 <= v < 1.0):
        raise ValueError(f"{name} must be in [0, 1); got {value!r}.")
    return v


def check_flag(value: Any, name: str, *, allow_none: bool = False) -> bool | None:
    """Validate a boolean hyper-parameter (a real ``bool``; strings such as "no" are refused)."""
    if value is None and allow_none:
        return None
    if not isinstance(value, bool | np.bool_):
        kind = "True, False or None" if allow_none else "True or False"
        raise TypeError(f"{name} must be {kind}; got {value!r}.")
    return bool(value)


def check_int(value: Any, name: str, *, minimum: int = 1) -> int:
    """Validate an integer hyper-parameter ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}.")
    return int(value)


def check_hidden(hidden: Any, name: str = "hidden") -> tuple[int, ...]:
    """Validate the hidden-layer widths of a network: one width or a non-empty sequence of them."""
    widths = hidden
    if isinstance(widths, int | np.integer) and not isinstance(widths, bool):
        widths = (int(widths),)
    try:
        widths = tuple(widths)
    except TypeError as exc:
        raise TypeError(f"{name} must be a sequence of layer widths; got {hidden!r}.") from exc
    if not widths:
        raise ValueError(f"{name} must list at least one hidden layer width.")
    return tuple(check_int(h, f"{name} width") for h in widths)


def check_label_vector(labels: Any, n: int, name: str, what: str) -> np.ndarray | None:
    """``labels`` as a 1-D array of ``n`` entries, one ``what`` per cell (None passes through).

    Only the shape is checked here; each model decides which values it accepts.
    """
    if labels is None:
        return None
    if hasattr(labels, "to_numpy"):
        labels = labels.to_numpy()
    arr = np.asarray(labels)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one {what} per cell); got shape {arr.shape}.")
    if arr.shape[0] != n:
        raise ValueError(f"{name} has {arr.shape[0]} labels but there are {n} cells.")
    return arr


def state_to_numpy(module: Any, prefix: str) -> dict[str, np.ndarray]:
    """A module's ``state_dict`` as numpy arrays under ``prefix.`` (for ``.npz`` saving)."""
    return {
        f"{prefix}.{k}": v.detach().cpu().numpy().copy() for k, v in module.state_dict().items()
    }


def numpy_to_state(module: Any, arrays: dict[str, np.ndarray], prefix: str) -> None:
    """Load arrays written by :func:`state_to_numpy` back into ``module`` (strict)."""
    torch = require_torch()
    start = prefix + "."
    state = {k[len(start) :]: torch.from_numpy(np.array(v)) for k, v in arrays.items()
             if k.startswith(start)}
    expected = set(module.state_dict())
    if set(state) != expected:
        missing, extra = sorted(expected - set(state)), sorted(set(state) - expected)
        raise ValueError(
            f"saved weights for {prefix!r} do not match the network: missing {missing}, "
            f"unexpected {extra}."
        )
    module.load_state_dict(state)


def copy_state(module: Any) -> dict[str, Any]:
    """A detached deep copy of ``module.state_dict()`` (for keeping the best checkpoint)."""
    return {k: v.detach().clone() for k, v in module.state_dict().items()}
