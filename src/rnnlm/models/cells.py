"""Elman RNN with any activation, for the activations PyTorch's fused nn.RNN lacks.

Same interface and parameter names as nn.RNN(batch_first=True): forward(x, h0) with
x (batch, time, input) and h0 (layers, batch, hidden) → (output, h_n). Each layer's input
projection is one GEMM over the whole sequence; its recurrence runs as one autograd node with
hand-written BPTT (models/recurrence.py), compiled with TorchScript where that works.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from rnnlm.models.recurrence import RECURRENCES, elman_layer

ACTIVATIONS = {
    "tanh": torch.tanh,
    "relu": torch.relu,
    "relu6": F.relu6,
    "elu": F.elu,
    "softplus": F.softplus,
    "softsign": F.softsign,
    "sigmoid": torch.sigmoid,
}


class ElmanRNN(nn.Module):
    """Stacked h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), dropout between layers."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int, activation: str,
                 dropout: float = 0.0, recurrence: str = "compiled") -> None:
        super().__init__()
        if recurrence not in RECURRENCES:
            raise ValueError(f"recurrence must be one of {RECURRENCES}, not {recurrence!r}")
        self.recurrence = recurrence  # "autograd": the plain loop, kept for benchmarks and tests
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.activation, self.dropout = activation, dropout
        self.act = ACTIVATIONS[activation]
        for k in range(num_layers):
            fan_in = input_size if k == 0 else hidden_size
            self.register_parameter(f"weight_ih_l{k}",
                                    nn.Parameter(torch.empty(hidden_size, fan_in)))
            self.register_parameter(f"weight_hh_l{k}",
                                    nn.Parameter(torch.empty(hidden_size, hidden_size)))
            self.register_parameter(f"bias_ih_l{k}", nn.Parameter(torch.empty(hidden_size)))
            self.register_parameter(f"bias_hh_l{k}", nn.Parameter(torch.empty(hidden_size)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """nn.RNN's initialization: uniform in ±1/sqrt(hidden)."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None,
                lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Run all layers over the sequence; the input projection is one GEMM per layer.
        With lengths (B,), a row's state stops changing after its last real step."""
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
            w_hh = getattr(self, f"weight_hh_l{k}")
            bias = getattr(self, f"bias_ih_l{k}") + getattr(self, f"bias_hh_l{k}")
            xw = F.linear(x, getattr(self, f"weight_ih_l{k}"), bias)  # (T, B, H)
            if self.recurrence == "autograd":
                x = self.plain_loop(xw, h0[k], w_hh, live)  # (T, B, H)
            else:
                states = elman_layer(xw, h0[k], w_hh, live, self.activation,
                                     compiled=self.recurrence == "compiled")  # (T+1, B, H)
                x = states[1:]  # (T, B, H)
            finals.append(x[-1])  # a row's state stays put after its last real step
            if k < self.num_layers - 1 and self.dropout:
                x = F.dropout(x, self.dropout, self.training)
        return x.transpose(0, 1), torch.stack(finals)  # (B, T, H), (L, B, H)

    def plain_loop(self, xw: torch.Tensor, h: torch.Tensor, w_hh: torch.Tensor,
                   live: torch.Tensor | None) -> torch.Tensor:
        """One layer as a Python loop through autograd: the reference the others must match."""
        outputs = []
        for t in range(xw.shape[0]):
            new = self.act(xw[t] + h @ w_hh.t())  # (B, H)
            h = new if live is None else torch.where(live[t], new, h)
            outputs.append(h)
        return torch.stack(outputs)  # (T, B, H)
