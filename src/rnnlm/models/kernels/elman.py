"""One Elman layer's recurrence h_t = act(xw_t + h_{t-1} W_hh^T) as a single autograd node,
and the activations it may use.

The input projection xw (whole sequence, one GEMM) is computed outside by autograd. Forward
writes every state into one preallocated (T+1, B, H) buffer; backward is hand-written BPTT:
one time loop of d_pre_t = g_t * act'(h_t), g_{t-1} = grad_t + d_pre_t W_hh, then dW_hh as
one GEMM over all steps. Both loops are compiled with TorchScript on first use (torchscript.py).
The per-step GEMM is onednn.linear_add: oneDNN for fp32 on a CPU, else addmm.

ACTIVATIONS are the functions themselves (the reference loop and the generation stepper call
them); activate_ and slope are the same functions in place and their derivatives, written as
branches on the name so that TorchScript can compile the loops that call them. CReLU, which
doubles its input's width, has loops of its own (crelu.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from rnnlm.models.kernels.crelu import crelu
from rnnlm.models.kernels.onednn import linear_add, use_onednn
from rnnlm.models.kernels.torchscript import compile_loops

ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {  # the names of config.ACTIVATIONS
    "tanh": torch.tanh,
    "relu": torch.relu,
    "relu6": F.relu6,
    "elu": F.elu,
    "softplus": F.softplus,
    "softsign": F.softsign,
    "sigmoid": torch.sigmoid,
    "crelu": crelu,  # (.., H/2) → (.., H)
}


def activate_(x: Tensor, activation: str) -> None:
    """Apply ACTIVATIONS[activation] in place (any but crelu)."""
    if activation == "tanh":
        x.tanh_()
    elif activation == "relu":
        x.relu_()
    elif activation == "relu6":
        x.clamp_(0.0, 6.0)
    elif activation == "elu":
        torch.nn.functional.elu_(x)
    elif activation == "softplus":
        x.copy_(torch.nn.functional.softplus(x))
    elif activation == "softsign":
        x.div_(x.abs().add_(1.0))
    else:  # sigmoid
        x.sigmoid_()


def slope(h: Tensor, activation: str) -> Tensor:
    """act'(pre) from the output h = act(pre), elementwise: all a backward pass needs."""
    if activation == "tanh":
        return 1.0 - h * h
    if activation == "relu":
        return (h > 0).to(h.dtype)
    if activation == "relu6":
        return ((h > 0) & (h < 6)).to(h.dtype)
    if activation == "elu":
        return torch.where(h > 0, torch.ones_like(h), h + 1.0)
    if activation == "softplus":  # sigmoid(pre) = 1 - exp(-h); 1 above the threshold 20
        return torch.where(h > 20, torch.ones_like(h), -torch.expm1(-h))
    if activation == "softsign":
        return (1.0 - h.abs()) ** 2
    return h * (1.0 - h)  # sigmoid


def forward_loop(xw: Tensor, h0: Tensor, w_hh: Tensor, live: Tensor | None,
                 activation: str, dnn: bool) -> Tensor:
    """All states (T+1, B, H), h0 first, from xw (T, B, H); a row holds its state where not
    live (live: (T, B, 1) bool)."""
    steps = xw.shape[0]
    states = torch.empty([steps + 1, h0.shape[0], h0.shape[1]], dtype=xw.dtype,
                         device=xw.device)  # (T+1, B, H)
    states[0] = h0
    w_t = w_hh.t().contiguous()  # (H_in, H_out)
    for t in range(steps):
        h = states[t + 1]  # (B, H), written in place
        linear_add(states[t], w_t, xw[t], h, dnn)
        activate_(h, activation)
        if live is not None:
            torch.where(live[t], h, states[t], out=h)
    return states


def backward_loop(grad: Tensor, states: Tensor, w_hh: Tensor, live: Tensor | None,
                  activation: str, dnn: bool) -> tuple[Tensor, Tensor]:
    """BPTT from grad (T+1, B, H) of the states: (d xw (T, B, H), d h0 (B, H))."""
    steps = states.shape[0] - 1
    gain = slope(states[1:], activation)  # (T, B, H)
    keep = torch.zeros([0])
    if live is not None:
        gain = gain * live
        keep = (~live).to(states.dtype)  # (T, B, 1): where the state is only carried
    d_pre = torch.empty_like(gain)  # (T, B, H)
    buffers = [torch.empty_like(states[0]), torch.empty_like(states[0])]  # (B, H) ping-pong
    g = grad[steps]  # (B, H): the total gradient of state t + 1
    for t in range(steps - 1, -1, -1):
        torch.mul(g, gain[t], out=d_pre[t])
        g_prev = buffers[t % 2]
        linear_add(d_pre[t], w_hh, grad[t], g_prev, dnn)
        if live is not None:
            g_prev.addcmul_(keep[t], g)
        g = g_prev
    return d_pre, g


class ElmanRecurrence(torch.autograd.Function):
    """states (T+1, B, H) from xw (T, B, H), h0 (B, H), w_hh (H, H); one node, exact BPTT."""

    @staticmethod
    def forward(ctx: Any, xw: Tensor, h0: Tensor, w_hh: Tensor, live: Tensor | None,
                activation: str, compiled: bool) -> Tensor:
        """Run the time loop without recording a graph."""
        loops = (forward_loop, backward_loop)
        run_forward, run_backward = compile_loops("Elman", loops) if compiled else loops
        states = run_forward(xw, h0, w_hh, live, activation,
                             use_onednn(xw, h0.shape[-1]))
        ctx.save_for_backward(states, w_hh)
        ctx.live, ctx.activation, ctx.run_backward = live, activation, run_backward
        return states

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        """BPTT loop for d xw and d h0, then d W_hh as one GEMM over every step."""
        states, w_hh = ctx.saved_tensors
        d_pre, d_h0 = ctx.run_backward(grad.contiguous(), states, w_hh.contiguous(), ctx.live,
                                       ctx.activation, use_onednn(states, states.shape[-1]))
        hidden = states.shape[-1]
        d_w = d_pre.reshape(-1, hidden).t() @ states[:-1].reshape(-1, hidden)  # (H, H)
        return d_pre, d_h0, d_w, None, None, None


def elman_layer(xw: Tensor, h0: Tensor, w_hh: Tensor, live: Tensor | None, activation: str,
                compiled: bool = True) -> Tensor:
    """All states (T+1, B, H) of one layer, in xw's dtype (bf16 under autocast)."""
    return ElmanRecurrence.apply(xw, h0.to(xw.dtype), w_hh.to(xw.dtype), live, activation,
                                 compiled)
