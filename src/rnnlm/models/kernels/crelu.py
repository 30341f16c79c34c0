"""One CReLU Elman layer's recurrence as a single autograd node: a_t = xw_t + h_{t-1} W_hh^T
(B, H/2), h_t = [relu(a_t), relu(-a_t)] (B, H), the concatenated ReLU of tf.nn.crelu.

CReLU doubles the width of what it is given, so a layer of state width H (--hidden) computes
H/2 pre-activations: W_ih is (H/2, in) and W_hh (H/2, H), half the rows of a tanh layer's.
Forward writes every state into one (T+1, B, H) buffer; backward is hand-written BPTT, as in
elman.py: d a_t = g_t[:H/2]·[a_t > 0] − g_t[H/2:]·[a_t < 0], read off the two halves of h_t,
g_{t-1} = grad_{t-1} + d a_t W_hh, then d W_hh as one GEMM over all steps.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from rnnlm.models.kernels.onednn import linear_add, use_onednn
from rnnlm.models.kernels.torchscript import compile_loops


def crelu(x: Tensor) -> Tensor:
    """[relu(x), relu(-x)] on the last dimension: (..., D) → (..., 2D)."""
    return torch.cat([torch.relu(x), torch.relu(-x)], dim=-1)


def forward_loop(xw: Tensor, h0: Tensor, w_hh: Tensor, live: Tensor | None,
                 dnn: bool) -> Tensor:
    """All states (T+1, B, H), h0 first, from xw (T, B, H/2); a row holds its state where not
    live (live: (T, B, 1) bool)."""
    steps, half = xw.shape[0], xw.shape[2]
    states = torch.empty([steps + 1, h0.shape[0], h0.shape[1]], dtype=xw.dtype,
                         device=xw.device)  # (T+1, B, H)
    states[0] = h0
    pre = torch.empty_like(xw[0])  # (B, H/2)
    w_t = w_hh.t().contiguous()  # (H, H/2)
    for t in range(steps):
        linear_add(states[t], w_t, xw[t], pre, dnn)
        h = states[t + 1]  # (B, H), written in place
        h[:, :half].copy_(pre).relu_()
        h[:, half:].copy_(pre).neg_().relu_()
        if live is not None:
            torch.where(live[t], h, states[t], out=h)
    return states


def backward_loop(grad: Tensor, states: Tensor, w_hh: Tensor, live: Tensor | None,
                  dnn: bool) -> tuple[Tensor, Tensor]:
    """BPTT from grad (T+1, B, H) of the states: (d xw (T, B, H/2), d h0 (B, H))."""
    steps, half = states.shape[0] - 1, w_hh.shape[0]
    up = (states[1:, :, :half] > 0).to(states.dtype)  # (T, B, H/2): where a_t > 0
    down = (states[1:, :, half:] > 0).to(states.dtype)  # where a_t < 0
    keep = torch.zeros([0])
    if live is not None:
        up, down = up * live, down * live
        keep = (~live).to(states.dtype)  # (T, B, 1): where the state is only carried
    d_pre = torch.empty_like(up)  # (T, B, H/2)
    buffers = [torch.empty_like(states[0]), torch.empty_like(states[0])]  # (B, H) ping-pong
    g = grad[steps]  # (B, H): the total gradient of state t + 1
    for t in range(steps - 1, -1, -1):
        torch.mul(g[:, :half], up[t], out=d_pre[t])
        d_pre[t].sub_(g[:, half:] * down[t])
        g_prev = buffers[t % 2]
        linear_add(d_pre[t], w_hh, grad[t], g_prev, dnn)
        if live is not None:
            g_prev.addcmul_(keep[t], g)
        g = g_prev
    return d_pre, g


class CReLURecurrence(torch.autograd.Function):
    """states (T+1, B, H) from xw (T, B, H/2), h0 (B, H), w_hh (H/2, H); one node, exact BPTT."""

    @staticmethod
    def forward(ctx: Any, xw: Tensor, h0: Tensor, w_hh: Tensor, live: Tensor | None,
                compiled: bool) -> Tensor:
        """Run the time loop without recording a graph."""
        loops = (forward_loop, backward_loop)
        run_forward, run_backward = compile_loops("CReLU", loops) if compiled else loops
        states = run_forward(xw, h0, w_hh, live, use_onednn(xw, h0.shape[-1]))
        ctx.save_for_backward(states, w_hh)
        ctx.live, ctx.run_backward = live, run_backward
        return states

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        """BPTT loop for d xw and d h0, then d W_hh as one GEMM over every step."""
        states, w_hh = ctx.saved_tensors
        d_pre, d_h0 = ctx.run_backward(grad.contiguous(), states, w_hh.contiguous(), ctx.live,
                                       use_onednn(states, states.shape[-1]))
        half, hidden = w_hh.shape
        d_w = d_pre.reshape(-1, half).t() @ states[:-1].reshape(-1, hidden)  # (H/2, H)
        return d_pre, d_h0, d_w, None, None


def crelu_layer(xw: Tensor, h0: Tensor, w_hh: Tensor, live: Tensor | None,
                compiled: bool = True) -> Tensor:
    """All states (T+1, B, H) of one CReLU layer, in xw's dtype (bf16 under autocast)."""
    return CReLURecurrence.apply(xw, h0.to(xw.dtype), w_hh.to(xw.dtype), live, compiled)
