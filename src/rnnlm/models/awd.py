"""AWD-LSTM's regularizers (Merity et al. 2018) for the recurrent LM: DropConnect on the
recurrent matrices (weight drop), locked (variational) dropout, word (embedding) dropout, and
the activation penalties AR and TAR. All act in training only; at eval the model is unchanged.

Weight drop never replaces a parameter: each training forward draws a dropped copy of every
W_hh and runs the same kernels on it (nn.LSTM, nn.GRU, nn.RNN through torch._VF, the op
their forward calls: oneDNN on a CPU, cuDNN on a GPU; kernels.hoisted's layers through
functional_call), so gradients reach the raw weight, checkpoints keep their names, and the
Stepper, serving and export read the undropped weights. Locked dropout between layers runs a
fused module one layer per call, each on its own layer's weights.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import _VF, nn
from torch.func import functional_call
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnlm.config import ModelConfig
from rnnlm.models.kernels.hoisted import HoistedRNN
from rnnlm.models.state import IGNORE, State, map_state

WEIGHTS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")  # one layer's, in _VF's order
RUNS = {"LSTM": _VF.lstm, "GRU": _VF.gru, "RNN_TANH": _VF.rnn_tanh, "RNN_RELU": _VF.rnn_relu}


def locked_mask(rows: int, like: torch.Tensor, p: float) -> torch.Tensor:
    """A (rows, D) dropout mask of like's dtype and width D, kept entries 1/(1 − p)."""
    return like.new_empty(rows, like.shape[-1]).bernoulli_(1 - p).div_(1 - p)


def locked_dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """x (B, T, D) times one dropout mask per row (B, 1, D), the same at every time step."""
    if not (training and p):
        return x
    return x * locked_mask(x.shape[0], x, p)[:, None, :]


def word_dropout(x: torch.Tensor, ids: torch.Tensor, vocab: int, p: float, training: bool
                 ) -> torch.Tensor:
    """Inputs x (B, T, E) of ids (B, T) with whole words dropped (Gal & Ghahramani 2016): the
    embedding matrix's rows masked (V, 1), kept rows 1/(1 − p), one mask per call."""
    if not (training and p):
        return x
    keep = x.new_empty(vocab).bernoulli_(1 - p).div_(1 - p)  # (V,)
    return x * keep[ids][..., None]  # = embedding of ids in the masked matrix


def layer_weights(rnn: nn.Module, k: int, dropped: dict[str, torch.Tensor]
                  ) -> list[torch.Tensor]:
    """Layer k's W_ih, W_hh, b_ih, b_hh, a dropped copy where `dropped` has one."""
    return [dropped.get(f"{name}_l{k}", getattr(rnn, f"{name}_l{k}")) for name in WEIGHTS]


def run_regularized(rnn: nn.Module, x: torch.Tensor, state: State | None,
                    lengths: torch.Tensor | None, weight_drop: float, hidden_drop: float
                    ) -> tuple[torch.Tensor, State]:
    """rnn(x (B, T, I), state) in training, W_hh dropped with p = weight_drop and, for a
    fused module, locked dropout hidden_drop between layers (HoistedRNN's own dropout is
    locked then): outputs (B, T, H) and the final state."""
    dropped = {f"weight_hh_l{k}": F.dropout(getattr(rnn, f"weight_hh_l{k}"), weight_drop)
               for k in range(rnn.num_layers)} if weight_drop else {}
    if isinstance(rnn, HoistedRNN):
        return functional_call(rnn, dropped, (x, state, lengths))
    weights = [w for k in range(rnn.num_layers) for w in layer_weights(rnn, k, dropped)]
    return run_fused(rnn, weights, x, state, lengths, hidden_drop)


