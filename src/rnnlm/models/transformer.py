"""A small causal transformer LM, nanoGPT-like: learned absolute positions, pre-LayerNorm blocks
of causal self-attention (fused scaled_dot_product_attention) and a 4× GELU MLP, and a head
tied to the token embedding.

It has the recurrent model's interface, so training, scoring and sampling treat both alike.
Its "state" is the context: the last block − 1 ids it has read, stored as id + 1 in a fixed
(1, B, block − 1) int64 tensor, 0 meaning "no token" and filling the left of a short context.
So an all-zero state is a cold start, as for an RNN, and batch is dimension 1, as in an RNN's
(L, B, H) state: the code that concatenates, indexes and saves states works unchanged.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from rnnlm.config import ModelConfig


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention in which each position sees only itself and earlier ones."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.heads, self.dropout = cfg.heads, cfg.dropout
        self.qkv = nn.Linear(cfg.hidden, 3 * cfg.hidden)
        self.proj = nn.Linear(cfg.hidden, cfg.hidden)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """x (B, S, H) → (B, S, H); mask (B, 1, S, S), True where attending is allowed, or
        None for the plain causal mask (the fast fused kernels)."""
        b, s, h = x.shape
        q, k, v = self.qkv(x).view(b, s, 3, self.heads, h // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(  # (B, nh, S, hd) each
            q, k, v, attn_mask=mask, is_causal=mask is None,
            dropout_p=self.dropout if self.training else 0.0)
        return self.drop(self.proj(y.transpose(1, 2).reshape(b, s, h)))


class Block(nn.Module):
    """Pre-LayerNorm transformer block: x + attention(norm(x)), then x + MLP(norm(x))."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(cfg.hidden)
        self.attn = CausalSelfAttention(cfg)
        self.norm2 = nn.LayerNorm(cfg.hidden)
        self.mlp = nn.Sequential(nn.Linear(cfg.hidden, 4 * cfg.hidden), nn.GELU(),
                                 nn.Linear(4 * cfg.hidden, cfg.hidden), nn.Dropout(cfg.dropout))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """x (B, S, H) → (B, S, H)."""
        x = x + self.attn(self.norm1(x), mask)
        return x + self.mlp(self.norm2(x))


class TransformerLanguageModel(nn.Module):
    """Predicts the next token at every position: logits (B, T, V) from ids (B, T)."""

    # Training reads each window on its own, from position 0, as nanoGPT does; the trainer then
    # carries no state. Carrying the previous window as context would run (block − 1) + T
    # positions per step to score T tokens: twice the compute per step, for more context per
    # token. Independent windows also train every position p with exactly p tokens of
    # context, which is what a cold start at generation and scoring sees.
    trains_with_carried_state = False

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        assert cfg.block is not None, "ModelConfig.validate() sets the block size"
        self.cfg, self.block = cfg, cfg.block
        self.embed = nn.Embedding(cfg.vocab_size, cfg.hidden)
        self.pos = nn.Embedding(cfg.block, cfg.hidden)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.layers))
        self.norm = nn.LayerNorm(cfg.hidden)
        self.head = nn.Linear(cfg.hidden, cfg.vocab_size)
        self.head.weight = self.embed.weight  # (V, H) shared: always tied
        for name, p in self.named_parameters():  # GPT-2's initialization
            if name.endswith("proj.weight") or name.endswith("mlp.2.weight"):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * cfg.layers))  # residual outputs
            elif p.dim() >= 2:
                nn.init.normal_(p, std=0.02)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def forward(self, ids: torch.Tensor, state: torch.Tensor | None = None,
                lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits for the next token after each of ids (B, T), and the new state (1, B, block − 1).

        The state's ids come first as context. `lengths` is not needed: padding on the right
        never reaches a real position through causal attention.
        """
        full = ids + 1  # (B, T) as stored: id + 1, 0 = no token
        ragged = False  # whether some row's context has empty slots
        if state is not None:
            filled = state[0] != 0  # (B, C)
            lead = int((~filled.any(0)).cumprod(0).sum())  # columns empty in every row
            ragged = not bool(filled[:, lead:].all())
            full = torch.cat([state[0, :, lead:], full], 1)  # (B, C' + T)
        logits = self._read(full, full.shape[1] - ids.shape[1], ragged)
        keep = min(self.block - 1, full.shape[1])
        last = full[:, full.shape[1] - keep:]  # (B, keep): the newest ids
        return logits, F.pad(last, (self.block - 1 - keep, 0))[None]  # (1, B, block − 1)

    def _read(self, full: torch.Tensor, start: int, ragged: bool) -> torch.Tensor:
        """Logits (B, n − start, V) for positions start.. of full (B, n), in windows of at most
        `block` positions. Past the first window each window scores block // 2 new positions,
        so a token sees all its context up to block − 1 tokens, and never fewer than
        block − block // 2 once more precede it (twice the compute of one pass, only there)."""
        n, stride = full.shape[1], max(1, self.block // 2)
        pieces, a = [], start
        while a < n:
            b = min(n, max(self.block, a + stride))
            pieces.append(self._window(full[:, max(0, b - self.block): b], b - a, ragged))
            a = b
        return pieces[0] if len(pieces) == 1 else torch.cat(pieces, 1)

    def _window(self, w: torch.Tensor, new: int, ragged: bool) -> torch.Tensor:
        """Logits (B, new, V) for the last `new` positions of the window w (B, S ≤ block)."""
        s = w.shape[1]
        if ragged:  # positions count real tokens only; empty slots are never attended to
            real = w != 0  # (B, S)
            pos = (real.cumsum(1) - 1).clamp_min(0)  # (B, S)
            causal = torch.ones(s, s, dtype=torch.bool, device=w.device).tril()
            alone = torch.eye(s, dtype=torch.bool, device=w.device)  # an empty slot sees itself
            mask = (causal & (real[:, None, :] | alone))[:, None]  # (B, 1, S, S)
        else:
            pos, mask = torch.arange(s, device=w.device), None  # (S,)
        x = self.drop(self.embed((w - 1).clamp_min(0)) + self.pos(pos))  # (B, S, H)
        for block in self.blocks:
            x = block(x, mask)
        return self.head(self.norm(x[:, s - new:]))  # (B, new, V)

    def num_parameters(self) -> int:
        """Trainable parameters, shared ones counted once."""
        return sum(p.numel() for p in self.parameters())
