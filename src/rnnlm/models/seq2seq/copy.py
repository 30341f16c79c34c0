"""The pointer-generator (See et al. 2017): each output step mixes generating from the
vocabulary with copying a source token, p = p_gen · P_vocab + (1 − p_gen) · Σ attention over
the source positions holding that token, so names and numbers of the input can be written
out. Source and target share one tokenizer, so a source id is the same target id."""

from __future__ import annotations

import torch
from torch import nn

TINY = 1e-12  # keeps log() finite where a probability underflows


class PointerGenerator(nn.Module):
    """The generation gate p_gen = σ(w · [context; decoder state; input embedding] + b)."""

    def __init__(self, hidden: int, embedding: int) -> None:
        super().__init__()
        self.gate = nn.Linear(2 * hidden + embedding, 1)

    def mix(self, logits: torch.Tensor, weights: torch.Tensor, src: torch.Tensor,
            context: torch.Tensor, hidden: torch.Tensor, embedded: torch.Tensor
            ) -> torch.Tensor:
        """The mixed distribution (..., V) (probabilities, summing to 1) from the vocabulary
        logits (..., V), attention weights (..., S) over source ids src (B, S), and the
        step's context (..., H), decoder state (..., H) and input embedding (..., E); the
        leading dimensions are (B,) or (B, T)."""
        p_gen = torch.sigmoid(self.gate(torch.cat([context, hidden, embedded], -1)))  # (..., 1)
        generated = torch.softmax(logits, -1) * p_gen  # (..., V)
        index = src if weights.dim() == 2 else src[:, None].expand_as(weights)  # (..., S)
        copied = weights.to(generated.dtype) * (1 - p_gen)  # (..., S)
        return generated.scatter_add(-1, index, copied)  # (..., V)
