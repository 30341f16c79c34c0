"""The state a language model carries between calls, shared by every model and by the data
and training code that holds it: its type, helpers to map and save it, and the masked loss.

An RNN's state is h (L, B, H), or (h, c) for the LSTM; the transformer's is its context ids
(1, B, block − 1), int64. Batch is dimension 1 in every case, so code that concatenates,
indexes and saves states works for all of them.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

State = torch.Tensor | tuple[torch.Tensor, ...]
IGNORE = -100  # the target id of padding: lm_loss skips it


def parts(state: State) -> tuple[torch.Tensor, ...]:
    """The tensors of a state (h, or h and c)."""
    return state if isinstance(state, tuple) else (state,)


def map_state(fn: Callable[[torch.Tensor], torch.Tensor], state: State) -> State:
    """Apply fn to every tensor of a state."""
    return tuple(fn(s) for s in state) if isinstance(state, tuple) else fn(state)


def state_tensors(state: State | None) -> dict[str, torch.Tensor]:
    """A state as named tensors (for safetensors): floats as float32, ids as they are."""
    if state is None:
        return {}
    return {f"state.{i}": (s.float() if s.is_floating_point() else s).detach().cpu().contiguous()
            for i, s in enumerate(parts(state))}


def state_from_tensors(tensors: dict[str, torch.Tensor], device: torch.device) -> State | None:
    """Inverse of state_tensors."""
    found = [tensors[k].to(device) for k in sorted(k for k in tensors if k.startswith("state."))]
    if not found:
        return None
    return tuple(found) if len(found) > 1 else found[0]


def lm_loss(logits: torch.Tensor, targets: torch.Tensor, reduction: str = "mean",
            smoothing: float = 0.0) -> torch.Tensor:
    """Mean (or, reduction="sum", total) cross-entropy in nats over the real tokens: logits
    (B, T, V) (or log-probabilities), targets (B, T) with padding marked IGNORE, so padding
    never changes the loss; smoothing spreads that share of each target over the vocabulary."""
    return F.cross_entropy(logits.float().flatten(0, 1), targets.flatten(), ignore_index=IGNORE,
                           reduction=reduction, label_smoothing=smoothing)
