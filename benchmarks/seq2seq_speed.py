"""Training speed of the encoder–decoder: `rnnlm train --pairs` (the Trainer's loop: batches,
loss, clipping, schedule, progress, logs) against a bare PyTorch loop of the same model and
batches (forward, loss, backward, clip, AdamW), in the same process, alternating rounds.

    RNNLM_DATA=../shared/data PYTHONPATH=src flock /tmp/rnnlm-cpu.lock \
        python benchmarks/seq2seq_speed.py [--steps 40] [--rounds 3] [--out DIR]

Prints one JSON line per round and the median ratio of real target tokens per second.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from rnnlm.config import DataConfig, ModelConfig, RunConfig, Seq2SeqConfig, TrainConfig
from rnnlm.runtime import autocast
from rnnlm.train.pairs import Seq2SeqTrainer, smoothed_loss


def config(corpus: str, steps: int) -> RunConfig:
    """The Tatoeba recipe of benchmarks/tatoeba.sh, for `steps` steps."""
    return RunConfig(
        model=ModelConfig(layers=1, hidden=512, embedding=512, tie_weights=True, dropout=0.1),
        data=DataConfig(corpus=[corpus], tokenizer="bpe", vocab_size=8000, batch_size=96,
                        val_fraction=0.01),
        train=TrainConfig(max_steps=steps, eval_every=10**9, lr=2e-3, weight_decay=0.01,
                          warmup_steps=0, sample_length=0),
        seq2seq=Seq2SeqConfig(pairs="tsv"))


def bare(trainer: Seq2SeqTrainer, steps: int) -> float:
    """Target tokens/s of a plain loop over the trainer's model and next batches."""
    model, device, precision = trainer.model, trainer.device, trainer.precision
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.01, fused=True)
    batches = [trainer.batches.next()[0] for _ in range(steps)]
    tokens = sum(b.tokens for b in batches)
    start = time.perf_counter()
    for b in batches:
        with autocast(device, precision):
            out = model(b.src, b.src_lengths, b.inputs)
        _, loss = smoothed_loss(out.logits, b.targets, 0.1)
        optimizer.zero_grad()
        (loss / b.tokens).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    return tokens / (time.perf_counter() - start)


def framework(trainer: Seq2SeqTrainer, steps: int) -> float:
    """Target tokens/s of the Trainer's own steps (what `rnnlm train` runs)."""
    first, seen = trainer.step, trainer.tokens_seen
    start = time.perf_counter()
    while trainer.step < first + steps:
        trainer.train_step(trainer.lr())
    return (trainer.tokens_seen - seen) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--corpus", default="tatoeba-eng-fra")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    out = Path(args.out or tempfile.mkdtemp())
    trainer = Seq2SeqTrainer(config(args.corpus, 10**6), out / "run", resuming=False)
    framework(trainer, 5)  # warm up both
    bare(trainer, 5)
    ratios = []
    for r in range(args.rounds):
        ours = framework(trainer, args.steps)
        plain = bare(trainer, args.steps)
        ratios.append(ours / plain)
        print(json.dumps({"round": r, "rnnlm_tokens_per_s": ours, "bare_tokens_per_s": plain,
                          "ratio": ours / plain}), flush=True)
    print(json.dumps({"median_ratio": statistics.median(ratios), "steps": args.steps,
                      "rounds": args.rounds, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
