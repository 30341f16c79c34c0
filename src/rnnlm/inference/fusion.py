"""A target-side language model beside an encoder–decoder: loaded and checked (the same ids),
for shallow fusion inside the search (beam.Fusion) or n-best reranking after it.

The LM must be a documents-mode run with the decoder's tokenizer: its ids are then the
decoder's, BOD and EOD included, so its end-of-document probability scores the end of the
output (train one on the target side with `rnnlm train TARGETS.txt --documents lines
--tokenizer-from RUN`)."""

from __future__ import annotations

import numpy as np
import torch

from rnnlm.data.documents import Boundaries
from rnnlm.errors import RnnlmError
from rnnlm.inference.beam import Fusion, Hypothesis, length_penalty
from rnnlm.language_model import LanguageModel
from rnnlm.tokenizers import same_tokenizer


def load_fusion(run: str, weight: float, translator: object) -> Fusion:
    """The LM run as a Fusion of weight λ, refused unless its ids are the decoder's."""
    lm = LanguageModel.load(run, device=str(translator.device))
    if lm.boundaries is None:
        raise RnnlmError(f"--lm {run} is a stream-mode language model; fusion needs a "
                         f"documents-mode one (train it with --documents lines), whose end "
                         f"token scores the end of an output")
    if not same_tokenizer(translator.tokenizer, lm.tokenizer):
        raise RnnlmError(f"--lm {run} has a {lm.tokenizer.kind} tokenizer of "
                         f"{lm.tokenizer.vocab_size:,} ids that differs from the decoder's "
                         f"({translator.tokenizer.kind}, {translator.tokenizer.vocab_size:,} "
                         f"ids); train the language model with --tokenizer-from "
                         f"{translator.path.parent if translator.path else 'RUN'}")
    return Fusion(lm.model.eval(), weight)


@torch.no_grad()
def lm_logprob(fusion: Fusion, ids: list[int], b: Boundaries, device: torch.device) -> float:
    """log p_LM(ids EOD | BOD) in nats."""
    seq = torch.tensor([[b.bod, *ids, b.eod]], device=device)  # (1, n + 2)
    logits, _ = fusion.lm(seq[:, :-1], None)  # (1, n + 1, V)
    logp = torch.log_softmax(logits.float(), -1)[0]  # (n + 1, V)
    return float(logp.gather(1, seq[0, 1:, None]).sum())


def rerank(hyps: list[Hypothesis], fusion: Fusion, b: Boundaries, alpha: float
           ) -> list[Hypothesis]:
    """The hypotheses by (log p_TM + λ log p_LM) / lp(n), best first."""
    device = next(fusion.lm.parameters()).device
    for h in hyps:
        lm = lm_logprob(fusion, h.ids, b, device)
        h.extra["lm_logp"] = lm
        h.score = (h.logp + fusion.weight * lm) / length_penalty(len(h.ids) + 1, alpha)
    return sorted(hyps, key=lambda h: -h.score)


def pick_weight(scores: dict[float, float]) -> float:
    """The λ with the highest validation score (the smallest λ among ties)."""
    best = max(scores.values())
    return float(min(w for w, s in scores.items() if np.isclose(s, best)))
