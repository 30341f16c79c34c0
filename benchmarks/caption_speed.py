"""Where a captioner's time goes, on this machine: the encoder (images/s through the CNN),
the decoder (captions/s of a training step from cached grids; images/s of greedy and beam-5
captioning from grids), and a whole training step with the encoder in it (the scratch CNN, or
a fine-tuned encoder), each in the run's training precision (bf16 autocast where the CPU has
it). Prints a JSON list, one object per run given.

    PYTHONPATH=src flock /tmp/rnnlm-cpu.lock python benchmarks/caption_speed.py RUN [RUN ...]
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from rnnlm.captioning import ImageCaptioner, caption_text
from rnnlm.checkpoint import read_state, resolve
from rnnlm.data.buckets import pad_batch
from rnnlm.data.captions import load_images
from rnnlm.data.pairs import encode_targets
from rnnlm.models.state import lm_loss
from rnnlm.runtime import autocast
from rnnlm.train.captions import captions_of

BATCH = 32


def per_second(work: Callable[[], object], items: int, rounds: int = 3) -> float:
    """Items per second of the fastest of `rounds` calls (after one warm-up call)."""
    work()
    best = min(_timed(work) for _ in range(rounds))
    return items / best


def _timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def measure(run: Path) -> dict[str, object]:
    """The speeds of one captioning run (its precision, this process's threads)."""
    cap = ImageCaptioner.load(run, device="cpu")
    cap.precision = cap.config.train.precision
    parts = captions_of(cap.config)
    images = load_images(parts["test"].images[:BATCH], cap.image_size)  # (B, 3, s, s)
    grids = cap.features(images)
    refs = [caption_text(r[0]) for r in parts["test"].captions[:BATCH]]
    inputs, targets, _ = pad_batch(encode_targets(cap.tokenizer, refs), "cpu")
    model = cap.model.train()

    def decoder_step() -> None:
        with autocast(cap.device, cap.precision):
            loss = lm_loss(model(grids, inputs).logits, targets)
        loss.backward()

    def whole_step() -> None:
        with autocast(cap.device, cap.precision):
            loss = lm_loss(model(model.features(images), inputs).logits, targets)
        loss.backward()

    trained_encoder = (any(p.requires_grad for p in model.encoder.parameters()) and \
        cap.config.caption.encoder == "cnn") or cap.config.caption.fine_tune
    out: dict[str, object] = {
        "run": str(run), "encoder": cap.config.caption.encoder, "image_size": cap.image_size,
        "threads": torch.get_num_threads(), "precision": cap.precision,
        "encoder_images_per_s": per_second(lambda: cap.features(images), BATCH),
        "decoder_train_captions_per_s": per_second(decoder_step, BATCH),
        "greedy_images_per_s_from_grids": per_second(lambda: cap.describe(grids, 1), BATCH),
        "beam5_images_per_s_from_grids": per_second(lambda: cap.describe(grids, 5), BATCH)}
    if trained_encoder:
        out["whole_train_step_captions_per_s"] = per_second(whole_step, BATCH)
    state = read_state(resolve(run, "last"))
    # the run's own rate, its validations included
    out["run_captions_per_s"] = state["step"] * cap.config.data.batch_size / state["elapsed"]
    out["run_steps"], out["run_seconds"] = state["step"], state["elapsed"]
    return out


if __name__ == "__main__":
    torch.manual_seed(0)
    print(json.dumps([measure(Path(r)) for r in sys.argv[1:]], indent=1))
