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

from collections.abc import Callable

import torch
from torch import nn

from rnnlm.models.kernels.elman import ACTIVATIONS
from rnnlm.models.rnn import GATES, RNNLanguageModel
from rnnlm.models.state import State

TABLE_LIMIT = 1 << 24  # extra elements (64 MiB fp32) a first-layer table may take


def supports(model: nn.Module) -> bool:
    """Whether the Stepper can run this model (every RNNLanguageModel; other models call the
    model once per step)."""
    return isinstance(model, RNNLanguageModel) and model.cfg.cell in GATES


def lstm_order(w: torch.Tensor, hidden: int) -> torch.Tensor:
    """PyTorch's LSTM gate rows (i, f, g, o) reordered to (i, f, o, g): one sigmoid, one tanh."""
    i, f, g, o = w.split(hidden)
    return torch.cat([i, f, o, g])


class Layer:
    """One LSTM or Elman layer's step on preallocated views: the GEMM of [input, h] (B, in+H)
    into the gates g (B, G·H) (added to the table row already in g for the first layer),
    then the cell's update of h (a view into S) in place."""

    def __init__(self, cell: str, act: Callable[[torch.Tensor], torch.Tensor],
                 inp: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, g: torch.Tensor,
                 h: torch.Tensor, c: torch.Tensor | None) -> None:
        self.lstm, self.act = cell == "lstm", act
        self.inp, self.w, self.b, self.g, self.h, self.c = inp, w, b, g, h, c
        H = h.shape[1]
        self.sig, self.cand = g[:, : 3 * H], g[:, 3 * H:]  # σ(i f o), tanh(g): LSTM only
        self.i, self.f, self.o = g[:, :H], g[:, H: 2 * H], g[:, 2 * H: 3 * H]

    def __call__(self) -> None:
        """h ← the layer's new state (and c for the LSTM)."""
        if self.b is None:
            self.g.addmm_(self.inp, self.w)
        else:
            torch.addmm(self.b, self.inp, self.w, out=self.g)
        if not self.lstm:
            self.h.copy_(self.act(self.g))
            return
        self.sig.sigmoid_()
        self.cand.tanh_()
        self.c.mul_(self.f).addcmul_(self.i, self.cand)  # c ← σ(f)c + σ(i)tanh(g)
        torch.tanh(self.c, out=self.h)
        self.h.mul_(self.o)  # h ← σ(o)tanh(c)


class GRULayer:
    """One GRU layer's step: h ← (1 - z)n + zh, n = tanh(W_in x + b_in + r(W_hn h + b_hn));
    the input part gi (B, 3H) comes from the table (first layer) or its own GEMM."""

    def __init__(self, x: torch.Tensor | None, w_x: torch.Tensor | None,
                 b_x: torch.Tensor | None, w_h: torch.Tensor, b_h: torch.Tensor,
                 gi: torch.Tensor, gh: torch.Tensor, h: torch.Tensor) -> None:
        self.x, self.w_x, self.b_x, self.w_h, self.b_h = x, w_x, b_x, w_h, b_h
        self.gi, self.gh, self.h = gi, gh, h
        H = h.shape[1]
        self.rz, self.gh_rz = gi[:, : 2 * H], gh[:, : 2 * H]
        self.r, self.z = gi[:, :H], gi[:, H: 2 * H]
        self.n, self.gh_n = gi[:, 2 * H:], gh[:, 2 * H:]

    def __call__(self) -> None:
        """h ← the layer's new state."""
        if self.w_x is not None:
            torch.addmm(self.b_x, self.x, self.w_x, out=self.gi)
        torch.addmm(self.b_h, self.h, self.w_h, out=self.gh)
        self.rz.add_(self.gh_rz).sigmoid_()
        self.n.add_(self.gh_n.mul_(self.r)).tanh_()
        self.h.sub_(self.n).mul_(self.z).add_(self.n)


