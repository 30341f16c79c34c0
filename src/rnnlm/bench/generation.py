"""Generation speed: characters/s through `LanguageModel.sample` (the path `rnnlm sample`
takes) for one stream and for many, the prime absorbed in one call, and tokens/s of the
sampling loop alone."""

from __future__ import annotations

import time

import torch
from torch import nn

from rnnlm.bench.machine import PeakMemory, sync
from rnnlm.config import ModelConfig, RunConfig
from rnnlm.inference.sampling import Sampling, generate_ids
from rnnlm.language_model import LanguageModel
from rnnlm.models.rnn import RNNLanguageModel
from rnnlm.tokenizers import build_tokenizer


def char_model(cell: str, layers: int, hidden: int, text: str, device: torch.device,
               precision: str) -> LanguageModel:
    """An untrained character model over text's characters (speed does not need training)."""
    tokenizer = build_tokenizer("char", text)
    config = RunConfig(model=ModelConfig(cell=cell, layers=layers, hidden=hidden,
                                         vocab_size=tokenizer.vocab_size))
    torch.manual_seed(0)
    model = RNNLanguageModel(config.model, device.type).to(device).eval()
    return LanguageModel(model, tokenizer, config, device, precision)


def generation_speed(lm: LanguageModel, streams: int, length: int) -> tuple[float, float]:
    """(characters/s summed over streams, best of three timed runs: this shared machine's speed
    dips for seconds at a time; peak MiB of an untimed run)."""
    with PeakMemory(lm.device).measure() as peak:
        lm.sample(length=min(length, 100), num=streams, seed=0)
    best = 0.0
    for seed in (1, 2, 3):
        start = time.perf_counter()
        texts = lm.sample(length=length, num=streams, seed=seed,
                          sampling=Sampling(temperature=1.0))
        sync(lm.device)
        chars = sum(len(t) for t in texts)
        best = max(best, chars / (time.perf_counter() - start))
    return best, peak.mib


def prime_speed(lm: LanguageModel, prime: str) -> tuple[float, float]:
    """(characters/s of absorbing `prime` in one forward call and sampling one character
    after it, best of two; peak MiB of an untimed run)."""
    with PeakMemory(lm.device).measure() as peak:
        lm.sample(prime=prime, length=1, seed=0)
    best = 0.0
    for _ in range(2):
        start = time.perf_counter()
        lm.sample(prime=prime, length=1, seed=0)
        sync(lm.device)
        best = max(best, len(prime) / (time.perf_counter() - start))
    return best, peak.mib


def measure_generation(model: nn.Module, streams: int = 1, steps: int = 500,
                       precision: str = "fp32", sampling: Sampling | None = None) -> float:
    """Tokens per second (all streams together) of generate_ids after a one-token prime (the
    prime and setup untimed): the sampling loop without decoding, for benchmarks/generate.py;
    generation_speed times the whole `LanguageModel.sample` path instead."""
    device = next(model.parameters()).device
    prime = torch.ones(1, 1, dtype=torch.int64, device=device)
    it = generate_ids(model, prime, steps + 1, sampling or Sampling(), [0],
                      torch.Generator(device=device).manual_seed(0), precision, streams)
    next(it)  # prime, stepper, first draw
    start = time.perf_counter()
    for ids in it:
        ids.tolist()  # the one host sync per step that streaming text needs
    return streams * steps / (time.perf_counter() - start)
