"""The encoder: embeddings → a bidirectional LSTM or GRU run over the true lengths of the
padded sources (packed, so padding never enters either direction), as TensorFlow's
`bidirectional_dynamic_rnn` with sequence lengths."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnlm.models.state import State, map_state

RNNS = {"lstm": nn.LSTM, "gru": nn.GRU}


class Encoder(nn.Module):
    """Source ids (B, S) and lengths (B,) → outputs (B, S, H) (zeros at padding) and each
    layer's final state (L, B, H): both directions side by side, H/2 units each."""

    def __init__(self, vocab: int, embedding: int, hidden: int, layers: int, cell: str,
                 dropout: float) -> None:
        super().__init__()
        self.layers = layers
        self.embed = nn.Embedding(vocab, embedding)
        self.drop = nn.Dropout(dropout)
        self.rnn = RNNS[cell](embedding, hidden // 2, layers, batch_first=True,
                              bidirectional=True, dropout=dropout if layers > 1 else 0.0)

    def forward(self, src: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, State]:
        """Run both directions over each row's first lengths[i] tokens only."""
        x = self.drop(self.embed(src))  # (B, S, E)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, final = self.rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=src.shape[1])  # (B, S, H)

        def join(h: torch.Tensor) -> torch.Tensor:  # (2L, B, H/2), directions interleaved
            _, b, half = h.shape
            h = h.view(self.layers, 2, b, half)  # (L, direction, B, H/2)
            return h.permute(0, 2, 1, 3).reshape(self.layers, b, 2 * half)  # (L, B, H)

        return out, map_state(join, final)