class Stepper:
    """The model's next-token logits for `batch` streams, one token per stream per call;
    `share`: another Stepper of the same model whose prepared weights this one reuses (a
    server keeps one per batch size without a copy of the weights each)."""

    @torch.inference_mode()
    def __init__(self, model: RNNLanguageModel, batch: int, precision: str = "fp32",
                 share: Stepper | None = None) -> None:
        cfg = model.cfg
        self.cell, self.layers, self.hidden = cfg.cell, cfg.layers, cfg.hidden
        dev = model.head.weight.device
        dt = torch.bfloat16 if precision == "bf16" else torch.float32  # GEMM dtype
        H, L, V = cfg.hidden, cfg.layers, cfg.vocab_size
        R = model.rnn.weight_hh_l0.shape[0]  # rows of a layer's weights: G·H (crelu: H/2)
        if share is None:
            self._prepare(model, dt)
        else:
            self.table, self.embed, self.base = share.table, share.embed, share.base
            self.weights, self.w_head, self.b_head = share.weights, share.w_head, share.b_head

        self.S = torch.zeros(batch, self.base + L * H, dtype=dt, device=dev)  # [x, h_0..h_L-1]
        self.x = self.S[:, : self.base]  # (B, E): the embedding, when there is no table
        self.hs = [self.S[:, self.base + k * H: self.base + (k + 1) * H] for k in range(L)]
        self.gates = torch.zeros(L, batch, R, dtype=dt, device=dev)  # (L, B, R)
        self.c = torch.zeros(L, batch, H, device=dev) if cfg.cell == "lstm" else None  # fp32
        gates_h = torch.zeros_like(self.gates) if cfg.cell == "gru" else None
        self.stack: list[Layer | GRULayer] = []
        for k, weights in enumerate(self.weights):
            looked_up = k == 0 and self.table is not None  # the input part is in the gates
            x = self.x if k == 0 else self.hs[k - 1]  # (B, in)
            if cfg.cell == "gru":
                self.stack.append(GRULayer(x, *weights, self.gates[k], gates_h[k], self.hs[k]))
                continue
            start = self.base + (k - 1) * H if k else 0  # [x, h]: a contiguous slice of S
            inp = self.S[:, start if not looked_up else self.base: self.base + (k + 1) * H]
            c = self.c[k] if self.c is not None else None
            self.stack.append(Layer(cfg.cell, ACTIVATIONS[cfg.activation], inp, *weights,
                                    self.gates[k], self.hs[k], c))
        self.out = torch.zeros(batch, V, dtype=dt, device=dev)  # (B, V) head output
        self.logits = self.out if dt == torch.float32 else torch.zeros_like(self.out).float()

    def _prepare(self, model: RNNLanguageModel, dt: torch.dtype) -> None:
        """The weights every batch size shares: the first-layer table (or embedding), each
        layer's GEMM operands, the head."""
        cfg = model.cfg
        H, L, V = cfg.hidden, cfg.layers, cfg.vocab_size
        R = model.rnn.weight_hh_l0.shape[0]  # rows of a layer's weights: G·H (crelu: H/2)
        dev = model.head.weight.device

        def param(name: str, k: int) -> torch.Tensor:
            w = getattr(model.rnn, f"{name}_l{k}").detach().float()
            return lstm_order(w, H) if cfg.cell == "lstm" else w

        embed = model.embed.weight.detach().float() if model.embed is not None else None
        width = embed.shape[1] if embed is not None else V  # first-layer input size
        self.table = None  # (V, G·H): first layer's input projection per id, biases folded in
        rows_allowed = width + TABLE_LIMIT // R  # a table as large as W_ih, + limit
        if embed is None or rows_allowed >= V:
            w_ih0 = param("weight_ih", 0)  # (G·H, width)
            x = embed if embed is not None else torch.eye(V, device=dev)  # (V, width)
            bias = param("bias_ih", 0) + (0 if cfg.cell == "gru" else param("bias_hh", 0))
            self.table = torch.addmm(bias, x, w_ih0.t()).to(dt)  # (V, G·H)
        self.embed = None if self.table is not None else embed.to(dt)  # (V, E)
        self.base = 0 if self.table is not None else width  # where h_0 starts in S
        self.weights: list[tuple[torch.Tensor | None, ...]] = []  # per layer, its operands
        for k in range(L):
            w_ih, w_hh = param("weight_ih", k), param("weight_hh", k)  # (G·H, in), (G·H, H)
            b_ih, b_hh = param("bias_ih", k), param("bias_hh", k)  # (G·H,)
            looked_up = k == 0 and self.table is not None  # the input part is in the gates
            if cfg.cell == "gru":
                w_x, b_x = (None, None) if looked_up else (w_ih.to(dt).t(), b_ih.to(dt))
                self.weights.append((w_x, b_x, w_hh.to(dt).t(), b_hh.to(dt)))
                continue
            # One GEMM on [x, h]: W = [W_ih, W_hh]ᵀ (in + H, G·H).
            w = w_hh if looked_up else torch.cat([w_ih, w_hh], dim=1)  # (G·H, in + H)
            b = None if looked_up else (b_ih + b_hh).to(dt)
            self.weights.append((w.to(dt).contiguous().t(), b))
        self.w_head = model.head.weight.detach().to(dt).t()  # (H, V)
        self.b_head = model.head.bias.detach().to(dt)  # (V,)

    @torch.inference_mode()
    def load_state(self, state: State | None) -> None:
        """Set every stream's state from the model's (rows 1 or B); None is the zero state."""
        h, c = state if isinstance(state, tuple) else (state, None)
        if h is None:
            self.S.zero_()
        for k in range(self.layers if h is not None else 0):
            self.hs[k].copy_(h[k])  # (B, H) from (1 or B, H)
        if self.c is not None and c is not None:
            self.c.copy_(c)  # (L, B, H) from (L, 1 or B, H)
        elif self.c is not None:
            self.c.zero_()

    def state(self) -> State:
        """The current state in the model's format: h (L, B, H), and c for the LSTM."""
        h = torch.stack([hk.float() for hk in self.hs])
        return (h, self.c.clone()) if self.c is not None else h

    @torch.inference_mode()
    def step(self, ids: torch.Tensor) -> torch.Tensor:
        """Feed ids (B,) and return the next-token logits (B, V) fp32: a buffer that the next
        call overwrites."""
        if self.table is not None:  # embedding + first input GEMM + bias: one row per id
            torch.index_select(self.table, 0, ids, out=self.gates[0])
        else:
            torch.index_select(self.embed, 0, ids, out=self.x)
        for layer in self.stack:
            layer()
        torch.addmm(self.b_head, self.hs[-1], self.w_head, out=self.out)
        if self.logits is not self.out:
            self.logits.copy_(self.out)
        return self.logits
