"""The decoder's recurrence, one step at a time: nn.LSTM's / nn.GRU's parameters (same names,
so the weights load into either) run as two matrix products per layer and step. On a CPU the
fused kernel re-lays its weights out on every call, which costs more than a one-token step.

The first layer's input is [embedding; fed-back attentional vector]; the embedding's share of
its input product is computed for all target positions at once (`project`), so each step
multiplies only the part that depends on the previous step."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from rnnlm.models.state import State

GATES = {"lstm": 4, "gru": 3}  # blocks of rows in each weight: i f g o (LSTM), r z n (GRU)


class StepRNN(nn.Module):
    """Stacked LSTM/GRU layers stepped by hand; state (L, B, H), or (h, c) for the LSTM."""

    def __init__(self, cell: str, input_size: int, hidden: int, layers: int, dropout: float,
                 projected: int) -> None:
        super().__init__()
        self.cell, self.hidden, self.layers, self.projected = cell, hidden, layers, projected
        self.drop = nn.Dropout(dropout)
        rows = GATES[cell] * hidden
        for k in range(layers):
            inputs = input_size if k == 0 else hidden
            self.register_parameter(f"weight_ih_l{k}", nn.Parameter(torch.empty(rows, inputs)))
            self.register_parameter(f"weight_hh_l{k}", nn.Parameter(torch.empty(rows, hidden)))
            self.register_parameter(f"bias_ih_l{k}", nn.Parameter(torch.empty(rows)))
            self.register_parameter(f"bias_hh_l{k}", nn.Parameter(torch.empty(rows)))
        bound = hidden ** -0.5  # nn.LSTM's initialization
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """The first layer's input product of the first `projected` input features (the
        embeddings) (..., E) → (..., G·H), bias included."""
        return F.linear(x, self.weight_ih_l0[:, : self.projected], self.bias_ih_l0)

    def forward(self, projected: torch.Tensor, rest: torch.Tensor | None, state: State
                ) -> tuple[torch.Tensor, State]:
        """One step: projected (B, G·H) from project(), the rest of the first layer's input
        (B, I − E) or None; returns the top layer's output (B, H) and the new state."""
        h_all, c_all = state if isinstance(state, tuple) else (state, None)
        hs, cs = [], []
        x = None
        for k in range(self.layers):
            w_hh, b_hh = getattr(self, f"weight_hh_l{k}"), getattr(self, f"bias_hh_l{k}")
            if k == 0:
                gi = projected if rest is None else \
                    projected + F.linear(rest, self.weight_ih_l0[:, self.projected:])
            else:
                gi = F.linear(self.drop(x), getattr(self, f"weight_ih_l{k}"),
                              getattr(self, f"bias_ih_l{k}"))  # (B, G·H)
            gh = F.linear(h_all[k], w_hh, b_hh)  # (B, G·H)
            if self.cell == "lstm":
                i, f, g, o = (gi + gh).chunk(4, -1)  # (B, H) each
                c = torch.sigmoid(f) * c_all[k] + torch.sigmoid(i) * torch.tanh(g)
                x = torch.sigmoid(o) * torch.tanh(c)
                cs.append(c)
            else:
                i_r, i_z, i_n = gi.chunk(3, -1)
                h_r, h_z, h_n = gh.chunk(3, -1)
                r, z = torch.sigmoid(i_r + h_r), torch.sigmoid(i_z + h_z)
                n = torch.tanh(i_n + r * h_n)
                x = (1 - z) * n + z * h_all[k]
            hs.append(x)
        h = torch.stack(hs)  # (L, B, H)
        return x, ((h, torch.stack(cs)) if self.cell == "lstm" else h)
