"""A run linearly interpolated per token with another model (Mikolov et al. 2011 mixed RNN
LMs with Kneser–Ney this way): p = λ·p_run + (1 − λ)·p_other, both predicting the same
tokens, so the other model is an n-gram built by `rnnlm ngram train` or another run with the
same tokenizer and mode (a documents model's EOD is scored by both as the n-gram's </s>).

λ is given, or tuned by EM on the run's validation split: each round sets λ to the mean
posterior that the run produced a token; the log-likelihood, concave in λ, rises every round
to its one maximum. Models with different tokenizers are refused: a mixture across them
would have to be per character, which needs character probabilities from both.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rnnlm.errors import RnnlmError
from rnnlm.inference.scoring import EvalResult, write_per_token
from rnnlm.inference.splits import Body
from rnnlm.language_model import LanguageModel
from rnnlm.ngram.lm import NgramLM
from rnnlm.tokenizers import same_tokenizer

Scorer = LanguageModel | NgramLM
TOLERANCE = 1e-7  # EM stops once λ moves less than this in a round
ROUNDS = 1000


@dataclass
class MixResult:
    """A run, the other model and their mixture on one text, with the λ used."""

    names: tuple[str, str]
    weight: float  # λ, the run's share of each token's probability
    tuning: str  # how λ was chosen
    run: EvalResult
    other: EvalResult
    mixture: EvalResult
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """The JSON of `rnnlm eval --mix`."""
        return {"source": self.mixture.source, "run": self.names[0], "mix": self.names[1],
                "weight": self.weight, "tuning": self.tuning,
                "run_scores": self.run.to_dict(), "mix_scores": self.other.to_dict(),
                "mixture": self.mixture.to_dict(), "seconds": self.seconds}


def load_other(model: str | Path, lm: LanguageModel, device: str) -> Scorer:
    """The model to mix with a run: an .arpa file or a run, refused unless it predicts the
    run's tokens (documents or not as the run, and the same tokenizer)."""
    name = str(model)
    other: Scorer = NgramLM.load(model) if name.endswith(".arpa") else \
        LanguageModel.load(model, device=device)
    if (lm.boundaries is None) != (other.boundaries is None):
        mode = "documents" if lm.boundaries else "a stream"
        raise RnnlmError(f"--mix {name} does not read {mode} as the run does, so the two do "
                         f"not predict the same tokens (document boundaries); build it with "
                         f"the run's --documents option")
    if not same_tokenizer(lm.tokenizer, other.tokenizer):
        raise RnnlmError(
            f"--mix {name} has a {other.tokenizer.kind} tokenizer of "
            f"{other.tokenizer.vocab_size:,} ids, not the run's ({lm.tokenizer.kind}, "
            f"{lm.tokenizer.vocab_size:,} ids), so the two do not predict the same tokens; a "
            f"per-token mixture needs the same tokenizer (build the n-gram with `rnnlm ngram "
            f"train` on the run's corpus with its data options), and a mixture across "
            f"tokenizers would need character probabilities from both, which rnnlm does not "
            f"compute")
    return other


def token_nats(model: Scorer, body: Body) -> torch.Tensor:
    """-ln p of every token the model scores in body, in order: (N,) float64 nats."""
    return torch.as_tensor(model.token_nats(body)).double().cpu()


def mixed_nats(run: torch.Tensor, other: torch.Tensor, weight: float) -> torch.Tensor:
    """-ln(λ·p_run + (1 − λ)·p_other) per token, from both models' nats (N,) float64."""
    w = torch.tensor(weight, dtype=torch.float64)
    return -torch.logaddexp(torch.log(w) - run, torch.log1p(-w) - other)


def tune_weight(run: torch.Tensor, other: torch.Tensor) -> float:
    """The λ of the most likely mixture of tokens with these nats (N,), by EM from 0.5."""
    gap = other - run  # ln p_run − ln p_other
    weight = 0.5
    for _ in range(ROUNDS):
        posterior = torch.sigmoid(gap + math.log(weight) - math.log1p(-weight))  # p(run | token)
        new = float(posterior.mean())
        if abs(new - weight) < TOLERANCE or not 0 < new < 1:
            return new
        weight = new
    return weight


def mix(lm: LanguageModel, other: Scorer, names: tuple[str, str], body: Body, source: str,
        weight: float | None, tune_on: tuple[Body, str] | None = None,
        per_token: str | Path | None = None) -> MixResult:
    """Score body with the run, the other model and their mixture of weight λ (None: tuned on
    tune_on, a body and its name, by default the one scored)."""
    if weight is not None and not 0 <= weight <= 1:
        raise RnnlmError(f"--mix-weight must be in [0, 1]: the run's share of each token's "
                         f"probability (got {weight})")
    start = time.perf_counter()
    run_nats, other_nats = token_nats(lm, body), token_nats(other, body)
    if len(run_nats) != len(other_nats):
        raise RnnlmError(f"{names[0]} scores {len(run_nats):,} tokens of {source} and "
                         f"{names[1]} {len(other_nats):,}; they do not predict the same tokens")
    tuning = "given"
    if weight is None:
        pair, tune_name = (run_nats, other_nats), source
        if tune_on is not None:
            pair, tune_name = (token_nats(lm, tune_on[0]), token_nats(other, tune_on[0])), \
                tune_on[1]
        weight, tuning = tune_weight(*pair), f"EM on {tune_name}"
    nats = mixed_nats(run_nats, other_nats, weight)
    if per_token:
        write_per_token(Path(per_token), lm.pieces(body), nats,
                        {"run_nats": run_nats, "mix_nats": other_nats})
    run, theirs = lm.score(body), other.score(body)
    run.source = theirs.source = source
    mixture = dataclasses.replace(run, total_nats=math.fsum(nats.tolist()))
    return MixResult(names, weight, tuning, run, theirs, mixture, time.perf_counter() - start)
