"""Training throughput of `rnnlm bench`: tokens/s through the real `Trainer.train_step` (data,
schedule, clipping, fused AdamW, bf16 autocast) beside a bare PyTorch loop of the same shape,
measured alternately in the same process, and MFU against the measured matmul peak."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from rnnlm.bench.machine import PeakMemory, calls_per_s, sync
from rnnlm.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from rnnlm.runtime import autocast

if TYPE_CHECKING:
    from rnnlm.train.trainer import Trainer

GATES = {"lstm": 4, "gru": 3, "rnn": 1}  # weight blocks per recurrent layer
EMBEDDING = 128  # the default embedding size


@dataclass(frozen=True)
class Shape:
    """One benchmarked model and batch shape."""

    cell: str
    layers: int
    hidden: int
    batch: int
    seq_len: int


SHAPES = [Shape(c, 2, h, b, t) for c in ("lstm", "gru", "rnn")
          for h, b, t in ((128, 32, 64), (256, 64, 128), (512, 64, 128))]


def flops_per_token(shape: Shape, vocab: int) -> float:
    """Training FLOPs per token: 6 × the weights each token multiplies (forward 2, backward
    4), i.e. every recurrent layer's input and hidden matrices and the softmax head."""
    g, h = GATES[shape.cell], shape.hidden
    weights = sum(g * h * ((EMBEDDING if k == 0 else h) + h) for k in range(shape.layers))
    return 6.0 * (weights + h * vocab)


def run_config(shape: Shape, corpus: str, precision: str, device: str) -> RunConfig:
    """The rnnlm run measured: the shape, dropout 0 (as in the bare loop), defaults otherwise."""
    return RunConfig(
        model=ModelConfig(cell=shape.cell, layers=shape.layers, hidden=shape.hidden,
                          embedding=EMBEDDING, dropout=0.0),
        data=DataConfig(corpus=[corpus], batch_size=shape.batch, seq_len=shape.seq_len),
        train=TrainConfig(max_steps=10**9, precision=precision, device=device, sample_length=0),
    )


class BareLM(nn.Module):
    """What a user would write by hand: embedding → nn.LSTM/GRU/RNN → linear head."""

    def __init__(self, shape: Shape, vocab: int) -> None:
        super().__init__()
        rnn = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[shape.cell]
        self.embed = nn.Embedding(vocab, EMBEDDING)
        self.rnn = rnn(EMBEDDING, shape.hidden, shape.layers, batch_first=True)
        self.head = nn.Linear(shape.hidden, vocab)

    def forward(self, ids: torch.Tensor, state: object) -> tuple[torch.Tensor, object]:
        """Logits (B, T, V) and the final state."""
        out, state = self.rnn(self.embed(ids), state)  # (B, T, H)
        return self.head(out), state


def bare_step(shape: Shape, vocab: int, device: torch.device, precision: str
              ) -> Callable[[], None]:
    """One step of the bare loop: forward, cross-entropy, backward, fused AdamW; the state is
    carried and detached like rnnlm's truncated BPTT."""
    model = BareLM(shape, vocab).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=device.type in ("cpu", "cuda"))
    x = torch.randint(vocab, (shape.batch, shape.seq_len), device=device)
    y = torch.randint(vocab, (shape.batch, shape.seq_len), device=device)
    carried: list[object] = [None]

    def step() -> None:
        with autocast(device, precision):
            logits, state = model(x, carried[0])
        carried[0] = tuple(s.detach() for s in state) if isinstance(state, tuple) \
            else state.detach()
        loss = F.cross_entropy(logits.float().flatten(0, 1), y.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def rnnlm_step(trainer: Trainer) -> Callable[[], None]:
    """One iteration of Trainer.run's loop body: the scheduled lr, then train_step."""
    t = trainer.config.train

    def step() -> None:
        lr = t.lr * trainer.schedule.factor(trainer.step, trainer.budget_progress())
        trainer.train_step(lr)

    return step


def alternate(steps: list[Callable[[], None]], device: torch.device, seconds: float,
              rounds: int = 5) -> list[tuple[float, float]]:
    """(best steps/s, peak MiB) of each step function, timed in alternating rounds so drift
    in the machine's speed hits all alike; two untimed warm-up steps each first."""
    memory = []
    for step in steps:
        with PeakMemory(device).measure() as peak:
            step()
            step()
            sync(device)
        memory.append(peak.mib)
    best = [0.0] * len(steps)
    for _ in range(rounds):
        for i, step in enumerate(steps):
            best[i] = max(best[i], calls_per_s(step, device, seconds / (rounds * len(steps))))
    return list(zip(best, memory, strict=True))


def measure_training(shape: Shape, corpus: str, precision: str, device: torch.device,
                     peak_gflops: float, seconds: float) -> dict[str, object]:
    """One row of the training table."""
    from rnnlm.train.trainer import Trainer

    with tempfile.TemporaryDirectory() as tmp:
        config = run_config(shape, corpus, precision, device.type)
        trainer = Trainer(config, Path(tmp) / "run", resuming=False)
        vocab = config.model.vocab_size
        (ours, our_mib), (bare, bare_mib) = alternate(
            [rnnlm_step(trainer), bare_step(shape, vocab, device, precision)], device, seconds)
    tokens = shape.batch * shape.seq_len
    flops = flops_per_token(shape, vocab)
    return {"cell": shape.cell, "layers": shape.layers, "hidden": shape.hidden,
            "batch": shape.batch, "seq_len": shape.seq_len, "precision": precision,
            "tokens_per_s": round(ours * tokens), "mfu": round(flops * ours * tokens
                                                              / (peak_gflops * 1e9), 4),
            "bare_tokens_per_s": round(bare * tokens), "ratio_to_bare": round(ours / bare, 3),
            "peak_mib": round(our_mib, 1), "bare_peak_mib": round(bare_mib, 1),
            "flops_per_token": flops}
