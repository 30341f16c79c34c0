"""Training throughput of `rnnlm bench`: tokens/s through the real `Trainer.train_step` (data,
schedule, clipping, fused AdamW, bf16 autocast) beside the bare PyTorch loop of the same shape
(bench/bare.py, in a process of its own), measured in alternating rounds, and MFU against the
measured matmul peak."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from rnnlm.bench.bare import EMBEDDING, BareProcess, Shape
from rnnlm.bench.machine import LocalStep, alternate
from rnnlm.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from rnnlm.models.rnn import GATES

if TYPE_CHECKING:
    from rnnlm.train.trainer import Trainer

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


def rnnlm_step(trainer: Trainer) -> Callable[[], None]:
    """One iteration of Trainer.run's loop body: the scheduled lr, then train_step."""

    def step() -> None:
        trainer.train_step(trainer.lr())

    return step


def measure_training(shape: Shape, corpus: str, precision: str, device: torch.device,
                     peak_gflops: float, seconds: float, bare_loop: BareProcess
                     ) -> dict[str, object]:
    """One row of the training table."""
    from rnnlm.train.trainer import Trainer

    with tempfile.TemporaryDirectory() as tmp:
        config = run_config(shape, corpus, precision, device.type)
        trainer = Trainer(config, Path(tmp) / "run", resuming=False)
        vocab = trainer.config.model.vocab_size
        (ours, our_mib), (bare, bare_mib) = alternate(
            [LocalStep(rnnlm_step(trainer), device),
             bare_loop.build(shape, vocab, device, precision)], seconds)
    tokens = shape.batch * shape.seq_len
    flops = flops_per_token(shape, vocab)
    return {"cell": shape.cell, "layers": shape.layers, "hidden": shape.hidden,
            "batch": shape.batch, "seq_len": shape.seq_len, "precision": precision,
            "tokens_per_s": round(ours * tokens), "mfu": round(flops * ours * tokens
                                                              / (peak_gflops * 1e9), 4),
            "bare_tokens_per_s": round(bare * tokens), "ratio_to_bare": round(ours / bare, 3),
            "peak_mib": round(our_mib, 1), "bare_peak_mib": round(bare_mib, 1),
            "flops_per_token": flops}
