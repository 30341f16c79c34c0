"""The parallel scan of the min-cells' recurrence h_t = a_t h_{t−1} + b_t (a_t, b_t > 0 given
as logarithms) over a whole window, in log space (Heinsen 2023, "Efficient parallelization of
a ubiquitous sequential computation").

With A_t = a_1 ⋯ a_t, h_t = A_t h_0 + Σ_{s≤t} (A_t / A_s) b_s, and the sum is
exp(log A_t + logcumsumexp_s(log b_s − log A_s)): a cumsum and a logcumsumexp, no loop over
time. The initial state's term A_t h_0 is added linearly rather than folded into the log-space
sum as log h_0 (as some implementations do), so an h_0 of any sign, zero included, is exact,
and a state carried across windows continues the recurrence to rounding.

The scan runs in chunks of CHUNK positions, each starting from the last one's final state: the
cumulative sums then stay within CHUNK · |log a| of 0, so fp32 keeps its relative precision
however long the window (the logarithms of one long scan grow with T and lose digits).
"""

from __future__ import annotations

import torch

CHUNK = 64  # positions per log-space scan; the state is carried linearly between chunks


def scan(log_a: torch.Tensor, log_b: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
    """Every h_t (B, T, D) of h_t = a_t h_{t−1} + b_t, from log a and log b (B, T, D) and the
    state before the window h0 (B, D)."""
    out, h = [], h0
    for start in range(0, log_a.shape[1], CHUNK):
        la, lb = log_a[:, start: start + CHUNK], log_b[:, start: start + CHUNK]  # (B, C, D)
        a_star = la.cumsum(1)  # (B, C, D): log A_t within the chunk
        hs = torch.exp(a_star + torch.logcumsumexp(lb - a_star, 1)) \
            + torch.exp(a_star) * h[:, None]  # (B, C, D)
        out.append(hs)
        h = hs[:, -1]
    return out[0] if len(out) == 1 else torch.cat(out, 1)
