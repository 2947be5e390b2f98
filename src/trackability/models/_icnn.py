"""Input-convex networks (ICNNs) for CellOT, with hand-written first and second derivatives.

CellOT's g update needs the gradient, with respect to g's weights, of a loss that depends on
``grad_x g(x)`` (the transport map). With ``torch.autograd.grad(..., create_graph=True)`` this
is a double backward through a graph of several dozen small operations, and on a CPU the
per-operation overhead, not the arithmetic, is what costs. Here the forward pass, the transport
map ``grad_x g`` and the weight gradients of both CellOT losses are written out by hand as a
few matrix products, with every parameter living in one flat buffer (so that Adam is a handful
of operations on one tensor). The maths is the same as autograd's; ``tests/test_models_neural.py``
checks every gradient against ``torch.autograd`` and a short training run against an autograd
loop.

Network (the CellOT code, ``networks/icnns.py``), hidden widths ``h_0 .. h_{K-1}``::

    z_0 = lrelu(A_0 x + b_0)^2
    z_k = lrelu(W_{k-1} z_{k-1} + A_k x + b_k)        k = 1 .. K-1
    out = W_{K-1} z_{K-1} + A_K x + b_K                (a scalar per cell)

with leaky-ReLU slope 0.2. Its input gradient is ``sum_k e_k A_k + A_K`` where
``e_{K-1} = W_{K-1} * s_{K-1}``, ``e_{k-1} = (e_k W_{k-1}) * s_{k-1}`` (``s_k = lrelu'``), and
for the first layer the square contributes ``2 lrelu(u_0) s_0``. Only that square has a
non-zero second derivative, which keeps the g update's adjoint short.

torch is imported only inside functions (the ``neural`` extra).
"""

from __future__ import annotations

import functools
import math
from typing import Any

from trackability.models._torch import require_torch

SLOPE = 0.2
#: Below this many input features the products with an ``n x d`` or ``d``-column operand run as
#: their transposes (``(A^T E^T)^T`` instead of ``E A``): MKL's single-thread sgemm takes 3-5x
#: longer for an output with fewer than 16 columns (batch 256, 257 rows of A: 112 against 34
#: microseconds at d = 11), and no longer from 16 on (benchmarks/bench_icnn_small_d.py, docs/neural.md).
SMALL_D = 16


def torch_float(torch: Any) -> Any:
    """The dtype every ICNN computation uses (float32)."""
    return torch.float32


