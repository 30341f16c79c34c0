"""fp32 GEMMs on a CPU through oneDNN rather than torch.mm's BLAS.

PyTorch sends fp32 matmuls on a CPU to its BLAS (MKL), which on some CPUs is much slower than
oneDNN at the shapes of an RNN LM (see docs/results.md); bf16 matmuls already take oneDNN
inside torch.mm. oneDNN is reached through torch.ops.mkldnn._linear_pointwise, a private op:
ONEDNN says, once per process, whether it is here and gives the public ops' numbers
(probe_onednn), and every caller takes torch.addmm / F.linear where it does not. `linear` is
F.linear with oneDNN's forward and input gradient (the weight gradient, a reduction over all
rows, stays with the BLAS: oneDNN is no faster there); `linear_add` is the per-step GEMM of
the recurrences in elman.py and gru.py.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

STEP_FROM = 256  # hidden sizes below this: the BLAS's per-call cost is lower (docs/results.md)


def use_onednn(x: Tensor, hidden: int) -> bool:
    """Whether a recurrence's per-step GEMM should take oneDNN: fp32 on a CPU where ONEDNN,
    hidden size STEP_FROM and up."""
    return ONEDNN and x.device.type == "cpu" and x.dtype == torch.float32 and hidden >= STEP_FROM


def linear_add(x: Tensor, w: Tensor, other: Tensor, out: Tensor, dnn: bool) -> None:
    """out (B, N) ← x (B, K) @ w (K, N) + other (B, N); w contiguous. oneDNN's fused linear +
    add when dnn (it wants the weight as (N, K): w.t() is that view, its fastest layout; it
    has no out= form, so its result is copied), else addmm straight into out."""
    if dnn:
        out.copy_(torch.ops.mkldnn._linear_pointwise(x, other, w.t(), None, "add"))
    else:
        torch.addmm(other, x, w, out=out)


def dnn_matmul(x: Tensor, w: Tensor, bias: Tensor | None = None) -> Tensor:
    """x (M, K) @ w (N, K)^T + bias through oneDNN; only where ONEDNN."""
    return torch.ops.mkldnn._linear_pointwise(x, w, bias, "none", [], "")


def onednn_failure() -> str | None:
    """Why the private op cannot serve (None: it can): it is missing, raises, or differs from
    addmm / F.linear on a tiny input in each layout linear_add and DnnLinear pass it."""
    if not hasattr(torch.ops.mkldnn, "_linear_pointwise"):
        return "this torch has no such op"
    x = torch.linspace(-1.0, 1.0, 15).view(3, 5)  # (M, K)
    w = torch.linspace(-2.0, 1.0, 20).view(4, 5)  # (N, K)
    b = torch.linspace(0.0, 1.0, 4)  # (N,)
    other = torch.linspace(1.0, -1.0, 12).view(3, 4)  # (M, N)
    try:
        added = torch.empty(3, 4)
        linear_add(x, w.t().contiguous(), other, added, dnn=True)
        pairs = [(added, torch.addmm(other, x, w.t())), (dnn_matmul(x, w, b), F.linear(x, w, b)),
                 (dnn_matmul(other, w.t()), other @ w)]  # the last: DnnLinear's input gradient
    except Exception as err:  # any failure of the private op means the public path
        return f"it raised {type(err).__name__}: {(str(err).strip().splitlines() or [''])[0]}"
    if not all(torch.allclose(a, ref, rtol=1e-4, atol=1e-5) for a, ref in pairs):
        return "its numbers differ from torch.addmm's and F.linear's"
    return None


def probe_onednn() -> bool:
    """Whether oneDNN's private op should serve fp32 CPU GEMMs; where oneDNN is built in but the
    op cannot serve, one RuntimeWarning says why."""
    if not torch.backends.mkldnn.is_available():
        return False  # no oneDNN in this torch: the public path is the only one
    reason = onednn_failure()
    if reason is not None:
        warnings.warn(f"torch.ops.mkldnn._linear_pointwise not used ({reason}); fp32 CPU "
                      f"GEMMs take torch.addmm and F.linear", RuntimeWarning, stacklevel=2)
    return reason is None


class DnnLinear(torch.autograd.Function):
    """y = x W^T + b for x (M, K), W (N, K): oneDNN forward and d x, BLAS d W."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, w: Tensor, b: Tensor | None) -> Tensor:
        """One oneDNN call."""
        ctx.save_for_backward(x, w)
        ctx.has_bias = b is not None
        return dnn_matmul(x, w, b)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, dy: Tensor) -> tuple[Tensor | None, ...]:
        """d x = dy W (oneDNN, W^T as a view: its fast layout), d W = dy^T x, d b = Σ dy."""
        x, w = ctx.saved_tensors
        dy = dy.contiguous()
        dx = dnn_matmul(dy, w.t()) if ctx.needs_input_grad[0] else None
        dw = dy.t() @ x if ctx.needs_input_grad[1] else None
        db = dy.sum(0) if ctx.has_bias and ctx.needs_input_grad[2] else None
        return dx, dw, db


def linear(x: Tensor, w: Tensor, b: Tensor | None = None) -> Tensor:
    """F.linear(x, w, b), through oneDNN for fp32 on a CPU outside autocast where ONEDNN."""
    if not (ONEDNN and x.device.type == "cpu" and x.dtype == w.dtype == torch.float32
            and not torch.is_autocast_enabled("cpu")):
        return F.linear(x, w, b)
    out = DnnLinear.apply(x.reshape(-1, x.shape[-1]), w.contiguous(), b)  # (M, N)
    return out.view(*x.shape[:-1], w.shape[0])


# The one switch, chosen at import: False sends every GEMM above to the public ops (tests set
# it to force that path).
ONEDNN = probe_onednn()
