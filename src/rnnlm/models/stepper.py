"""One generation step of a recurrent LM without calling the model: weights prepared once,
state in preallocated buffers updated in place, one GEMM per layer (two for the GRU).

Calling nn.LSTM for one token costs far more in per-call overhead than its arithmetic; the
Stepper runs the same equations as a few in-place tensor ops per layer. Its logits equal the
model's (fp32), so sampling from them samples the model's distribution.

Layout: every layer's hidden state lives side by side in one buffer S (B, [E] + L·H), so the
input of layer k ≥ 1, [h_{k-1}, h_k], is a contiguous column slice of S and no state is ever
copied. The first layer's input projection (embedding or one-hot → W_ih + bias) is a table of
one row per vocabulary id, so embedding and first GEMM become a row lookup.
"""

from __future__ import annotations

import torch
from torch import nn

from rnnlm.models.cells import ACTIVATIONS
from rnnlm.models.rnn import RNNLanguageModel, State

GATES = {"lstm": 4, "gru": 3, "rnn": 1}
TABLE_LIMIT = 1 << 24  # extra elements (64 MiB fp32) a first-layer table may take


def supports(model: nn.Module) -> bool:
    """Whether the Stepper can run this model (every RNNLanguageModel; other models call the
    model once per step)."""
    return isinstance(model, RNNLanguageModel) and model.cfg.cell in GATES


def lstm_order(w: torch.Tensor, hidden: int) -> torch.Tensor:
    """PyTorch's LSTM gate rows (i, f, g, o) reordered to (i, f, o, g): one sigmoid, one tanh."""
    i, f, g, o = w.split(hidden)
    return torch.cat([i, f, o, g])


