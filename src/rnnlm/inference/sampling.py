"""Sampling the next token: temperature, top-k, top-p (nucleus) or greedy; and the loop that
primes a model in one forward call and then extends every stream one token per step."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch

from rnnlm.errors import RnnlmError
from rnnlm.inference.stepper import Stepper, supports
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


class Draw:
    """Draws next ids from logits (B, V) with no host sync: banned ids at -inf, then
    temperature / top-k / top-p, then Gumbel-max with noise in a preallocated buffer
    (argmax of logits - log E, E ~ Exp(1), samples softmax(logits) exactly); a banned id
    stays at -inf whatever the noise."""

    def __init__(self, s: Sampling, banned: list[int], batch: int, vocab: int,
                 device: torch.device, generator: torch.Generator | None = None) -> None:
        self.s, self.generator = s, generator
        self.banned = torch.tensor(banned, dtype=torch.int64, device=device)  # (n,)
        self.noise = torch.empty(batch, vocab, device=device)  # (B, V)

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:
        """One id per row of logits (B, V) fp32 → (B,); logits are left unchanged."""
        if len(self.banned):
            logits = logits.index_fill(1, self.banned, float("-inf"))  # never text
        if self.s.greedy:
            return logits.argmax(dim=-1)
        scores = filter_logits(logits, self.s)  # a new tensor (B, V)
        u = self.noise.uniform_(generator=self.generator)  # cheaper than exponential_
        u.clamp_(min=torch.finfo(u.dtype).tiny)  # (0, 1): log E finite, a kept id stays > -inf
        log_e = u.log_().neg_().log_()  # log E, E = -log u ~ Exp(1)
        return scores.sub_(log_e).argmax(dim=-1)


@torch.inference_mode()
def generate_ids(model: LanguageModelNet, prime: torch.Tensor, steps: int, s: Sampling,
                 banned: list[int], generator: torch.Generator | None = None,
                 precision: str = "fp32", streams: int | None = None
                 ) -> Iterator[torch.Tensor]:
    """Yield `steps` new ids (B,) per step after priming with ids (B, P) in one forward call;
    a prime of one row with streams=B is absorbed once and its state given to all B streams.

    Recurrent LMs then run on a Stepper (no model call per token); any other model is
    called once per token with its state."""
    was_training = model.training
    model.eval()
    batch = streams or prime.shape[0]
    stepper = Stepper(model, batch, precision) if supports(model) else None
    if stepper is None:  # the model's state format is its own: prime every stream
        prime = prime.expand(batch, -1)
    try:
        with autocast(prime.device, precision):
            logits, state = model(prime)  # (B or 1, P, V): the whole prime in one call
        last = logits[:, -1].float().expand(batch, -1)  # (B, V)
        draw = Draw(s, banned, batch, last.shape[-1], prime.device, generator)
        if stepper is not None:
            stepper.load_state(state)
        for i in range(steps):
            ids = draw(last)  # (B,)
            yield ids
            if i + 1 == steps:
                break
            if stepper is not None:
                last = stepper.step(ids)  # (B, V)
                continue
            with autocast(prime.device, precision):
                logits, state = model(ids[:, None], state)  # (B, 1, V)
            last = logits[:, -1].float()
    finally:
        model.train(was_training)



@dataclass
class RowParams:
    """Per-row sampling settings of a batch whose rows belong to different requests: each
    (B,); top_k 0 is off, top_p ≥ 1 is off, greedy rows take the argmax."""

    temperature: torch.Tensor
    top_k: torch.Tensor
    top_p: torch.Tensor
    greedy: torch.Tensor


def filter_rows(logits: torch.Tensor, p: RowParams) -> torch.Tensor:
    """filter_logits with settings of its own for every row: logits (B, V) → scores (B, V),
    each row divided by its temperature, tokens outside its top-k / top-p at -inf."""
    scores = logits / p.temperature[:, None]  # (B, V), a new tensor
    k_on, p_on = p.top_k > 0, p.top_p < 1  # (B,)
    if not bool(k_on.any() or p_on.any()):
        return scores
    sorted_scores, order = torch.sort(scores, dim=-1, descending=True)  # (B, V)
    rank = torch.arange(scores.shape[-1], device=scores.device)  # (V,)
    drop = k_on[:, None] & (rank[None, :] >= p.top_k[:, None])  # past each row's top-k
    probs = torch.softmax(sorted_scores.masked_fill(drop, float("-inf")), dim=-1)
    before = torch.cumsum(probs, dim=-1) - probs  # mass of strictly more likely kept tokens
    drop |= p_on[:, None] & (before >= p.top_p[:, None])  # keeps ≥ 1 token per row
    return scores.masked_fill(torch.zeros_like(drop).scatter(-1, order, drop), float("-inf"))


def draw_rows(logits: torch.Tensor, p: RowParams, generators: list[torch.Generator],
              noise: torch.Tensor) -> torch.Tensor:
    """One id per row (B,) from logits (B, V) (banned ids already at -inf), row i's Gumbel
    noise drawn from generators[i] into noise (≥ B rows): a row's id depends only on its own
    logits, settings and generator, never on the other rows of the batch."""
    scores = filter_rows(logits, p)  # (B, V)
    u = noise[: len(generators)]
    for row, gen in zip(u, generators, strict=True):
        row.uniform_(generator=gen)
    u.clamp_(min=torch.finfo(u.dtype).tiny)
    ids = scores.sub_(u.log_().neg_().log_()).argmax(dim=-1)  # Gumbel-max, as Draw
    return torch.where(p.greedy, logits.argmax(dim=-1), ids)
