"""Attention over the encoder's outputs: additive (Bahdanau et al. 2015) or multiplicative
(Luong et al. 2015: dot, general). Padding gets a score of −inf, so its weight is exactly 0
and each row's weights over the real source tokens sum to 1.

With coverage (See et al. 2017) the additive score also sees how much attention each
source position has had so far."""

from __future__ import annotations

import torch
from torch import nn


class Attention(nn.Module):
    """scores(query (B, H), keys) → weights (B, S) → context (B, H) over the values."""

    def __init__(self, kind: str, hidden: int, coverage: bool = False) -> None:
        super().__init__()
        self.kind = kind
        if kind == "bahdanau":  # v · tanh(W_k k + W_q q (+ w_c c))
            self.key_proj = nn.Linear(hidden, hidden, bias=False)
            self.query_proj = nn.Linear(hidden, hidden)
            self.v = nn.Linear(hidden, 1, bias=False)
            self.coverage_proj = nn.Linear(1, hidden, bias=False) if coverage else None
        elif kind == "general":  # q · W k
            self.key_proj = nn.Linear(hidden, hidden, bias=False)

    def keys(self, values: torch.Tensor) -> torch.Tensor:
        """The keys (B, S, H), computed once per source: projected values, or the values."""
        return values if self.kind == "dot" else self.key_proj(values)

    def forward(self, query: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                mask: torch.Tensor, coverage: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """(context (B, H), weights (B, S)); mask (B, S) is True at real source tokens."""
        if self.kind == "bahdanau":
            features = keys + self.query_proj(query)[:, None]  # (B, S, H)
            if coverage is not None and self.coverage_proj is not None:
                features = features + self.coverage_proj(coverage[..., None])  # (B, S, H)
            scores = self.v(torch.tanh(features)).squeeze(-1)  # (B, S)
        else:
            scores = torch.bmm(keys, query[..., None]).squeeze(-1)  # (B, S)
        scores = scores.masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=-1).to(values.dtype)  # (B, S)
        context = torch.bmm(weights[:, None], values).squeeze(1)  # (B, H)
        return context, weights
