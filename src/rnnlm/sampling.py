"""Sampling the next token: temperature, top-k, top-p (nucleus) or greedy; and the loop that
primes a model in one forward call and then extends every stream one token per call."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch

from rnnlm.errors import RnnlmError
from rnnlm.models import LanguageModelNet
from rnnlm.runtime import autocast


@dataclass
class Sampling:
    """How the next token is chosen from the model's logits."""

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    greedy: bool = False

    def validate(self) -> Sampling:
        """One-line errors for values that mean nothing."""
        if not self.temperature > 0:
            raise RnnlmError(f"--temperature must be greater than 0 (got {self.temperature}); "
                             f"use --greedy for always the most likely token")
        if self.top_k is not None and self.top_k < 1:
            raise RnnlmError(f"--top-k must be 1 or more (got {self.top_k})")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise RnnlmError(f"--top-p must be in (0, 1] (got {self.top_p})")
        return self


def filter_logits(logits: torch.Tensor, s: Sampling) -> torch.Tensor:
    """Logits (B, V) divided by the temperature, with tokens outside top-k / top-p at -inf."""
    logits = logits.float() / s.temperature
    if s.top_k is not None and s.top_k < logits.shape[-1]:
        kth = torch.topk(logits, s.top_k, dim=-1).values[:, -1:]  # (B, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if s.top_p is not None and s.top_p < 1:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)  # (B, V)
        probs = torch.softmax(sorted_logits, dim=-1)
        before = torch.cumsum(probs, dim=-1) - probs  # mass of strictly more likely tokens
        drop_sorted = before >= s.top_p  # keep the smallest set reaching top_p (≥ 1 token)
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def next_tokens(logits: torch.Tensor, s: Sampling, generator: torch.Generator | None = None
                ) -> torch.Tensor:
    """One token id per row of logits (B, V) → (B,)."""
    if s.greedy:
        return logits.argmax(dim=-1)
    probs = torch.softmax(filter_logits(logits, s), dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


@torch.no_grad()
def generate_ids(model: LanguageModelNet, prime: torch.Tensor, steps: int, s: Sampling,
                 banned: list[int], generator: torch.Generator | None = None,
                 precision: str = "fp32") -> Iterator[torch.Tensor]:
    """Yield `steps` new ids (B,) per step after priming with ids (B, P) in one forward call."""
    was_training = model.training
    model.eval()
    try:
        with autocast(prime.device, precision):
            logits, state = model(prime)  # (B, P, V): the whole prime in one call
        for i in range(steps):
            last = logits[:, -1].float()  # (B, V)
            if banned:
                last[:, banned] = float("-inf")  # <unk> and friends are never text
            ids = next_tokens(last, s, generator)  # (B,)
            yield ids
            if i + 1 < steps:
                with autocast(prime.device, precision):
                    logits, state = model(ids[:, None], state)  # (B, 1, V)
    finally:
        model.train(was_training)