class Stepper:
    """The model's next-token logits for `batch` streams, one token per stream per call."""

    @torch.inference_mode()
    def __init__(self, model: RNNLanguageModel, batch: int, precision: str = "fp32") -> None:
        cfg = model.cfg
        self.cell, self.layers, self.hidden = cfg.cell, cfg.layers, cfg.hidden
        self.act = ACTIVATIONS[cfg.activation]
        dev = model.head.weight.device
        dt = torch.bfloat16 if precision == "bf16" else torch.float32  # GEMM dtype
        H, G, L, V = cfg.hidden, GATES[cfg.cell], cfg.layers, cfg.vocab_size

        def param(name: str, k: int) -> torch.Tensor:
            w = getattr(model.rnn, f"{name}_l{k}").detach().float()
            return lstm_order(w, H) if cfg.cell == "lstm" else w

        embed = model.embed.weight.detach().float() if model.embed is not None else None
        width = embed.shape[1] if embed is not None else V  # first-layer input size
        self.table = None  # (V, G·H): first layer's input projection per id, biases folded in
        rows_allowed = width + TABLE_LIMIT // (G * H)  # a table as large as W_ih, + limit
        if embed is None or rows_allowed >= V:
            w_ih0 = param("weight_ih", 0)  # (G·H, width)
            x = embed if embed is not None else torch.eye(V, device=dev)  # (V, width)
            bias = param("bias_ih", 0) + (0 if cfg.cell == "gru" else param("bias_hh", 0))
            self.table = torch.addmm(bias, x, w_ih0.t()).to(dt)  # (V, G·H)
        self.embed = None if self.table is not None else embed.to(dt)  # (V, E)
        self.base = 0 if self.table is not None else width  # where h_0 starts in S

        # Per layer: W (in, G·H) transposed views and bias (G·H,), as one [x, h] GEMM; the
        # GRU keeps W_ih and W_hh apart (its n gate needs W_hn h alone).
        self.w_x: list[torch.Tensor | None] = []
        self.w_h: list[torch.Tensor] = []
        self.b_x: list[torch.Tensor | None] = []
        self.b_h: list[torch.Tensor | None] = []
        for k in range(L):
            w_ih, w_hh = param("weight_ih", k), param("weight_hh", k)  # (G·H, in), (G·H, H)
            b_ih, b_hh = param("bias_ih", k), param("bias_hh", k)  # (G·H,)
            first_table = k == 0 and self.table is not None
            if cfg.cell == "gru":
                self.w_x.append(None if first_table else w_ih.to(dt).t())
                self.b_x.append(None if first_table else b_ih.to(dt))
                self.w_h.append(w_hh.to(dt).t())
                self.b_h.append(b_hh.to(dt))
            else:
                self.w_x.append(None)
                self.b_x.append(None)
                w = w_hh if first_table else torch.cat([w_ih, w_hh], dim=1)  # (G·H, in + H)
                self.w_h.append(w.to(dt).contiguous().t())
                self.b_h.append(None if first_table else (b_ih + b_hh).to(dt))
        self.w_head = model.head.weight.detach().to(dt).t()  # (H, V)
        self.b_head = model.head.bias.detach().to(dt)  # (V,)

        self.S = torch.zeros(batch, self.base + L * H, dtype=dt, device=dev)  # [x, h_0..h_L-1]
        self.gates = torch.zeros(L, batch, G * H, dtype=dt, device=dev)  # (L, B, G·H)
        self.gates_h = torch.zeros_like(self.gates) if cfg.cell == "gru" else None
        self.c = torch.zeros(L, batch, H, device=dev) if cfg.cell == "lstm" else None  # fp32
        self.out = torch.zeros(batch, V, dtype=dt, device=dev)  # (B, V) head output
        self.logits = self.out if dt == torch.float32 else torch.zeros_like(self.out).float()

    def h(self, k: int) -> torch.Tensor:
        """Layer k's hidden state (B, H), a view into S."""
        start = self.base + k * self.hidden
        return self.S[:, start: start + self.hidden]

    def x_and_h(self, k: int) -> torch.Tensor:
        """The input of layer k's single GEMM: [input, h_k] (B, in + H), a view into S."""
        start = self.base + (k - 1) * self.hidden if k else 0
        return self.S[:, start: self.base + (k + 1) * self.hidden]

    @torch.inference_mode()
    def load_state(self, state: State | None) -> None:
        """Set every stream's state from the model's (rows 1 or B); None is the zero state."""
        h, c = state if isinstance(state, tuple) else (state, None)
        if h is None:
            self.S.zero_()
        for k in range(self.layers if h is not None else 0):
            self.h(k).copy_(h[k])  # (B, H) from (1 or B, H)
        if self.c is not None and c is not None:
            self.c.copy_(c)  # (L, B, H) from (L, 1 or B, H)
        elif self.c is not None:
            self.c.zero_()

    def state(self) -> State:
        """The current state in the model's format: h (L, B, H), and c for the LSTM."""
        h = torch.stack([self.h(k).float() for k in range(self.layers)])
        return (h, self.c.clone()) if self.c is not None else h

    @torch.inference_mode()
    def step(self, ids: torch.Tensor) -> torch.Tensor:
        """Feed ids (B,) and return the next-token logits (B, V) fp32: a buffer that the next
        call overwrites."""
        for k in range(self.layers):
            g = self.gates[k]  # (B, G·H)
            if k == 0 and self.table is not None:
                torch.index_select(self.table, 0, ids, out=g)  # embedding + input GEMM + bias
            elif k == 0:
                torch.index_select(self.embed, 0, ids, out=self.S[:, :self.base])
            if self.cell == "gru":
                if self.w_x[k] is not None:  # the input part: h_{k-1} or the embedding
                    x = self.S[:, :self.base] if k == 0 else self.h(k - 1)
                    torch.addmm(self.b_x[k], x, self.w_x[k], out=g)
                gh = self.gates_h[k]  # (B, 3H)
                torch.addmm(self.b_h[k], self.h(k), self.w_h[k], out=gh)
                self.gru(g, gh, self.h(k))
                continue
            if k == 0 and self.table is not None:
                g.addmm_(self.h(0), self.w_h[0])
            else:
                torch.addmm(self.b_h[k], self.x_and_h(k), self.w_h[k], out=g)
            if self.cell == "lstm":
                self.lstm(g, self.c[k], self.h(k))
            else:
                self.h(k).copy_(self.act(g))
        torch.addmm(self.b_head, self.h(self.layers - 1), self.w_head, out=self.out)
        if self.logits is not self.out:
            self.logits.copy_(self.out)
        return self.logits

    def lstm(self, g: torch.Tensor, c: torch.Tensor, h: torch.Tensor) -> None:
        """c ← σ(f)c + σ(i)tanh(g), h ← σ(o)tanh(c), from pre-activations g (B, 4H) = i f o g."""
        H = self.hidden
        g[:, : 3 * H].sigmoid_()
        g[:, 3 * H:].tanh_()
        c.mul_(g[:, H: 2 * H]).addcmul_(g[:, :H], g[:, 3 * H:])
        torch.tanh(c, out=h)
        h.mul_(g[:, 2 * H: 3 * H])

    def gru(self, gi: torch.Tensor, gh: torch.Tensor, h: torch.Tensor) -> None:
        """h ← (1 - z)n + zh with n = tanh(x_n + r(h_n)), from gi, gh (B, 3H) = r z n."""
        H = self.hidden
        rz = gi[:, : 2 * H].add_(gh[:, : 2 * H]).sigmoid_()  # (B, 2H)
        n = gi[:, 2 * H:].add_(gh[:, 2 * H:].mul_(rz[:, :H])).tanh_()  # (B, H)
        h.sub_(n).mul_(rz[:, H:]).add_(n)
