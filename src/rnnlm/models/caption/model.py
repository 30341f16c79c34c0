"""Show, Attend and Tell (Xu et al. 2015): an image encoder's feature grid → a recurrent
decoder with soft attention over the grid's cells → word logits.

The decoder is the encoder–decoder's (models/seq2seq/decoder.py: LSTM/GRU step, Bahdanau or
Luong attention, attentional vector, input feeding); what differs is the memory it attends
over (the grid's S = grid² cells, projected to the hidden size; every cell is real, so the
mask is all True) and its starting state, tanh(W · mean of the grid) per layer as in the
paper. `encode` and `step` have Seq2Seq's shapes, so greedy and beam search
(inference/beam.py) serve both.

The paper's doubly stochastic regularization, λ Σ_s (1 − Σ_t α_ts)², asks every cell to get
about one unit of attention over the caption, so the model looks at the whole image.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from rnnlm.config import CaptionConfig, ModelConfig
from rnnlm.models.caption.encoder import ImageEncoder
from rnnlm.models.seq2seq.decoder import Decoder, DecoderState, Memory
from rnnlm.models.seq2seq.model import Output


class ShowAttendTell(nn.Module):
    """forward(features (B, S, C), tgt_in (B, T)) → Output; images → features with
    `features`; encode() and step() for search."""

    def __init__(self, cfg: ModelConfig, cap: CaptionConfig, attention: str = "bahdanau",
                 pretrained: bool = False) -> None:
        super().__init__()
        self.cfg, self.cap = cfg, cap
        h = cfg.hidden
        self.encoder = ImageEncoder(cap.encoder, cap.grid, pretrained)
        c = self.encoder.channels
        self.values = nn.Linear(c, h)  # each cell's features → the attention's values
        states = 2 if cfg.cell == "lstm" else 1  # h (and c) of every layer from the mean
        self.init = nn.ModuleList(nn.Linear(c, cfg.layers * h) for _ in range(states))
        self.decoder = Decoder(cfg.vocab_size, cfg.embedding, h, cfg.layers, cfg.cell,
                               cfg.dropout, attention, True, coverage=False)
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(h, cfg.vocab_size)
        if cfg.tie_weights:
            self.head.weight = self.decoder.embed.weight  # (V, H) shared
        # ids search never writes (<unk>, BOD): set by forbid, not saved with the weights
        self.register_buffer("banned", torch.zeros(0, dtype=torch.long), persistent=False)

    def forbid(self, ids: list[int]) -> None:
        """Ids that search must never write (teacher-forced scores are unchanged)."""
        self.banned = torch.tensor(ids, dtype=torch.long, device=self.head.weight.device)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 images (B, 3, H, W) → the feature grid (B, S, C)."""
        return self.encoder(images)

    def encode(self, features: torch.Tensor) -> tuple[Memory, DecoderState]:
        """The memory of feature grids (B, S, C) and the decoder's starting state."""
        b, s, _ = features.shape
        values = self.drop(self.values(features))  # (B, S, H)
        mask = torch.ones(b, s, dtype=torch.bool, device=features.device)  # every cell is real
        cells = torch.zeros(b, s, dtype=torch.long, device=features.device)  # no ids to copy
        memory = Memory(values, self.decoder.attention.keys(values), mask, cells)
        mean = features.mean(1)  # (B, C)
        layers = [torch.tanh(w(mean)).view(b, self.cfg.layers, -1).transpose(0, 1).contiguous()
                  for w in self.init]  # (L, B, H) each
        rnn = tuple(layers) if len(layers) > 1 else layers[0]
        return memory, self.decoder.start(rnn, memory)

    def forward(self, features: torch.Tensor, tgt_in: torch.Tensor) -> Output:
        """Teacher forcing: the decoder reads BOD w1 .. wn, predicting w1 .. wn EOD; the
        Output's coverage field is unused (zeros)."""
        memory, state = self.encode(features)
        embedded = self.decoder.drop(self.decoder.embed(tgt_in))  # (B, T, E)
        projected = self.decoder.rnn.project(embedded)  # (B, T, G·H)
        steps = []
        for t in range(tgt_in.shape[1]):
            step, state = self.decoder.step(embedded[:, t], state, memory, projected[:, t])
            steps.append(step)
        attentional = torch.stack([s.attentional for s in steps], 1)  # (B, T, H)
        weights = torch.stack([s.weights for s in steps], 1)  # (B, T, S)
        logits = self.head(self.drop(attentional))  # (B, T, V)
        return Output(logits, weights, weights.new_zeros(weights.shape[:2]))

    def step(self, prev: torch.Tensor, state: DecoderState, memory: Memory
             ) -> tuple[torch.Tensor, DecoderState, torch.Tensor]:
        """One search step from the previous ids (B,): log-probabilities (B, V), the next
        state, and the attention over the grid (B, S)."""
        embedded = self.decoder.drop(self.decoder.embed(prev))  # (B, E)
        step, state = self.decoder.step(embedded, state, memory)
        logits = self.head(self.drop(step.attentional))  # (B, V)
        if len(self.banned):
            logits = logits.index_fill(-1, self.banned, float("-inf"))
        return F.log_softmax(logits, -1), state, step.weights

    def num_parameters(self) -> int:
        """Parameters, the encoder's included (a tied matrix counted once)."""
        return sum(p.numel() for p in self.parameters())


def doubly_stochastic(weights: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Σ over captions and cells of (1 − Σ_t α_ts)², over the real steps only: weights
    (B, T, S), real (B, T) True where the target is not padding."""
    looked = (weights * real[..., None]).sum(1)  # (B, S): attention each cell got
    return ((1 - looked) ** 2).sum()
