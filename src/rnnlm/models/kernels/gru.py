"""One GRU layer's recurrence as a single autograd node with hand-written BPTT, for CPUs.

PyTorch's GRU has no oneDNN kernel on a CPU: nn.GRU there runs its time loop op by op
through autograd. Here the input projection xw = x W_ih^T + b_ih of the whole sequence is one
GEMM outside (by autograd); the loop below does, per step, with PyTorch's gate order r, z, n:

    hw = h W_hh^T + b_hh                      (B, 3H), one GEMM
    r = σ(xw_r + hw_r),  z = σ(xw_z + hw_z),  n = tanh(xw_n + r ⊙ hw_n)
    h' = (1 − z) ⊙ n + z ⊙ h = n + z ⊙ (h − n)

and keeps r, z, n, hw_n for the backward loop, which returns d xw, d hw (whose sum over steps
is d b_hh and whose GEMM with the states is d W_hh, both outside the loop) and d h0. Both
loops are compiled by TorchScript like the Elman ones (elman.py).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from rnnlm.models.kernels.onednn import linear_add, use_onednn
from rnnlm.models.kernels.torchscript import compile_loops


def gru_forward(xw: Tensor, h0: Tensor, w_hh: Tensor, b_hh: Tensor, live: Tensor | None,
                dnn: bool) -> tuple[Tensor, Tensor]:
    """States (T+1, B, H), h0 first, and the saved gates (T, B, 4H) = [r, z, n, hw_n] from
    xw (T, B, 3H); a row keeps its state where not live (live: (T, B, 1) bool)."""
    steps, batch, hidden = xw.shape[0], h0.shape[0], h0.shape[1]
    states = torch.empty([steps + 1, batch, hidden], dtype=xw.dtype, device=xw.device)
    gates = torch.empty([steps, batch, 4 * hidden], dtype=xw.dtype, device=xw.device)
    states[0] = h0
    w_t = w_hh.t().contiguous()  # (H, 3H)
    bias = b_hh.expand(batch, 3 * hidden)  # (B, 3H), a view
    hw = torch.empty([batch, 3 * hidden], dtype=xw.dtype, device=xw.device)  # (B, 3H)
    for t in range(steps):
        linear_add(states[t], w_t, bias, hw, dnn)
        g = gates[t]  # (B, 4H): r | z | n | hw_n
        rz, n, hw_n = g[:, : 2 * hidden], g[:, 2 * hidden: 3 * hidden], g[:, 3 * hidden:]
        torch.add(xw[t, :, : 2 * hidden], hw[:, : 2 * hidden], out=rz)
        rz.sigmoid_()
        hw_n.copy_(hw[:, 2 * hidden:])
        torch.addcmul(xw[t, :, 2 * hidden:], g[:, :hidden], hw_n, out=n)
        n.tanh_()
        h = states[t + 1]  # (B, H), written in place
        torch.sub(states[t], n, out=h)
        h.mul_(g[:, hidden: 2 * hidden]).add_(n)
        if live is not None:
            torch.where(live[t], h, states[t], out=h)
    return states, gates


def gru_backward(grad: Tensor, states: Tensor, gates: Tensor, w_hh: Tensor,
                 live: Tensor | None, dnn: bool) -> tuple[Tensor, Tensor, Tensor]:
    """BPTT from grad (T+1, B, H) of the states: (d xw (T, B, 3H), d hw (T, B, 3H),
    d h0 (B, H))."""
    steps, hidden = gates.shape[0], states.shape[2]
    d_xw = torch.empty(gates.shape[0], gates.shape[1], 3 * hidden, dtype=gates.dtype,
                       device=gates.device)
    d_hw = torch.empty_like(d_xw)
    keep = torch.zeros([0])
    if live is not None:
        keep = (~live).to(states.dtype)  # (T, B, 1): where the state is only carried
    buffers = [torch.empty_like(states[0]), torch.empty_like(states[0])]  # (B, H) ping-pong
    g = grad[steps]  # (B, H): the total gradient of state t + 1
    for t in range(steps - 1, -1, -1):
        r, z = gates[t, :, :hidden], gates[t, :, hidden: 2 * hidden]
        n, hw_n = gates[t, :, 2 * hidden: 3 * hidden], gates[t, :, 3 * hidden:]
        g_new = g if live is None else g * live[t]  # reaches the gates only where live
        dx, dh = d_xw[t], d_hw[t]
        d_n = dx[:, 2 * hidden:]  # d of n's pre-activation
        torch.mul(g_new, 1.0 - z, out=d_n)
        d_n.mul_(1.0 - n * n)
        torch.mul(d_n, r, out=dh[:, 2 * hidden:])  # d hw_n
        d_r = dx[:, :hidden]
        torch.mul(d_n, hw_n, out=d_r)
        d_r.mul_(r * (1.0 - r))
        d_z = dx[:, hidden: 2 * hidden]
        torch.mul(g_new, states[t] - n, out=d_z)
        d_z.mul_(z * (1.0 - z))
        dh[:, : 2 * hidden].copy_(dx[:, : 2 * hidden])
        g_prev = buffers[t % 2]
        linear_add(dh, w_hh, grad[t], g_prev, dnn)  # (B, H)
        g_prev.addcmul_(g_new, z)
        if live is not None:
            g_prev.addcmul_(keep[t], g)
        g = g_prev
    return d_xw, d_hw, g


class GRURecurrence(torch.autograd.Function):
    """states (T+1, B, H) from xw (T, B, 3H), h0 (B, H), w_hh (3H, H), b_hh (3H,)."""

    @staticmethod
    def forward(ctx: Any, xw: Tensor, h0: Tensor, w_hh: Tensor, b_hh: Tensor,
                live: Tensor | None, compiled: bool) -> Tensor:
        """Run the time loop without recording a graph."""
        run_forward, run_backward = compile_loops("GRU", (gru_forward, gru_backward)) \
            if compiled else (gru_forward, gru_backward)
        states, gates = run_forward(xw, h0, w_hh, b_hh, live, use_onednn(xw, h0.shape[-1]))
        ctx.save_for_backward(states, gates, w_hh)
        ctx.live, ctx.run_backward = live, run_backward
        return states

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        """BPTT loop, then d W_hh and d b_hh over every step at once."""
        states, gates, w_hh = ctx.saved_tensors
        d_xw, d_hw, d_h0 = ctx.run_backward(grad.contiguous(), states, gates,
                                            w_hh.contiguous(), ctx.live,
                                            use_onednn(states, states.shape[-1]))
        hidden = states.shape[-1]
        flat = d_hw.reshape(-1, 3 * hidden)  # (T·B, 3H)
        d_w = flat.t() @ states[:-1].reshape(-1, hidden)  # (3H, H)
        return d_xw, d_h0, d_w, flat.sum(0), None, None


def gru_layer(xw: Tensor, h0: Tensor, w_hh: Tensor, b_hh: Tensor, live: Tensor | None,
              compiled: bool = True) -> Tensor:
    """All states (T+1, B, H) of one GRU layer, in xw's dtype (bf16 under autocast)."""
    dtype = xw.dtype
    return GRURecurrence.apply(xw, h0.to(dtype), w_hh.to(dtype), b_hh.to(dtype), live,
                               compiled)
