"""Generation speed of `rnnlm bench`: characters/s through `LanguageModel.sample` (the path
`rnnlm sample` takes) for one stream and for many, and the prime absorbed in one call."""

from __future__ import annotations

import time

import torch

from rnnlm.bench.machine import PeakMemory, sync
from rnnlm.config import ModelConfig, RunConfig
from rnnlm.language_model import LanguageModel
from rnnlm.models.rnn import RNNLanguageModel
from rnnlm.sampling import Sampling
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
