"""The decoder: one LSTM/GRU step per target token, attending over the encoder's outputs with
the step's top hidden state (Luong et al. 2015), then the attentional vector
h̃ = tanh(W [h; context]), which the output layer reads and, with input feeding, the next
step takes in beside its input embedding."""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn

from rnnlm.models.seq2seq.attention import Attention
from rnnlm.models.seq2seq.steprnn import StepRNN
from rnnlm.models.state import State, map_state


@dataclass
class Memory:
    """What the decoder attends over, per source: values (B, S, H), keys (B, S, H), the mask
    (B, S) of real tokens, and the source ids (B, S) (copied by the pointer-generator)."""

    values: torch.Tensor
    keys: torch.Tensor
    mask: torch.Tensor
    src: torch.Tensor

    def select(self, rows: torch.Tensor) -> Memory:
        """The memory of the given batch rows (beam search repeats and reorders them)."""
        return Memory(self.values[rows], self.keys[rows], self.mask[rows], self.src[rows])


@dataclass
class DecoderState:
    """The recurrent state (L, B, H) (h, or h and c), the last attentional vector (B, H) fed
    back in, and the attention summed over past steps (B, S) where coverage is on."""

    rnn: State
    feed: torch.Tensor
    coverage: torch.Tensor | None = None

    def select(self, rows: torch.Tensor) -> DecoderState:
        """The state of the given batch rows."""
        return DecoderState(map_state(lambda h: h[:, rows], self.rnn), self.feed[rows],
                            None if self.coverage is None else self.coverage[rows])


@dataclass
class Step:
    """One decoder step before the output layer, each (B, ·): the attentional vector, the
    attention weights (B, S), the context, the top hidden state and the input embedding."""

    attentional: torch.Tensor
    weights: torch.Tensor
    context: torch.Tensor
    hidden: torch.Tensor
    embedded: torch.Tensor


class Decoder(nn.Module):
    """Target ids → attentional vectors, one step at a time."""

    def __init__(self, vocab: int, embedding: int, hidden: int, layers: int, cell: str,
                 dropout: float, attention: str, input_feeding: bool, coverage: bool) -> None:
        super().__init__()
        self.input_feeding = input_feeding
        self.embed = nn.Embedding(vocab, embedding)
        self.drop = nn.Dropout(dropout)
        self.rnn = StepRNN(cell, embedding + (hidden if input_feeding else 0), hidden, layers,
                           dropout if layers > 1 else 0.0, projected=embedding)
        self.attention = Attention(attention, hidden, coverage)
        self.combine = nn.Linear(2 * hidden, hidden, bias=False)
        self.coverage = coverage

    def start(self, rnn: State, memory: Memory) -> DecoderState:
        """The state before the first target token, from the bridged encoder state."""
        h = rnn[0] if isinstance(rnn, tuple) else rnn  # (L, B, H)
        feed = h.new_zeros(h.shape[1:])  # (B, H)
        coverage = memory.mask.to(h.dtype) * 0 if self.coverage else None  # (B, S)
        return DecoderState(rnn, feed, coverage)

    def step(self, embedded: torch.Tensor, state: DecoderState, memory: Memory,
             projected: torch.Tensor | None = None) -> tuple[Step, DecoderState]:
        """One step from the input embedding (B, E) (dropout already applied) and, if
        computed for every position at once, its input product (B, G·H) (StepRNN.project)."""
        projected = self.rnn.project(embedded) if projected is None else projected
        feed = state.feed if self.input_feeding else None
        h, rnn = self.rnn(projected, feed, state.rnn)  # (B, H)
        context, weights = self.attention(h, memory.keys, memory.values, memory.mask,
                                          state.coverage)  # (B, H), (B, S)
        attentional = torch.tanh(self.combine(torch.cat([h, context], -1)))  # (B, H)
        coverage = None if state.coverage is None else state.coverage + weights  # (B, S)
        step = Step(attentional, weights, context, h, embedded)
        return step, replace(state, rnn=rnn, feed=attentional, coverage=coverage)
