"""The encoder–decoder: source embeddings → bidirectional encoder → bridge (tanh(W s) of each
layer's final encoder state starts the decoder) → attentional decoder → output layer (tied to
the decoder's embeddings with --tie-weights), or the pointer-generator's mix of generating and
copying. It returns logits whose log_softmax are the log-probabilities (the copy mix's
logarithms already are), so one loss (cross-entropy) and one search serve both."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from rnnlm.config import ModelConfig, Seq2SeqConfig
from rnnlm.models.seq2seq.copy import TINY, PointerGenerator
from rnnlm.models.seq2seq.decoder import Decoder, DecoderState, Memory, Step
from rnnlm.models.seq2seq.encoder import Encoder
from rnnlm.models.state import parts


@dataclass
class Output:
    """Teacher-forced outputs: logits (B, T, V) (log_softmax: the log-probabilities),
    attention weights (B, T, S), and each step's coverage loss Σ_s min(a, coverage) (B, T)
    (zeros without coverage)."""

    logits: torch.Tensor
    weights: torch.Tensor
    coverage: torch.Tensor


class Seq2Seq(nn.Module):
    """forward(src (B, S), lengths (B,), tgt_in (B, T)) → Output; encode() and step() for
    search."""

    def __init__(self, cfg: ModelConfig, s2s: Seq2SeqConfig) -> None:
        super().__init__()
        self.cfg, self.s2s = cfg, s2s
        h = cfg.hidden
        self.encoder = Encoder(s2s.source_ids, cfg.embedding, h, cfg.layers, cfg.cell,
                               cfg.dropout)
        self.bridge = nn.ModuleList(nn.Linear(h, h) for _ in range(2 if cfg.cell == "lstm"
                                                                    else 1))
        self.decoder = Decoder(cfg.vocab_size, cfg.embedding, h, cfg.layers, cfg.cell,
                               cfg.dropout, s2s.attention, s2s.input_feeding,
                               coverage=s2s.coverage > 0)
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(h, cfg.vocab_size)
        if cfg.tie_weights:
            self.head.weight = self.decoder.embed.weight  # (V, H) shared
        self.copy = PointerGenerator(h, cfg.embedding) if s2s.copy else None

    def encode(self, src: torch.Tensor, lengths: torch.Tensor
               ) -> tuple[Memory, DecoderState]:
        """The memory of the sources (B, S) and the decoder's starting state."""
        values, final = self.encoder(src, lengths)  # (B, S, H), (L, B, H) each part
        mask = torch.arange(src.shape[1], device=src.device)[None] < lengths.to(src.device)[:, None]
        memory = Memory(values, self.decoder.attention.keys(values), mask, src)  # mask (B, S)
        bridged = [torch.tanh(w(s)) for w, s in zip(self.bridge, parts(final), strict=True)]
        rnn = tuple(bridged) if len(bridged) > 1 else bridged[0]  # (L, B, H) each
        return memory, self.decoder.start(rnn, memory)

    def distribution(self, step: Step, memory: Memory) -> torch.Tensor:
        """Logits (..., V) of steps (stacked (B, T, ·) or one (B, ·)): the output layer's, or
        the log of the pointer-generator's mix (normalized already)."""
        logits = self.head(self.drop(step.attentional))  # (..., V)
        if self.copy is None:
            return logits
        p = self.copy.mix(logits, step.weights, memory.src, step.context, step.hidden,
                          step.embedded)  # (..., V)
        return torch.log(p.clamp_min(TINY))

    def forward(self, src: torch.Tensor, lengths: torch.Tensor, tgt_in: torch.Tensor
                ) -> Output:
        """Teacher forcing: the decoder reads BOD t1 .. tn, predicting t1 .. tn EOD."""
        memory, state = self.encode(src, lengths)
        embedded = self.decoder.drop(self.decoder.embed(tgt_in))  # (B, T, E)
        projected = self.decoder.rnn.project(embedded)  # (B, T, G·H), all positions at once
        steps, coverage = [], []
        for t in range(tgt_in.shape[1]):
            before = state.coverage
            step, state = self.decoder.step(embedded[:, t], state, memory, projected[:, t])
            steps.append(step)
            coverage.append(torch.minimum(step.weights, before).sum(-1) if before is not None
                            else step.weights.new_zeros(step.weights.shape[0]))  # (B,)
        stacked = Step(*(torch.stack([getattr(s, f) for s in steps], 1)  # (B, T, ·)
                         for f in ("attentional", "weights", "context", "hidden", "embedded")))
        return Output(self.distribution(stacked, memory), stacked.weights,
                      torch.stack(coverage, 1))

    def step(self, prev: torch.Tensor, state: DecoderState, memory: Memory
             ) -> tuple[torch.Tensor, DecoderState, torch.Tensor]:
        """One search step from the previous ids (B,): log-probabilities (B, V), the next
        state, and the attention weights (B, S)."""
        embedded = self.decoder.drop(self.decoder.embed(prev))  # (B, E)
        step, state = self.decoder.step(embedded, state, memory)
        return F.log_softmax(self.distribution(step, memory), -1), state, step.weights

    def num_parameters(self) -> int:
        """Trainable parameters (a tied matrix counted once)."""
        return sum(p.numel() for p in self.parameters())
