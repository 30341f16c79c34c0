"""The exported networks as plain tensor programs that torch.onnx can trace: a recurrent LM's
step and sequence, and the transformer's windowed read, each computing exactly what the
PyTorch model computes.

The training kernels (TorchScript loops, hand-written BPTT, oneDNN calls) cannot be traced,
so the recurrent programs restate nn.LSTM's, nn.GRU's and the Elman layer's equations from the
same weights; a sequence runs each layer's recurrence as torch's `scan`, which the exporter
writes as an ONNX Scan over a time axis of any length. The transformer's read in windows
(TransformerLanguageModel._read) becomes gathers whose index arithmetic is on tensors, so one
graph serves any batch, length and context.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch._higher_order_ops.scan import scan

from rnnlm.models.kernels.elman import ACTIVATIONS
from rnnlm.models.rnn import RNNLanguageModel
from rnnlm.models.transformer import TransformerLanguageModel

Carry = tuple[Tensor, ...]  # one layer's state: (h,), or (h, c) for the LSTM
Update = Callable[[Carry, Tensor, Tensor, Tensor], Carry]  # (carry, xw, W_hh, b_hh) → carry


def lstm_update(carry: Carry, xw: Tensor, w_hh: Tensor, b_hh: Tensor) -> Carry:
    """nn.LSTM's step from xw = W_ih x + b_ih (B, 4H), gates in PyTorch's order (i f g o)."""
    h, c = carry  # (B, H) each
    i, f, g, o = (xw + h @ w_hh.t() + b_hh).chunk(4, dim=-1)  # (B, H) each
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def gru_update(carry: Carry, xw: Tensor, w_hh: Tensor, b_hh: Tensor) -> Carry:
    """nn.GRU's step from xw = W_ih x + b_ih (B, 3H), gates (r z n); b_hn stays inside r."""
    (h,) = carry  # (B, H)
    x_r, x_z, x_n = xw.chunk(3, dim=-1)  # (B, H) each
    h_r, h_z, h_n = (h @ w_hh.t() + b_hh).chunk(3, dim=-1)
    r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)
    return ((1 - z) * n + z * h,)


def elman_update(act: Callable[[Tensor], Tensor]) -> Update:
    """The Elman step h = act(W_ih x + b_ih + W_hh h + b_hh) for one activation."""
    def update(carry: Carry, xw: Tensor, w_hh: Tensor, b_hh: Tensor) -> Carry:
        return (act(xw + carry[0] @ w_hh.t() + b_hh),)

    return update


def update_for(cell: str, activation: str) -> Update:
    """The one-step update of a recurrent cell."""
    if cell == "lstm":
        return lstm_update
    if cell == "gru":
        return gru_update
    return elman_update(ACTIVATIONS[activation])


class Recurrent(nn.Module):
    """A recurrent LM as traceable tensor code, from the model's own parameters (fp32)."""

    def __init__(self, model: RNNLanguageModel) -> None:
        super().__init__()
        cfg = model.cfg
        self.update, self.layers = update_for(cfg.cell, cfg.activation), cfg.layers
        self.pieces = 2 if cfg.cell == "lstm" else 1  # state tensors: h, or h and c
        self.embed = model.embed
        self.rnn, self.head = model.rnn, model.head

    def weights(self, k: int) -> list[Tensor]:
        """Layer k's W_ih, W_hh, b_ih, b_hh (PyTorch's names in every kernel)."""
        return [getattr(self.rnn, f"{name}_l{k}") for name in
                ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]

    def first_input(self, ids: Tensor) -> Tensor:
        """Layer 0's W_ih x + b_ih for ids (...): the embedding's projection, or for one-hot
        input the id's column of W_ih."""
        w_ih, _, b_ih, _ = self.weights(0)
        if self.embed is None:
            return F.embedding(ids, w_ih.t()) + b_ih  # (..., G·H)
        return self.embed(ids) @ w_ih.t() + b_ih  # (..., G·H)


class RecurrentStep(Recurrent):
    """One token per stream: ids (B,) and the state → logits (B, V) and the new state."""

    def forward(self, ids: Tensor, *state: Tensor) -> tuple[Tensor, ...]:
        """state: h (L, B, H), and c (L, B, H) for the LSTM."""
        x, finals = self.first_input(ids), []  # (B, G·H)
        for k in range(self.layers):
            w_ih, w_hh, b_ih, b_hh = self.weights(k)
            if k:
                x = x @ w_ih.t() + b_ih  # (B, G·H)
            carry = self.update(tuple(s[k] for s in state), x, w_hh, b_hh)
            finals.append(carry)
            x = carry[0]  # (B, H)
        logits = self.head(x)  # (B, V)
        return (logits, *(torch.stack(part) for part in zip(*finals, strict=True)))


