"""fp32 GEMMs on a CPU through oneDNN rather than torch.mm's BLAS.

PyTorch sends fp32 matmuls on a CPU to MKL, which on this project's AMD EPYC reaches about
half of oneDNN's speed at the shapes of an RNN LM (measured: x @ W^T for (8192 × 512) @
(512 × 1536): 177 GFLOP/s through torch.addmm, 320 through oneDNN; one recurrent step
(64 × 512) @ (512 × 1536): 172 against 437). bf16 matmuls already take oneDNN inside
torch.mm. `linear` is F.linear with oneDNN's forward and input gradient (the weight gradient,
a reduction over all rows, stays with MKL: oneDNN is no faster there); `linear_add` is the
per-step GEMM of the recurrences in elman.py and gru.py.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

ONEDNN = torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")
STEP_FROM = 256  # hidden sizes below this: MKL's per-call cost is lower (measured at 2×128)


def use_onednn(x: Tensor, hidden: int) -> bool:
    """Whether a recurrence's per-step GEMM should take oneDNN: fp32 on a CPU whose torch
    has it, hidden size STEP_FROM and up."""
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
    """x (M, K) @ w (N, K)^T + bias through oneDNN."""
    return torch.ops.mkldnn._linear_pointwise(x, w, bias, "none", [], "")


class DnnLinear(torch.autograd.Function):
    """y = x W^T + b for x (M, K), W (N, K): oneDNN forward and d x, MKL d W."""

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
    """F.linear(x, w, b), through oneDNN for fp32 on a CPU outside autocast."""
    if not (ONEDNN and x.device.type == "cpu" and x.dtype == w.dtype == torch.float32
            and not torch.is_autocast_enabled("cpu")):
        return F.linear(x, w, b)
    out = DnnLinear.apply(x.reshape(-1, x.shape[-1]), w.contiguous(), b)  # (M, N)
    return out.view(*x.shape[:-1], w.shape[0])
