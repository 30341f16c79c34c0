"""Generation speed: characters/s through `LanguageModel.sample` (the path `rnnlm sample`
takes) for one stream and for many, the prime absorbed in one call, and tokens/s of the
sampling loop alone, of the Stepper alone and of a model called once per token."""

from __future__ import annotations

import torch
from torch import nn

from rnnlm.bench.machine import PeakMemory, best_of, timed
from rnnlm.config import ModelConfig, RunConfig
from rnnlm.inference.sampling import Sampling, generate_ids
from rnnlm.inference.stepper import Stepper
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


def sample_speed(lm: LanguageModel, streams: int, length: int,
                 sampling: Sampling | None = None) -> float:
    """Characters/s, summed over streams, of one timed `LanguageModel.sample` call."""
    texts, spent = timed(lambda: lm.sample(length=length, num=streams, seed=0,
                                           sampling=sampling or Sampling(temperature=1.0)),
                         lm.device)
    return sum(len(t) for t in texts) / spent


def generation_speed(lm: LanguageModel, streams: int, length: int) -> tuple[float, float]:
    """(sample_speed, best of three runs; peak MiB of an untimed run)."""
    with PeakMemory(lm.device).measure() as peak:
        lm.sample(length=min(length, 100), num=streams, seed=0)
    return best_of(3, lambda: sample_speed(lm, streams, length)), peak.mib


def prime_speed(lm: LanguageModel, prime: str) -> tuple[float, float]:
    """(characters/s of absorbing the prime in one call, best of two runs; peak MiB of an
    untimed run)."""
    with PeakMemory(lm.device).measure() as peak:
        lm.sample(prime=prime, length=1, seed=0)

    def run() -> float:
        return len(prime) / timed(lambda: lm.sample(prime=prime, length=1, seed=0), lm.device)[1]

    return best_of(2, run), peak.mib


def measure_generation(model: nn.Module, streams: int = 1, steps: int = 500,
                       precision: str = "fp32", sampling: Sampling | None = None) -> float:
    """Tokens per second (all streams together) of generate_ids after a one-token prime (the
    prime and setup untimed): the sampling loop without decoding; sample_speed times the
    whole `LanguageModel.sample` path instead."""
    device = next(model.parameters()).device
    prime = torch.ones(1, 1, dtype=torch.int64, device=device)
    it = generate_ids(model, prime, steps + 1, sampling or Sampling(), [0],
                      torch.Generator(device=device).manual_seed(0), precision, streams)
    next(it)  # prime, stepper, first draw
    # ids.tolist(): the one host sync per step that streaming text needs
    _, spent = timed(lambda: [ids.tolist() for ids in it], device)
    return streams * steps / spent


@torch.inference_mode()
def stepper_speed(model: RNNLanguageModel, streams: int, steps: int, precision: str) -> float:
    """Tokens per second (all streams together) of Stepper.step alone, feeding back fixed ids:
    the network's share of generation, without sampling or the host sync."""
    device = next(model.parameters()).device
    stepper = Stepper(model, streams, precision)
    stepper.load_state(None)
    ids = torch.randint(1, model.cfg.vocab_size, (streams,), device=device)
    stepper.step(ids)  # untimed: the first step
    _, spent = timed(lambda: [stepper.step(ids) for _ in range(steps)], device)
    return streams * steps / spent


class PerToken(nn.Module):
    """A model behind a wrapper the Stepper does not know, so generate_ids calls it once per
    token: the path generation took before the Stepper, for comparison."""

    def __init__(self, inner: RNNLanguageModel) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, ids: torch.Tensor, state: object = None) -> tuple[torch.Tensor, object]:
        """The inner model's logits and state."""
        return self.inner(ids, state)
