"""Time CellOT / Compact CellOT per outer iteration and scGen per epoch: this code vs the previous one.

CellOT's training loop used to compute the g update with ``torch.autograd.grad(...,
create_graph=True)`` (a double backward). It now uses hand-written derivatives
(``trackability.models._icnn``). The previous loop is copied below (:func:`reference_fit`, with its
ICNN module) so that both run side by side, alternately within every repeat, on the same data,
one torch thread, batch 256, 10 inner iterations. The table gives medians over repeats of

- the difference rate ``(T(2k) - T(k)) / k`` (T: CPU time of the process, one thread), which
  cancels fixed costs (split, bandwidth), and
- the plain rate ``T(2k) / 2k``,

and their ratio new / reference (ratios of side-by-side runs stay meaningful on a loaded machine;
absolute times do not). scGen's training loop did not change; its time per epoch is reported for
the docs' rerun estimate.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_neural.py            # 5 repeats
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_neural.py --quick    # 3 repeats, fewer steps
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np

ARCHS = {"CellOT": (64, 64, 64, 64), "CompactCellOT": (32, 32, 32)}


def _data(n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    y = rng.normal(size=(n, d)) @ (np.eye(d) + 0.2 * rng.normal(size=(d, d)) / np.sqrt(d)) + 1.0
    return x, y


# -- the previous implementation (autograd double backward), kept callable as the reference ------
def _reference_icnn(torch, d: int, hidden: tuple[int, ...]):
    nn = torch.nn

    class ICNN(nn.Module):
        def __init__(self) -> None:
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

        def forward(self, x):
            act = nn.functional.leaky_relu
            z = act(self.A[0](x), 0.2)
            z = z * z
            for w, a in zip(self.W[:-1], self.A[1:-1], strict=True):
                z = act(w(z) + a(x), 0.2)
            return self.W[-1](z) + self.A[-1](x)

        def transport(self, x, create_graph: bool = False):
            (grad,) = torch.autograd.grad(self.forward(x).sum(), x, create_graph=create_graph)
            return grad

        def clamp_w(self) -> None:
            with torch.no_grad():
                for w in self.W:
                    w.weight.clamp_(min=0.0)

        def negative_weight_penalty(self):
            return sum(torch.relu(-w.weight).norm() for w in self.W)

    return ICNN()


def reference_fit(x: np.ndarray, y: np.ndarray, hidden: tuple[int, ...], n_iters: int, *,
                  batch_size: int = 256, n_inner: int = 10, lr: float = 1e-4,
                  random_state: int = 0) -> float:
    """The previous CellOT training loop (as of commit 9082f34), without split or evaluation."""
    from trackability.models._torch import BatchCycler, torch_session

    rng = np.random.default_rng(random_state)
    with torch_session(int(rng.integers(2**31 - 1)), 1) as torch:
        f, g = _reference_icnn(torch, x.shape[1], hidden), _reference_icnn(torch, x.shape[1], hidden)
        opt_f = torch.optim.Adam(f.parameters(), lr=lr, betas=(0.5, 0.9))
        opt_g = torch.optim.Adam(g.parameters(), lr=lr, betas=(0.5, 0.9))
        xt = torch.as_tensor(x, dtype=torch.float32)
        yt = torch.as_tensor(y, dtype=torch.float32)
        src, tgt = BatchCycler(xt.shape[0], batch_size, rng), BatchCycler(yt.shape[0], batch_size, rng)
        lg = lf = 0.0
        for _ in range(n_iters):
            yb = yt[next(tgt)]
            f.requires_grad_(False)
            for _ in range(n_inner):
                xb = xt[next(src)].requires_grad_(True)
                tx = g.transport(xb, create_graph=True)
                loss_g = (f(tx) - (xb * tx).sum(-1, keepdim=True)).mean()
                loss_g = loss_g + g.negative_weight_penalty()
                opt_g.zero_grad(set_to_none=True)
                loss_g.backward()
                opt_g.step()
            f.requires_grad_(True)
            xb = xt[next(src)].requires_grad_(True)
            tx = g.transport(xb).detach()
            loss_f = (-f(tx) + f(yb)).mean()
            opt_f.zero_grad(set_to_none=True)
            loss_f.backward()
            opt_f.step()
            f.clamp_w()
            lg, lf = loss_g.detach().item(), loss_f.detach().item()
    return lg + lf


def _new_fit(cls, x, y, n: int) -> None:
    cls(max_iter=n, selection="last", early_stopping=False, validation_fraction=0.0,
        log_every=n, eval_every=n, n_threads=1, random_state=0).fit(x, y)


def _timed(fn: Callable[[], object]) -> float:
    """CPU seconds of this process (one thread): far less sensitive to other jobs than wall time."""
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def _rates(run: Callable[[int], object], k: int) -> tuple[float, float]:
    t2 = _timed(lambda: run(2 * k))
    t1 = _timed(lambda: run(k))
    return (t2 - t1) / k, t2 / (2 * k)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats and fewer iterations")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--dims", type=int, nargs="+", default=[11, 50])
    parser.add_argument("--models", nargs="+", default=["CellOT", "CompactCellOT", "ScGen"])
    args = parser.parse_args()

    import torch

    from trackability.models import CellOT, CompactCellOT, ScGen

    torch.set_num_threads(1)
    repeats = args.repeats or (3 if args.quick else 5)
    k_iter = 10 if args.quick else 30  # outer iterations in the short fit
    k_epoch = 1 if args.quick else 2
    classes = {"CellOT": CellOT, "CompactCellOT": CompactCellOT}
    print(f"# bench_neural: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f}, repeats={repeats}, one torch thread")
    print("| model | d | per | reference (CPU ms) | new (CPU ms) | new / reference | "
          "reference plain (CPU ms) | new plain (CPU ms) | new / reference (plain) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in args.models:
        for d in args.dims:
            if name in classes:
                x, y = _data(2000, d)
                hidden = ARCHS[name]
                runs = {
                    "reference": lambda n, h=hidden, x=x, y=y: reference_fit(x, y, h, n),
                    "new": lambda n, c=classes[name], x=x, y=y: _new_fit(c, x, y, n),
                }
                unit, k = f"outer iteration ({'x'.join(map(str, hidden))}, 10 g + 1 f)", k_iter
            else:
                x, y = _data(1000, d)
                runs = {"new": lambda n, x=x, y=y: ScGen(
                    max_epochs=n, early_stopping=False, eval_every=10**6, n_threads=1).fit(x, y)}
                unit, k = "epoch (2,000 cells, batch 128, 800 hidden)", k_epoch
            for run in runs.values():
                run(1)  # warm-up: lazy imports, allocator
            diff: dict[str, list[float]] = {key: [] for key in runs}
            plain: dict[str, list[float]] = {key: [] for key in runs}
            for _ in range(repeats):
                for key, run in runs.items():  # alternate: background load hits both alike
                    a, b = _rates(run, k)
                    diff[key].append(a)
                    plain[key].append(b)
            med = {key: 1e3 * statistics.median(v) for key, v in diff.items()}
            medp = {key: 1e3 * statistics.median(v) for key, v in plain.items()}
            ref, refp = med.get("reference", np.nan), medp.get("reference", np.nan)
            print(f"| {name} | {d} | {unit} | {ref:.1f} | {med['new']:.1f} | "
                  f"{med['new'] / ref:.2f} | {refp:.1f} | {medp['new']:.1f} | "
                  f"{medp['new'] / refp:.2f} |", flush=True)


if __name__ == "__main__":
    main()
