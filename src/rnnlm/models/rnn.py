"""The recurrent language model: embedding (or one-hot) → recurrent layers → softmax head.

The recurrent block is the fastest one for the device it is built for: nn.LSTM everywhere
(oneDNN on a CPU, cuDNN on a GPU); nn.GRU and nn.RNN (tanh, relu) on a GPU, and on a CPU,
where PyTorch has no fused GRU or Elman kernel, kernels.hoisted's GRU and ElmanRNN (hoisted
input GEMM, compiled recurrence; faster than PyTorch's op-by-op CPU loops, see
docs/results.md); the other Elman activations always use ElmanRNN. All have the same
parameter names, so a checkpoint loads into any of them. AWD-LSTM's regularizers (weight drop,
locked and word dropout, AR/TAR: models/awd.py) keep those names and the fused kernels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnlm.config import ModelConfig
from rnnlm.models.awd import locked_dropout, run_regularized, word_dropout
from rnnlm.models.kernels.hoisted import GRU, ElmanRNN, HoistedRNN
from rnnlm.models.kernels.onednn import linear
from rnnlm.models.state import State

GATES = {"lstm": 4, "gru": 3, "rnn": 1}  # weight blocks per recurrent layer (i f g o; r z n; h)
Activations = tuple[torch.Tensor, torch.Tensor]  # last layer's outputs after, before dropout


def make_recurrent(cfg: ModelConfig, input_size: int, device: str = "cpu") -> nn.Module:
    """The stacked recurrent block for cfg, batch-first, fastest on the device type given.
    With --dropout-hidden, the fused modules have no dropout of their own (the model's
    training forward runs them layer by layer, awd.run_fused); HoistedRNN's is locked."""
    between = (cfg.dropout_hidden or cfg.dropout) if cfg.layers > 1 else 0.0
    locked = bool(cfg.dropout_hidden)
    shape = dict(input_size=input_size, hidden_size=cfg.hidden, num_layers=cfg.layers,
                 dropout=0.0 if locked else between, batch_first=True)
    if cfg.cell == "lstm":
        return nn.LSTM(**shape)
    fused = device == "cuda"  # cuDNN; PyTorch's CPU GRU and Elman loops are slower than ours
    if cfg.cell == "gru":
        return nn.GRU(**shape) if fused else GRU(input_size, cfg.hidden, cfg.layers, between,
                                                 locked=locked)
    if fused and cfg.activation in ("tanh", "relu"):
        return nn.RNN(nonlinearity=cfg.activation, **shape)
    return ElmanRNN(input_size, cfg.hidden, cfg.layers, cfg.activation, between, locked=locked)


class RNNLanguageModel(nn.Module):
    """Predicts the next token at every position: logits (B, T, V) from ids (B, T)."""

    trains_with_carried_state = True  # truncated BPTT: each window starts where the last ended

    def __init__(self, cfg: ModelConfig, device: str = "cpu") -> None:
        super().__init__()
        self.cfg = cfg
        vocab = cfg.vocab_size
        self.embed = nn.Embedding(vocab, cfg.embedding) if cfg.embedding else None
        self.rnn = make_recurrent(cfg, cfg.embedding or vocab, device)
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(cfg.hidden, vocab)
        if cfg.tie_weights:
            self.head.weight = self.embed.weight  # (V, H) shared

    def forward(self, ids: torch.Tensor, state: State | None = None,
                lengths: torch.Tensor | None = None, activations: bool = False
                ) -> tuple[torch.Tensor, State] | tuple[torch.Tensor, State, Activations]:
        """Logits for the next token after each input token, and the final state; with
        activations, also the last layer's outputs (B, T, H) after and before the dropout
        before the head (for AR and TAR, awd.activation_penalty).

        With lengths (B,) (true lengths of right-padded rows), each row's final state is the
        one after its last real token; padded positions' logits are meaningless.
        """
        cfg = self.cfg
        if self.embed is not None:
            x = self.embed(ids)  # (B, T, E)
        else:
            x = F.one_hot(ids, self.cfg.vocab_size).float()  # (B, T, V), the lecture's input
        x = word_dropout(x, ids, cfg.vocab_size, cfg.dropout_embedding, self.training)
        x = locked_dropout(x, cfg.dropout_input, self.training) if cfg.dropout_input \
            else self.drop(x)
        if self.training and (cfg.weight_drop or cfg.dropout_hidden):
            out, state = run_regularized(self.rnn, x, state, lengths, cfg.weight_drop,
                                         cfg.dropout_hidden)  # (B, T, H)
        elif lengths is None:
            out, state = self.rnn(x, state)  # (B, T, H)
        elif isinstance(self.rnn, HoistedRNN):
            out, state = self.rnn(x, state, lengths)  # (B, T, H)
        else:  # the fused kernels skip padding when given a packed sequence
            packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True,
                                          enforce_sorted=False)
            out, state = self.rnn(packed, state)
            out, _ = pad_packed_sequence(out, batch_first=True, total_length=ids.shape[1])
        dropped = locked_dropout(out, cfg.dropout_output, self.training) \
            if cfg.dropout_output else self.drop(out)
        logits = linear(dropped, self.head.weight, self.head.bias)  # (B, T, V)
        return (logits, state, (dropped, out)) if activations else (logits, state)

    def num_parameters(self) -> int:
        """Trainable parameters, shared ones counted once."""
        return sum(p.numel() for p in self.parameters())


def grow_vocab(weights: dict[str, torch.Tensor], cfg: ModelConfig, new_size: int,
               at: int | None = None) -> dict[str, torch.Tensor]:
    """Weights of a model with cfg.vocab_size ids resized to new_size ids, the new ids inserted
    at id `at` (default: the end): new embeddings are the mean embedding, new outputs start as
    the least likely token."""
    old = cfg.vocab_size
    at = old if at is None else at
    extra = new_size - old

    def insert(w: torch.Tensor, rows: torch.Tensor, dim: int = 0) -> torch.Tensor:
        return torch.cat([w.narrow(dim, 0, at), rows, w.narrow(dim, at, old - at)], dim=dim)

    out = dict(weights)
    if "embed.weight" in out:
        e = out["embed.weight"]  # (V, E)
        out["embed.weight"] = insert(e, e.mean(0, keepdim=True).expand(extra, -1))
    else:
        w = out["rnn.weight_ih_l0"]  # (G*H, V): one-hot input columns
        out["rnn.weight_ih_l0"] = insert(w, w.new_zeros(w.shape[0], extra), dim=1)
    if cfg.tie_weights:
        out["head.weight"] = out["embed.weight"]
    else:
        w = out["head.weight"]  # (V, H)
        out["head.weight"] = insert(w, w.new_zeros(extra, w.shape[1]))
    b = out["head.bias"]  # (V,)
    out["head.bias"] = insert(b, b.min().expand(extra))
    return out
