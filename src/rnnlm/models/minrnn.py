"""minGRU and minLSTM language models (Feng et al. 2024, "Were RNNs All We Needed?"): cells
whose gates read only the input, so a whole window is one parallel scan (kernels/scan.py).

Each of the --layers blocks is the paper's language-model block: x + down(cell(conv(norm(x)))),
a causal depthwise convolution of --conv-kernel tokens before a min-cell --expansion × --hidden
wide, then x + MLP(norm(x)) (4× GELU); an embedding in (--hidden wide), a final norm and a
head (tied with --tie-weights) out.

    minGRU:  z = σ(W_z x), h̃ = g(W_h x), h_t = (1 − z) h_{t−1} + z h̃
    minLSTM: f, i = σ(W_f x), σ(W_i x), h̃ = g(W_h x), h_t = (f h_{t−1} + i h̃) / (f + i)

with g(x) = x + 0.5 for x ≥ 0, else σ(x): h̃ > 0, so a window's h is a scan of positive
log coefficients. One token (generation, one-token scoring) is the sequential step, the same
equations on the same weights.

The state is (h (L, B, inner), conv (L, B, (k − 1) · hidden)): each layer's cell state and the
last k − 1 normalized inputs its convolution reads. Batch is dimension 1 in both, as in every
model's state, and an all-zero state is a cold start.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from rnnlm.config import ModelConfig
from rnnlm.models.kernels.scan import scan


def inner_width(cfg: ModelConfig) -> int:
    """Units of each layer's min-cell: --expansion × --hidden, at least 1."""
    return max(1, round(cfg.expansion * cfg.hidden))


def compute_dtype(x: torch.Tensor) -> torch.dtype:
    """The dtype the recurrence runs in: fp32 under bf16 autocast, fp64 for fp64 inputs."""
    return torch.promote_types(x.dtype, torch.float32)


def log_g(x: torch.Tensor) -> torch.Tensor:
    """log g(x), g(x) = x + 0.5 for x ≥ 0, else σ(x): positive and continuous at 0."""
    return torch.where(x >= 0, torch.log(F.relu(x) + 0.5), -F.softplus(-x))


def g(x: torch.Tensor) -> torch.Tensor:
    """g(x) = x + 0.5 for x ≥ 0, else σ(x): the candidate state, always positive."""
    return torch.where(x >= 0, x + 0.5, torch.sigmoid(x))


