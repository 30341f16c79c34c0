"""Recurrent layers with a hoisted input projection and hand-written BPTT: the Elman RNN with
any activation (PyTorch's fused nn.RNN has only tanh and relu) and the GRU (nn.GRU has no
oneDNN kernel on a CPU, so rnnlm uses this one there).

Same interface and parameter names as nn.RNN / nn.GRU (batch_first=True): forward(x, h0)
with x (batch, time, input) and h0 (layers, batch, hidden) → (output, h_n), so checkpoints
load into either. Each layer's input projection is one GEMM over the whole sequence; its
recurrence runs as one autograd node (elman.py, gru.py), compiled with
TorchScript where that works.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import torch
import torch.nn.functional as F
from torch import nn

from rnnlm.models.kernels.crelu import crelu_layer
from rnnlm.models.kernels.elman import ACTIVATIONS, elman_layer
from rnnlm.models.kernels.gru import gru_layer
from rnnlm.models.kernels.onednn import linear

RECURRENCES = ("compiled", "custom", "autograd")  # how an ElmanRNN runs its time loop


class HoistedRNN(nn.Module, ABC):
    """Stacked recurrent layers, `gates` weight blocks each, dropout between layers (locked:
    one mask per row for all its steps); each layer's input projection is one GEMM over the
    sequence, its time loop one autograd node."""

    gates = 1

    def __init__(self, input_size: int, hidden_size: int, num_layers: int,
                 dropout: float = 0.0, recurrence: str = "compiled", rows: int | None = None,
                 locked: bool = False) -> None:
        """rows: of each weight (default gates × hidden; CReLU's Elman layer has hidden / 2)."""
        super().__init__()
        if recurrence not in RECURRENCES:
            raise ValueError(f"recurrence must be one of {RECURRENCES}, not {recurrence!r}")
        self.recurrence = recurrence  # "autograd": the plain loop, kept for benchmarks and tests
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.dropout, self.locked = dropout, locked
        rows = rows or self.gates * hidden_size
        for k in range(num_layers):
            fan_in = input_size if k == 0 else hidden_size
            self.register_parameter(f"weight_ih_l{k}", nn.Parameter(torch.empty(rows, fan_in)))
            self.register_parameter(f"weight_hh_l{k}",
                                    nn.Parameter(torch.empty(rows, hidden_size)))
            self.register_parameter(f"bias_ih_l{k}", nn.Parameter(torch.empty(rows)))
            self.register_parameter(f"bias_hh_l{k}", nn.Parameter(torch.empty(rows)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's initialization: uniform in ±1/sqrt(hidden)."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    @abstractmethod
    def layer(self, k: int, x: torch.Tensor, h0: torch.Tensor, live: torch.Tensor | None
              ) -> torch.Tensor:
        """Layer k's outputs (T, B, H) from its inputs x (T, B, I) and first state h0 (B, H)."""

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None,
                lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Run all layers over the sequence. With lengths (B,), a row's state stops changing
        after its last real step."""
        batch, steps, _ = x.shape  # (B, T, I)
        if h0 is None:
            h0 = x.new_zeros(self.num_layers, batch, self.hidden_size)  # (L, B, H)
        live = None
        if lengths is not None:
            live = torch.arange(steps)[:, None] < lengths.cpu()[None, :]  # (T, B)
            live = live.to(x.device)[:, :, None]  # (T, B, 1)
        x = x.transpose(0, 1)  # (T, B, I): time-major, so each step's rows are contiguous
        finals = []
        for k in range(self.num_layers):
            x = self.layer(k, x, h0[k], live)  # (T, B, H)
            finals.append(x[-1])  # a row's state stays put after its last real step
            if k == self.num_layers - 1 or not self.dropout:
                continue
            p = self.dropout
            if self.locked and self.training:  # one mask (B, H) for every step of a row
                x = x * x.new_empty(batch, self.hidden_size).bernoulli_(1 - p).div_(1 - p)
            else:
                x = F.dropout(x, p, self.training)
        return x.transpose(0, 1), torch.stack(finals)  # (B, T, H), (L, B, H)

    def weights(self, k: int) -> list[torch.Tensor]:
        """Layer k's W_ih, W_hh, b_ih, b_hh."""
        return [getattr(self, f"{name}_l{k}") for name in
                ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]


class ElmanRNN(HoistedRNN):
    """Stacked h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh); with crelu, W has hidden / 2
    rows, whose pre-activations a give h = [relu(a), relu(-a)]."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int, activation: str,
                 dropout: float = 0.0, recurrence: str = "compiled", locked: bool = False
                 ) -> None:
        rows = hidden_size // 2 if activation == "crelu" else hidden_size
        super().__init__(input_size, hidden_size, num_layers, dropout, recurrence, rows, locked)
        self.activation = activation
        self.act = ACTIVATIONS[activation]

    def layer(self, k: int, x: torch.Tensor, h0: torch.Tensor, live: torch.Tensor | None
              ) -> torch.Tensor:
        """Both biases go into the one input GEMM."""
        w_ih, w_hh, b_ih, b_hh = self.weights(k)
        xw = linear(x, w_ih, b_ih + b_hh)  # (T, B, H), or (T, B, H/2) for crelu
        if self.recurrence == "autograd":
            return self.plain_loop(xw, h0, w_hh, live)
        compiled = self.recurrence == "compiled"
        if self.activation == "crelu":
            return crelu_layer(xw, h0, w_hh, live, compiled)[1:]  # (T, B, H)
        states = elman_layer(xw, h0, w_hh, live, self.activation, compiled)  # (T+1, B, H)
        return states[1:]

    def plain_loop(self, xw: torch.Tensor, h: torch.Tensor, w_hh: torch.Tensor,
                   live: torch.Tensor | None) -> torch.Tensor:
        """One layer as a Python loop through autograd: the reference the others must match."""
        outputs = []
        for t in range(xw.shape[0]):
            new = self.act(xw[t] + h @ w_hh.t())  # (B, H)
            h = new if live is None else torch.where(live[t], new, h)
            outputs.append(h)
        return torch.stack(outputs)  # (T, B, H)


class GRU(HoistedRNN):
    """Stacked GRU layers with nn.GRU's equations, gate order (r, z, n) and parameters."""

    gates = 3

    def __init__(self, input_size: int, hidden_size: int, num_layers: int,
                 dropout: float = 0.0, recurrence: str = "compiled", locked: bool = False
                 ) -> None:
        if recurrence == "autograd":
            raise ValueError("GRU's reference loop is nn.GRU itself; use compiled or custom")
        super().__init__(input_size, hidden_size, num_layers, dropout, recurrence, locked=locked)

    def layer(self, k: int, x: torch.Tensor, h0: torch.Tensor, live: torch.Tensor | None
              ) -> torch.Tensor:
        """b_hh stays inside the loop: n's r gates W_hn h + b_hn."""
        w_ih, w_hh, b_ih, b_hh = self.weights(k)
        xw = linear(x, w_ih, b_ih)  # (T, B, 3H)
        states = gru_layer(xw, h0, w_hh, b_hh, live,
                           compiled=self.recurrence == "compiled")  # (T+1, B, H)
        return states[1:]
