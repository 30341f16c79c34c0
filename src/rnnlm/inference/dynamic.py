"""Dynamic evaluation (Krause et al. 2018, "Dynamic Evaluation of Neural Sequence Models"):
the text is scored in order, in segments of n tokens with the state carried, and after each
segment is scored the weights take one gradient step on it, so later text is scored by
weights adapted to the text already scored. A documents-mode run reads each document from a
zero state; its weights keep adapting from one document to the next.

Two rules, θ₀ being the trained weights: sgd, θ ← θ − η∇ + λ(θ₀ − θ); and rms, Krause's
θ ← θ − η∇ / (RMS + ε) + λ·(RMS / mean RMS)·(θ₀ − θ), where RMS is each weight's root-mean-
squared gradient of a segment's mean nats on the first STATS_TOKENS tokens of the training
split (STATS_COLUMNS columns read in segments, as Krause's code collects it) and the decay
rates are clipped at 1/λ. The static score beside it is the same pass without the steps (the
same segments, state and kernels), so η = λ = 0 gives it exactly. The weights are restored
afterwards and nothing is written to the run.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from rnnlm.data.corpora import load_corpus
from rnnlm.errors import RnnlmError
from rnnlm.inference.scoring import EvalResult, write_per_token
from rnnlm.inference.splits import Body, check_unchanged, select
from rnnlm.language_model import LanguageModel
from rnnlm.models import LanguageModelNet
from rnnlm.models.state import map_state
from rnnlm.runtime import autocast, memory_guard

RULES = ("rms", "sgd")
CHARACTER_LEVEL = ("char", "byte")
# (rule, character-level?) → (segment n, η, λ). rms, words: the defaults of Krause's released
# code (PTB, AWD-LSTM); characters: n = 20 with η and λ scaled by n/5, as his grid search
# rescales them for longer segments. sgd: η = 1e-2 and no decay are our choice (they helped
# a small char LSTM on held-out Shakespeare; the paper tunes η per model).
DEFAULTS = {("rms", False): (5, 5e-5, 2e-3), ("rms", True): (20, 2e-4, 8e-3),
            ("sgd", False): (5, 1e-2, 0.0), ("sgd", True): (20, 1e-2, 0.0)}
EPSILON = 2e-5  # Krause's ε, beside the RMS in the rms rule's denominator
STATS_TOKENS = 1 << 16  # training tokens the rms rule's gradient statistics are collected on
STATS_COLUMNS = 100  # Krause's batch size for them


@dataclass(frozen=True)
class Dynamic:
    """The settings of a dynamic evaluation (None: the default for the run's tokenizer)."""

    rule: str = "rms"
    lr: float | None = None
    decay: float | None = None
    segment: int | None = None

    def resolved(self, tokenizer: str) -> Dynamic:
        """These settings checked, with the defaults of the rule and level filled in."""
        if self.rule not in RULES:
            raise RnnlmError(f"--dynamic-rule must be one of {', '.join(RULES)} "
                             f"(got {self.rule!r})")
        segment, lr, decay = DEFAULTS[self.rule, tokenizer in CHARACTER_LEVEL]
        done = Dynamic(self.rule, segment=segment if self.segment is None else self.segment,
                       lr=lr if self.lr is None else self.lr,
                       decay=decay if self.decay is None else self.decay)
        for name, value in (("lr", done.lr), ("decay", done.decay)):
            if not (value >= 0 and math.isfinite(value)):
                raise RnnlmError(f"--dynamic-{name} must be 0 or more (got {value})")
        if done.decay > 1:
            raise RnnlmError(f"--dynamic-decay must be at most 1: it is the share of the way "
                             f"back to the trained weights per step (got {done.decay})")
        if done.segment < 1:
            raise RnnlmError(f"--dynamic-segment must be 1 or more tokens (got {done.segment})")
        return done

    def describe(self) -> str:
        """The settings in a few words."""
        return f"{self.rule}, η={self.lr:g}, λ={self.decay:g}, {self.segment}-token segments"


@dataclass
class DynamicResult:
    """Static and dynamic scores of one text, the same tokens in the same segments."""

    settings: Dynamic
    static: EvalResult
    dynamic: EvalResult
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """The JSON of `rnnlm eval --dynamic`."""
        return {"source": self.dynamic.source, **dataclasses.asdict(self.settings),
                "static": self.static.to_dict(), "dynamic": self.dynamic.to_dict(),
                "seconds": self.seconds}


class Update:
    """A rule's step on a model's weights, keeping θ₀ to decay toward and to restore."""

    def __init__(self, model: LanguageModelNet, settings: Dynamic,
                 rms: list[torch.Tensor] | None = None) -> None:
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.start = [p.detach().clone() for p in self.params]
        self.lr, self.decay = settings.lr, settings.decay
        self.scales: list[torch.Tensor | float] = [1.0] * len(self.params)
        self.rates: list[torch.Tensor | float] = [1.0] * len(self.params)
        if rms is not None:
            mean = torch.stack([r.mean() for r in rms]).mean()  # over tensors, as Krause's
            self.scales = [r + EPSILON for r in rms]
            limit = 1 / self.decay if self.decay > 0 else math.inf  # a step never overshoots
            self.rates = [(r / mean).clamp(max=limit) for r in rms]

    def step(self, loss: torch.Tensor) -> None:
        """θ ← θ − η∇loss / scale + λ·rate·(θ₀ − θ)."""
        grads = torch.autograd.grad(loss, self.params, allow_unused=True)
        with torch.no_grad():
            for p, p0, g, scale, rate in zip(self.params, self.start, grads, self.scales,
                                             self.rates, strict=True):
                push = torch.zeros_like(p) if g is None else g / scale
                p.add_(self.decay * rate * (p0 - p) - self.lr * push)

    def restore(self) -> None:
        """Put the trained weights back."""
        with torch.no_grad():
            for p, p0 in zip(self.params, self.start, strict=True):
                p.copy_(p0)


@contextmanager
def differentiable(model: LanguageModelNet, device: torch.device) -> Iterator[None]:
    """Gradients on, dropout off, and on a GPU cuDNN off (its RNN has no backward in eval
    mode): static and dynamic passes alike run inside, so they use the same kernels."""
    was_training = model.training
    model.eval()
    try:
        cudnn = torch.backends.cudnn.flags(enabled=False) if device.type == "cuda" \
            else nullcontext()
        with torch.enable_grad(), cudnn:
            yield
    finally:
        model.train(was_training)


def segment_nats(model: LanguageModelNet, seqs: list[np.ndarray], segment: int,
                 device: torch.device, precision: str, update: Update | None = None
                 ) -> torch.Tensor:
    """-ln p of every scored token, (N,) float64 nats: each sequence read in order from a zero
    state (its first id context only) in segments of `segment` tokens, the state carried from
    one to the next; with an update, one step on each segment's mean nats once it is scored."""
    out = []
    with differentiable(model, device):
        for seq in seqs:
            ids = torch.from_numpy(seq).to(device)
            state = None
            for s in range(0, len(seq) - 1, segment):
                w = min(segment, len(seq) - 1 - s)
                with autocast(device, precision):
                    logits, state = model(ids[None, s: s + w], state)  # (1, w, V)
                nats = F.cross_entropy(logits[0].float(), ids[s + 1: s + 1 + w],
                                       reduction="none")  # (w,)
                if update is not None:
                    update.step(nats.mean())
                out.append(nats.detach().double().cpu())
                state = map_state(torch.Tensor.detach, state)
            memory_guard().check()  # documents of every length leave freed blocks behind
    return torch.cat(out)


def gradient_rms(model: LanguageModelNet, ids: np.ndarray, segment: int, device: torch.device,
                 precision: str) -> list[torch.Tensor]:
    """Each weight's root-mean-squared gradient of a segment's mean nats over ids, read as
    up to STATS_COLUMNS contiguous columns in segments, the state carried (Krause's gradstat)."""
    columns = min(STATS_COLUMNS, len(ids) // (segment + 1))
    if columns < 1:
        raise RnnlmError(f"the training split has too few tokens ({len(ids)}) for the rms "
                         f"rule's gradient statistics; use --dynamic-rule sgd")
    length = len(ids) // columns
    grid = torch.from_numpy(ids[: columns * length].reshape(columns, length)).to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    squares = [torch.zeros_like(p) for p in params]
    state, batches = None, 0
    with differentiable(model, device):
        for s in range(0, length - 1, segment):
            w = min(segment, length - 1 - s)
            with autocast(device, precision):
                logits, state = model(grid[:, s: s + w], state)  # (C, w, V)
            loss = F.cross_entropy(logits.float().transpose(1, 2), grid[:, s + 1: s + 1 + w])
            for sq, g in zip(squares, torch.autograd.grad(loss, params, allow_unused=True),
                             strict=True):
                if g is not None:
                    sq += g * g
            state = map_state(torch.Tensor.detach, state)
            batches += 1
    return [torch.sqrt(sq / batches) for sq in squares]


def training_ids(lm: LanguageModel) -> np.ndarray:
    """The first STATS_TOKENS ids of the run's training split (documents: each BOD .. EOD,
    one after another; only the gradient statistics read them so)."""
    data = lm.config.data
    corpus = load_corpus(data.corpus)
    check_unchanged(corpus, data)
    body = select(corpus, data, "train", hint="the rms rule needs the run's training text")
    enough = 8 * STATS_TOKENS  # characters: every tokenizer gives at least this many ids
    if isinstance(body, str):
        body = body[:enough]
    else:
        lengths = np.cumsum([len(d) + 1 for d in body])
        body = body[: int(np.searchsorted(lengths, enough)) + 1]
    seqs, _ = lm.encoded(body)
    return np.concatenate(seqs)[:STATS_TOKENS]


def evaluate_dynamic(lm: LanguageModel, body: Body, settings: Dynamic,
                     per_token: str | Path | None = None) -> DynamicResult:
    """Static and dynamic scores of a text or documents with a run (module docstring); the
    run's weights are the trained ones again afterwards."""
    s = settings.resolved(lm.tokenizer.kind)
    start = time.perf_counter()
    seqs, counts = lm.encoded(body)
    args = (lm.model, seqs, s.segment, lm.device, lm.precision)
    static = segment_nats(*args)
    rms = None
    if s.rule == "rms":
        rms = gradient_rms(lm.model, training_ids(lm), s.segment, lm.device, lm.precision)
    update = Update(lm.model, s, rms)
    try:
        dynamic = segment_nats(*args, update=update)
    finally:
        update.restore()
    if per_token:
        write_per_token(Path(per_token), lm.pieces(body), dynamic, {"static_nats": static})
    return DynamicResult(s, dataclasses.replace(counts, total_nats=math.fsum(static.tolist())),
                         dataclasses.replace(counts, total_nats=math.fsum(dynamic.tolist())),
                         time.perf_counter() - start)