class MinCell(nn.Module):
    """A minGRU or minLSTM layer `inner` units wide over inputs `width` wide: the window's
    states by the scan, or one step by the recurrence itself."""

    def __init__(self, cell: str, width: int, inner: int) -> None:
        super().__init__()
        self.lstm = cell == "minlstm"
        self.proj = nn.Linear(width, (3 if self.lstm else 2) * inner, bias=False)

    def forward(self, x: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
        """Every state h_t (B, T, inner) after x (B, T, width) from h0 (B, inner)."""
        y = self.proj(x)  # (B, T, 2 or 3 · inner)
        y = y.to(compute_dtype(y))
        if x.shape[1] == 1:
            return self.step(y[:, 0], h0)[:, None]
        if self.lstm:
            f, i, c = y.chunk(3, -1)
            diff = F.softplus(-f) - F.softplus(-i)  # log σ(i) − log σ(f)
            log_a, log_b = -F.softplus(diff), -F.softplus(-diff) + log_g(c)  # f', i' h̃
        else:
            z, c = y.chunk(2, -1)
            log_a, log_b = -F.softplus(z), -F.softplus(-z) + log_g(c)  # 1 − z, z h̃
        return scan(log_a, log_b, h0.to(y.dtype))

    def step(self, y: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """The next state (B, inner) from the projected input y (B, 2 or 3 · inner) and h."""
        h = h.to(y.dtype)
        if self.lstm:
            f, i, c = y.chunk(3, -1)
            f, i = torch.sigmoid(f), torch.sigmoid(i)
            return (f * h + i * g(c)) / (f + i)
        z, c = y.chunk(2, -1)
        z = torch.sigmoid(z)
        return (1 - z) * h + z * g(c)


class MinBlock(nn.Module):
    """x + down(cell(conv(norm(x)))), then x + MLP(norm(x)), carrying the cell's state and the
    convolution's last k − 1 inputs."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        H, self.k = cfg.hidden, cfg.conv_kernel
        self.norm1 = nn.RMSNorm(H)
        self.conv = nn.Conv1d(H, H, self.k, groups=H)  # depthwise, causal by its left context
        self.cell = MinCell(cfg.cell, H, inner_width(cfg))
        self.down = nn.Linear(inner_width(cfg), H)
        self.drop = nn.Dropout(cfg.dropout)
        self.norm2 = nn.RMSNorm(H)
        self.mlp = nn.Sequential(nn.Linear(H, 4 * H), nn.GELU(), nn.Linear(4 * H, H),
                                 nn.Dropout(cfg.dropout))

    def forward(self, x: torch.Tensor, h0: torch.Tensor, buf: torch.Tensor,
                lengths: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x (B, T, H), h0 (B, inner), buf (B, (k − 1) · H) → x (B, T, H) and the new h0 and
        buf: after each row's last real token (lengths (B,)), else after the window."""
        b, t, H = x.shape
        n = self.norm1(x)
        seen = torch.cat([buf.view(b, self.k - 1, H).to(n.dtype), n], 1)  # (B, k − 1 + T, H)
        c = self.conv(seen.transpose(1, 2)).transpose(1, 2)  # (B, T, H)
        hs = self.cell(c, h0)  # (B, T, inner)
        x = x + self.drop(self.down(hs))
        x = x + self.mlp(self.norm2(x))
        if lengths is None:
            return x, hs[:, -1], seen[:, t:].reshape(b, -1)
        ends = lengths.to(x.device)[:, None]  # (B, 1): a row's state sits at its length
        h = torch.cat([h0[:, None].to(hs.dtype), hs], 1)  # (B, 1 + T, inner)
        h = h.gather(1, ends[:, :, None].expand(-1, 1, h.shape[2]))[:, 0]  # (B, inner)
        rows = ends + torch.arange(self.k - 1, device=x.device)  # (B, k − 1)
        last = seen.gather(1, rows[:, :, None].expand(-1, -1, H))  # (B, k − 1, H)
        return x, h, last.reshape(b, -1)


class MinRNNLanguageModel(nn.Module):
    """Predicts the next token at every position: logits (B, T, V) from ids (B, T)."""

    trains_with_carried_state = True  # truncated BPTT: each window starts where the last ended

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg, self.inner = cfg, inner_width(cfg)
        self.embed = nn.Embedding(cfg.vocab_size, cfg.hidden)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(MinBlock(cfg) for _ in range(cfg.layers))
        self.norm = nn.RMSNorm(cfg.hidden)
        self.head = nn.Linear(cfg.hidden, cfg.vocab_size)
        if cfg.tie_weights:
            self.head.weight = self.embed.weight  # (V, H) shared
        for name, p in self.named_parameters():  # GPT-2's initialization; the conv keeps its own
            if name.endswith("down.weight") or name.endswith("mlp.2.weight"):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * cfg.layers))  # residual outputs
            elif p.dim() == 2:
                nn.init.normal_(p, std=0.02)
            elif name.endswith("bias") and "conv" not in name:
                nn.init.zeros_(p)

    def zero_state(self, batch: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """The cold start: h (L, B, inner) and the convolutions' inputs (L, B, (k − 1) · H)."""
        L, H, k = self.cfg.layers, self.cfg.hidden, self.cfg.conv_kernel
        dtype = compute_dtype(self.embed.weight)
        return (torch.zeros(L, batch, self.inner, device=device, dtype=dtype),
                torch.zeros(L, batch, (k - 1) * H, device=device, dtype=dtype))

    def forward(self, ids: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None,
                lengths: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Logits for the next token after each input token, and the final state.

        With lengths (B,) (true lengths of right-padded rows), each row's final state is the
        one after its last real token; padded positions' logits are meaningless.
        """
        h0, buf = state if state is not None else self.zero_state(ids.shape[0], ids.device)
        x = self.drop(self.embed(ids))  # (B, T, H)
        hs, bufs = [], []
        for k, block in enumerate(self.blocks):
            x, h, b = block(x, h0[k], buf[k], lengths)
            hs.append(h)
            bufs.append(b.to(h.dtype))
        return self.head(self.drop(self.norm(x))), (torch.stack(hs), torch.stack(bufs))

    def num_parameters(self) -> int:
        """Trainable parameters, shared ones counted once."""
        return sum(p.numel() for p in self.parameters())