@functools.cache
def icnn_class() -> type:
    """The ``torch.nn.Module`` of an ICNN (lazily built, so that torch is imported on use)."""
    torch = require_torch("CellOT")
    nn = torch.nn

    class ICNN(nn.Module):
        """Input-convex network ``R^d -> R`` (Amos et al., 2017) as in the CellOT code.

        ``z1 = leaky_relu(A0 x)^2``, ``z_{l+1} = leaky_relu(W_l z_l + A_l x)``,
        ``out = W_L z_L + A_L x``, slope 0.2. Convex in ``x`` when every ``W_l >= 0``.
        Initialisation as the paper: every weight uniform on [0, 0.1], A biases zero.
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
            z = act(self.A[0](x), SLOPE)
            z = z * z
            for w, a in zip(self.W[:-1], self.A[1:-1], strict=True):
                z = act(w(z) + a(x), SLOPE)
            return self.W[-1](z) + self.A[-1](x)

        def transport(self, x: Any, create_graph: bool = False) -> Any:
            """``grad_x`` of the potential by autograd (``x`` must require grad)."""
            (grad,) = torch.autograd.grad(self.forward(x).sum(), x, create_graph=create_graph)
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


class FlatICNN:
    """An ICNN's parameters in one flat buffer, with analytic forward, transport and gradients.

    The ``module``'s parameters are rebound to views of :attr:`flat` (so ``state_dict`` and
    saving keep working), laid out as ``[A_0 .. A_K weights (stacked rows) | b_0 .. b_K | W_0 ..
    W_{K-1}]``. :attr:`grad` has the same layout. All methods run without autograd.
    """

    def __init__(self, module: Any) -> None:
        torch = require_torch("CellOT")
        self.torch = torch
        self.module = module
        a_layers, w_layers = list(module.A), list(module.W)
        self.units = [layer.out_features for layer in a_layers]
        self.k = len(w_layers)  # hidden layers K
        d = a_layers[0].in_features
        self.d = d
        u_total = sum(self.units)
        n_a, n_b = u_total * d, u_total
        w_sizes = [layer.weight.numel() for layer in w_layers]
        n = n_a + n_b + sum(w_sizes)
        with torch.no_grad():
            flat = torch.empty(n, dtype=torch.float32)
            grad = torch.zeros(n, dtype=torch.float32)
            self.A = flat[:n_a].view(u_total, d)
            self.b = flat[n_a : n_a + n_b]
            self.gA = grad[:n_a].view(u_total, d)
            self.gb = grad[n_a : n_a + n_b]
            self.Wflat = flat[n_a + n_b :]
            self.gWflat = grad[n_a + n_b :]
            self.W, self.gW = [], []
            pos = n_a + n_b
            for layer, size in zip(w_layers, w_sizes, strict=True):
                shape = layer.weight.shape
                self.W.append(flat[pos : pos + size].view(shape))
                self.gW.append(grad[pos : pos + size].view(shape))
                pos += size
            row = 0
            self.blocks = []
            for layer, u in zip(a_layers, self.units, strict=True):
                self.A[row : row + u].copy_(layer.weight.float())
                self.b[row : row + u].copy_(layer.bias.float())
                layer.weight.data = self.A[row : row + u]
                layer.bias.data = self.b[row : row + u]
                self.blocks.append((row, row + u))
                row += u
            for layer, view in zip(w_layers, self.W, strict=True):
                view.copy_(layer.weight.float())
                layer.weight.data = view
        self.flat, self.grad = flat, grad
        self._w_sizes = w_sizes
        # contiguous transposed copies: products with them run faster than with .t() views
        self.At = self.A.t().contiguous()
        self.Wt = [w.t().contiguous() for w in self.W]
        # few input features: weight gradients of A go through a (d x rows) buffer (see SMALL_D)
        self._small = d < SMALL_D
        self._gAt = torch.empty(d, u_total, dtype=torch.float32) if self._small else None
        self._lrelu = torch.nn.functional.leaky_relu
        # grad * lrelu'(u) in one operation: torch's own leaky-ReLU backward kernel (and its
        # out= form, which writes into a block of a preallocated matrix)
        self._lrelu_bwd = torch.ops.aten.leaky_relu_backward.default
        self._lrelu_bwd_into = torch.ops.aten.leaky_relu_backward.grad_input

    def refresh(self) -> None:
        """Update the transposed copies after the weights changed (every step, every restore)."""
        self.At.copy_(self.A.t())
        for wt, w in zip(self.Wt, self.W, strict=True):
            wt.copy_(w.t())

    # -- passes -----------------------------------------------------------------------------------
    def forward(self, x: Any, need_out: bool = True) -> tuple[Any, Any, list, list]:
        """Forward pass: ``(out, a0, us, zs)`` (``out`` None unless ``need_out``).

        ``a0 = lrelu(u_0)``, ``us`` the pre-activations and ``zs`` the layer outputs.
        """
        torch = self.torch
        pre = torch.addmm(self.b, x, self.At)
        lo, hi = self.blocks[0]
        u = pre[:, lo:hi]
        a0 = self._lrelu(u, SLOPE)
        z = a0 * a0
        us, zs = [u], [z]
        for k in range(1, self.k):
            lo, hi = self.blocks[k]
            # in place: block k of ``pre`` becomes u_k (no copy of the strided block)
            u = pre[:, lo:hi].addmm_(z, self.Wt[k - 1])
            z = self._lrelu(u, SLOPE)
            us.append(u)
            zs.append(z)
        out = None
        if need_out:
            lo, hi = self.blocks[self.k]
            out = pre[:, lo:hi].addmm_(z, self.Wt[-1])
        return out, a0, us, zs

    def backward_input(self, cache: tuple, c: Any = None) -> tuple[Any, Any, list]:
        """Input gradient of ``sum_i c_i out_i`` (``c`` = None: all ones, i.e. the transport map).

        Returns ``(grad_x, E, deltas)``: ``E`` stacks the per-layer pre-activation adjoints
        ``e_0 .. e_{K-1}`` and ``c`` column-wise (the weight gradients of ``sum c * out`` for all
        of ``A`` and ``b`` are ``E^T x`` and ``E.sum(0)``); ``deltas[k]`` is the adjoint of
        ``z_k``.
        """
        _, a0, us, _ = cache
        n = a0.shape[0]
        # each e_k is written straight into its block of E (no concatenation afterwards)
        big_e = self.torch.empty(n, self.A.shape[0], dtype=a0.dtype)
        lo, hi = self.blocks[self.k]
        if c is None:
            big_e[:, lo:hi].fill_(1.0)
            delta = self.W[-1].expand(n, -1)
        else:
            big_e[:, lo:hi].copy_(c)
            delta = c * self.W[-1]
        deltas: list = [None] * self.k
        for k in range(self.k - 1, 0, -1):
            deltas[k] = delta
            lo, hi = self.blocks[k]
            e = big_e[:, lo:hi]
            self._lrelu_bwd_into(delta, us[k], SLOPE, False, grad_input=e)
            delta = e @ self.W[k - 1]
        deltas[0] = delta
        # z_0 = lrelu(u_0)^2: dz_0/du_0 = 2 lrelu(u_0) lrelu'(u_0)
        lo, hi = self.blocks[0]
        e = big_e[:, lo:hi]
        self._lrelu_bwd_into(delta * a0, us[0], SLOPE, False, grad_input=e)
        e.mul_(2.0)
        if self._small:
            grad_x = self.torch.mm(self.At, big_e.t()).t().contiguous()
        else:
            grad_x = big_e @ self.A
        return grad_x, big_e, deltas

    def _grad_a(self, big_e: Any, x: Any) -> None:
        """``gA = E^T x`` (the weight gradient of every ``A_k`` at once)."""
        if self._small:
            self.torch.mm(x.t(), big_e, out=self._gAt)
            self.gA.copy_(self._gAt.t())
        else:
            self.torch.mm(big_e.t(), x, out=self.gA)

    def _add_grad_a(self, lo: int, hi: int, e: Any, x: Any) -> None:
        """``gA[lo:hi] += e^T x``."""
        if self._small:
            self.gA[lo:hi].add_(self.torch.mm(x.t(), e).t())
        else:
            self.gA[lo:hi].addmm_(e.t(), x)

    def potential_gradients(self, x: Any, c: Any) -> Any:
        """Write into :attr:`grad` the weight gradient of ``sum_i c_i f(x_i)``; return ``f(x)``."""
        cache = self.forward(x)
        out, _, _, zs = cache
        _, big_e, _ = self.backward_input(cache, c)
        torch = self.torch
        self._grad_a(big_e, x)
        torch.sum(big_e, dim=0, out=self.gb)
        for k in range(self.k):
            lo, hi = self.blocks[k + 1]
            torch.mm(big_e[:, lo:hi].t(), zs[k], out=self.gW[k])
        return out

    def transport_loss_gradients(
        self, x: Any, f: FlatICNN, penalty: float, need_loss: bool = True
    ) -> float:
        """Gradient of the g loss ``mean[f(grad g(x)) - <x, grad g(x)>] + penalty * P(W)``.

        Writes the weight gradient into :attr:`grad` and returns the loss value (NaN when
        ``need_loss`` is False, which skips computing it); ``f`` is read only.
        ``P(W) = sum_l |min(W_l, 0)|_F``.
        """
        torch = self.torch
        n = x.shape[0]
        cache = self.forward(x, need_out=False)
        _, a0, us, _ = cache
        u0 = us[0]
        tx, big_e, deltas = self.backward_input(cache)
        f_cache = f.forward(tx, need_out=need_loss)
        grad_f, _, _ = f.backward_input(f_cache)
        g_t = (grad_f - x).mul_(1.0 / n)  # dL / d(transport)
        self._grad_a(big_e, g_t)
        self.gb.zero_()
        big_bar = g_t @ self.At  # adjoints of e_0 .. e_{K-1} and of the constant column
        lo, hi = self.blocks[0]
        t0 = big_bar[:, lo:hi].mul_(2.0)
        # e_0 = 2 lrelu'(u_0) * delta_0 * a0: adjoint of delta_0, and of u_0 through a0.
        delta_bar = self._lrelu_bwd(t0 * a0, u0, SLOPE, False)
        u0_bar = self._lrelu_bwd(self._lrelu_bwd(t0 * deltas[0], u0, SLOPE, False), u0, SLOPE,
                                 False)
        self._add_grad_a(lo, hi, u0_bar, x)
        torch.sum(u0_bar, dim=0, out=self.gb[lo:hi])
        for k in range(1, self.k):
            lo, hi = self.blocks[k]
            # delta_{k-1} = e_k W_{k-1}, e_k = lrelu'(u_k) * delta_k
            torch.mm(big_e[:, lo:hi].t(), delta_bar, out=self.gW[k - 1])
            e_bar = big_bar[:, lo:hi].addmm_(delta_bar, self.Wt[k - 1])
            delta_bar = self._lrelu_bwd(e_bar, us[k], SLOPE, False)
        # delta_{K-1} = W_{K-1}, broadcast over cells
        torch.sum(delta_bar, dim=0, keepdim=True, out=self.gW[-1])
        value = math.nan
        if need_loss:
            value = float(f_cache[0].mean()) - float((x * tx).sum()) / n
        if penalty > 0:
            # d/dW |min(W, 0)|_F = -relu(-W) / |relu(-W)|_F per layer (0 where W >= 0): a few
            # multi-tensor operations over all layers instead of a loop of small ones.
            neg = torch.relu(-self.Wflat)
            parts = list(torch.split(neg, self._w_sizes))
            norms = torch.stack(torch._foreach_norm(parts)).tolist()
            if any(v > 0 for v in norms):
                coefs = [-penalty / v if v > 0 else 0.0 for v in norms]
                torch._foreach_mul_(parts, coefs)
                self.gWflat.add_(neg)
                if need_loss:
                    value += penalty * sum(norms)
        return value

    def transport(self, x: Any) -> Any:
        """``grad_x`` of the potential at the rows of ``x`` (no autograd)."""
        return self.backward_input(self.forward(x, need_out=False))[0]

    def clamp_w(self) -> None:
        """Project the convexity-carrying weights onto ``W >= 0`` (one operation)."""
        self.Wflat.clamp_(min=0.0)
        self.refresh()


class FlatAdam:
    """Adam on one flat parameter buffer; the same update as ``torch.optim.Adam`` (no decay).

    The update runs as torch's fused Adam kernel (``torch._fused_adam_``, what
    ``torch.optim.Adam(fused=True)`` calls, without its per-step Python bookkeeping: 17 against
    86 microseconds per step for a 15,000-parameter ICNN); where a torch build lacks it, as the
    same formula in a few tensor operations.
    """

    def __init__(self, net: FlatICNN, lr: float, betas: tuple[float, float], eps: float = 1e-8):
        torch = net.torch
        self.net = net
        self.lr, self.b1, self.b2, self.eps = float(lr), float(betas[0]), float(betas[1]), eps
        self.m = torch.zeros_like(net.flat)
        self.v = torch.zeros_like(net.flat)
        self.t = 0
        self._fused = getattr(torch, "_fused_adam_", None)
        self._steps = torch.zeros((), dtype=torch.float32)

    def step(self, clip: float | None = None) -> None:
        """One Adam step with :attr:`FlatICNN.grad`; ``clip`` caps the gradient's norm first."""
        g = self.net.grad
        if clip is not None:
            norm = float(g.norm())
            coef = clip / (norm + 1e-6)
            if coef < 1.0:
                g.mul_(coef)
        self.t += 1
        if self._fused is not None:
            self._steps.fill_(self.t)  # the kernel reads the step count, it does not advance it
            self._fused(
                [self.net.flat], [g], [self.m], [self.v], [], [self._steps], lr=self.lr,
                beta1=self.b1, beta2=self.b2, weight_decay=0.0, eps=self.eps, amsgrad=False,
                maximize=False,
            )
        else:
            self.m.lerp_(g, 1.0 - self.b1)
            self.v.mul_(self.b2).addcmul_(g, g, value=1.0 - self.b2)
            bc1 = 1.0 - self.b1**self.t
            bc2 = 1.0 - self.b2**self.t
            denom = (self.v.sqrt() / math.sqrt(bc2)).add_(self.eps)
            self.net.flat.addcdiv_(self.m, denom, value=-self.lr / bc1)
        self.net.refresh()