class RecurrentSequence(Recurrent):
    """Many tokens per stream: ids (B, T) and the state → logits (B, T, V) and the final
    state; each layer's input projection is one GEMM, its recurrence one Scan over T."""

    def forward(self, ids: Tensor, *state: Tensor) -> tuple[Tensor, ...]:
        """state: h (L, B, H), and c (L, B, H) for the LSTM."""
        x, finals = self.first_input(ids.t()), []  # (T, B, G·H): time-major for the scan
        for k in range(self.layers):
            w_ih, w_hh, b_ih, b_hh = self.weights(k)
            if k:
                x = x @ w_ih.t() + b_ih  # (T, B, G·H)

            def step(carry: Carry, xw: Tensor, w_hh: Tensor = w_hh, b_hh: Tensor = b_hh
                     ) -> tuple[Carry, Tensor]:
                new = self.update(carry, xw, w_hh, b_hh)
                return new, new[0].clone()  # scan's outputs may not alias its carry

            carry, x = scan(step, tuple(s[k] for s in state), x)  # x: (T, B, H)
            finals.append(carry)
        logits = self.head(x.transpose(0, 1))  # (B, T, V)
        return (logits, *(torch.stack(part) for part in zip(*finals, strict=True)))


class TransformerSequence(nn.Module):
    """The transformer's forward as gathers: ids (B, T) and the context (1, B, C = block − 1)
    → logits (B, T, V) and the new context.

    TransformerLanguageModel drops the context's columns empty in every row and reads the
    rest in windows of `block` positions ending at b_0 = min(n, max(block, start + stride)),
    then every `stride` = block // 2 further. Here every window is `block` wide over the
    untrimmed (B, C + T) ids, where columns that are empty in every row are never attended
    to and take no position, so the result is the same; the windows are ceil(T / stride) (at
    most one more than the model reads, never fewer), batched as one pass.
    """

    def __init__(self, model: TransformerLanguageModel) -> None:
        super().__init__()
        self.model, self.block = model, model.block
        self.stride = max(1, model.block // 2)

    def forward(self, ids: Tensor, context: Tensor) -> tuple[Tensor, Tensor]:
        """Logits (B, T, V) and the last C ids + 1 (1, B, C), 0 where empty."""
        batch, steps = ids.shape
        block, stride, width = self.block, self.stride, self.block - 1
        full = torch.cat([context[0], ids + 1], 1)  # (B, C + T), id + 1, 0 = no token
        filled = (full[:, :width] != 0).any(0)  # (C,) context columns some row fills
        lead = (filled.long().cumsum(0) == 0).sum()  # () the empty ones before the first
        n, start = width + steps - lead, width - lead  # () in the model's trimmed columns
        first = torch.minimum(n, torch.clamp(start + stride, min=block))  # () b_0
        windows = torch.arange((steps + stride - 1) // stride, device=ids.device)  # (W,)
        ends = torch.minimum(n, first + windows * stride)  # (W,) each window's end, trimmed
        cols = lead + ends[:, None] - block + torch.arange(block, device=ids.device)  # (W, S)
        hidden = self.read(full[:, cols].flatten(0, 1))  # (B·W, S, H)
        hidden = hidden.unflatten(0, (batch, -1))  # (B, W, S, H)
        p = start + torch.arange(steps, device=ids.device)  # (T,) new positions, trimmed
        which = torch.where(p < first, 0, (p - first) // stride + 1)  # (T,) their window
        local = p - (ends[which] - block)  # (T,) their column in it
        logits = self.model.head(self.model.norm(hidden[:, which, local]))  # (B, T, V)
        return logits, full[:, steps:][None]  # (1, B, C)

    def read(self, w: Tensor) -> Tensor:
        """The blocks' outputs (N, S, H) for windows w (N, S) of ids + 1, as the model's
        _window with empty slots: positions count real ids, empty slots attend to
        themselves only and are never attended to."""
        m, s = self.model, w.shape[1]
        real = w != 0  # (N, S)
        pos = (real.cumsum(1) - 1).clamp_min(0)  # (N, S)
        causal = torch.ones(s, s, dtype=torch.bool, device=w.device).tril()
        alone = torch.eye(s, dtype=torch.bool, device=w.device)
        mask = (causal & (real[:, None, :] | alone))[:, None]  # (N, 1, S, S)
        x = m.embed((w - 1).clamp_min(0)) + m.pos(pos)  # (N, S, H)
        for block in m.blocks:
            x = block(x, mask)
        return x


class TransformerStep(nn.Module):
    """One token per stream: ids (B,) and the context (1, B, C) → logits (B, V), context."""

    def __init__(self, model: TransformerLanguageModel) -> None:
        super().__init__()
        self.sequence = TransformerSequence(model)

    def forward(self, ids: Tensor, context: Tensor) -> tuple[Tensor, Tensor]:
        """The sequence program on T = 1."""
        logits, context = self.sequence(ids[:, None], context)  # (B, 1, V)
        return logits[:, 0], context