def run_fused(rnn: nn.RNNBase, weights: list[torch.Tensor], x: torch.Tensor,
              state: State | None, lengths: torch.Tensor | None, hidden_drop: float
              ) -> tuple[torch.Tensor, State]:
    """What rnn(x, state) (packed by lengths when given) computes, on `weights` (4 per layer)
    in place of its parameters: one torch._VF call for every layer with the module's own
    dropout, or, with hidden_drop, one call per layer and a locked mask per row between."""
    run, layers, (batch, steps) = RUNS[rnn.mode], rnn.num_layers, x.shape[:2]
    if state is None:
        zeros = x.new_zeros(layers, batch, rnn.hidden_size)  # (L, B, H)
        state = (zeros, zeros) if rnn.mode == "LSTM" else zeros
    packed = None
    if lengths is not None:
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        state = map_state(lambda s: s.index_select(1, packed.sorted_indices), state)
        x = packed.data  # (N, I): the real steps, time-major, rows longest first
        sorted_rows = torch.arange(batch)[None, :].expand(steps, -1)  # (T, B)
        order = sorted_rows[sorted_rows < packed.batch_sizes[:, None]]  # (N,), time-major
        rows = packed.sorted_indices[order.to(x.device)]  # (N,): each packed step's row
    groups = [range(layers)] if not hidden_drop else [range(k, k + 1) for k in range(layers)]
    finals = []
    for group in groups:
        hx = map_state(lambda s, g=group: s[g.start: g.stop], state)
        w = weights[4 * group.start: 4 * group.stop]
        between = 0.0 if hidden_drop else rnn.dropout
        if packed is None:
            out = run(x, hx, w, True, len(group), between, rnn.training, False, True)
        else:
            out = run(x, packed.batch_sizes, hx, w, True, len(group), between, rnn.training,
                      False)
        x, final = out[0], out[1:]  # (B, T, H) or (N, H); (h, c) or (h,), each (l, B, H)
        finals.append(final)
        if hidden_drop and group.stop < layers:
            mask = locked_mask(batch, x, hidden_drop)  # (B, H)
            x = x * (mask[:, None, :] if packed is None else mask[rows])
    joined = [torch.cat(part) for part in zip(*finals, strict=True)]  # (L, B, H) each
    state = tuple(joined) if rnn.mode == "LSTM" else joined[0]
    if packed is not None:
        state = map_state(lambda s: s.index_select(1, packed.unsorted_indices), state)
        x, _ = pad_packed_sequence(PackedSequence(x, packed.batch_sizes, packed.sorted_indices,
                                                  packed.unsorted_indices),
                                   batch_first=True, total_length=steps)
    return x, state


def activation_penalty(dropped: torch.Tensor, raw: torch.Tensor, real: torch.Tensor,
                       ar: float, tar: float) -> torch.Tensor:
    """AR + TAR of the last layer's outputs (B, T, H) at the real positions (B, T): ar ×
    mean(dropped²) (after --dropout-output) + tar × mean((h_t − h_{t−1})²) (raw: before it),
    means over the real positions' units (pairs of real steps for TAR), in fp32."""
    penalty = dropped.new_zeros((), dtype=torch.float32)
    if ar:
        penalty = penalty + ar * masked_mean(dropped.float().square(), real)
    if tar:
        step = raw[:, 1:].float() - raw[:, :-1].float()  # (B, T − 1, H)
        penalty = penalty + tar * masked_mean(step.square(), real[:, 1:] & real[:, :-1])
    return penalty


def masked_mean(x: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Mean of x (B, T, H) over the positions where real (B, T); 0 where there are none."""
    kept = real[..., None].to(x.dtype)  # (B, T, 1)
    return (x * kept).sum() / (kept.sum() * x.shape[-1]).clamp(min=1)


def forward_with_penalty(net: nn.Module, cfg: ModelConfig, x: torch.Tensor,
                         state: State | None, lengths: torch.Tensor | None,
                         targets: torch.Tensor) -> tuple[torch.Tensor, State, torch.Tensor | float]:
    """A training step's forward: logits (B, T, V), the final state, and the AR/TAR penalty
    to add to the loss (0.0 unless --ar or --tar), padding (targets IGNORE) left out."""
    if not (cfg.ar or cfg.tar):
        logits, final = net(x, state, lengths)
        return logits, final, 0.0
    logits, final, (dropped, raw) = net(x, state, lengths, activations=True)
    return logits, final, activation_penalty(dropped, raw, targets != IGNORE, cfg.ar, cfg.tar)
