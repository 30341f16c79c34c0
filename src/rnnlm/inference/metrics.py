"""Standard scores of outputs against references: sacreBLEU's BLEU (and BLEU-1..4, for
captions) and chrF (with their signatures, so a figure says how it was computed) and
ROUGE-1/2/L F1 of Google's `rouge-score` (Porter stemming; with several references, the
best-scoring one per output), and the extractive summarization baselines Lead-3 and
Longest-3 scored by the same scorer. Both libraries are the `seq2seq` extra."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from rnnlm.errors import RnnlmError

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")
TURN = re.compile(r"\n+")  # DialogSum's utterances are its dialogue's lines


def _sacrebleu() -> Any:
    try:
        import sacrebleu
    except ImportError:
        raise RnnlmError("BLEU and chrF come from sacrebleu; pip install 'rnnlm[seq2seq]'"
                         ) from None
    return sacrebleu


def streams(references: list[list[str]]) -> list[list[str]]:
    """Per-output reference lists → sacreBLEU's reference streams (a missing reference of an
    output with fewer is None, which sacreBLEU skips)."""
    width = max(len(r) for r in references)
    return [[r[k] if k < len(r) else None for r in references] for k in range(width)]


def bleu_chrf(outputs: list[str], references: list[list[str]]) -> dict[str, Any]:
    """Corpus BLEU and chrF (0–100) with sacreBLEU's signature strings."""
    sb = _sacrebleu()
    refs = streams(references)
    bleu, chrf = sb.metrics.BLEU(), sb.metrics.CHRF()
    b, c = bleu.corpus_score(outputs, refs), chrf.corpus_score(outputs, refs)
    return {"bleu": b.score, "chrf": c.score, "bleu_signature": str(bleu.get_signature()),
            "chrf_signature": str(chrf.get_signature())}


def bleu_orders(outputs: list[str], references: list[list[str]]) -> dict[str, Any]:
    """Corpus BLEU-1..4 (0–100) of lowercased text, as image captioning reports it (COCO
    compares captions lowercased), with sacreBLEU's signature (one for all four orders: it
    does not record the order)."""
    sb = _sacrebleu()
    refs = streams(references)
    scores: dict[str, Any] = {}
    for n in range(1, 5):
        bleu = sb.metrics.BLEU(max_ngram_order=n, lowercase=True)
        scores[f"bleu{n}"] = bleu.corpus_score(outputs, refs).score
    return {**scores, "bleu_signature": str(bleu.get_signature())}


def rouge(outputs: list[str], references: list[list[str]]) -> dict[str, float]:
    """Mean ROUGE-1/2/L F1 (0–100), each output against its best reference, stemmed."""
    try:
        from rouge_score import rouge_scorer
    except ImportError:
        raise RnnlmError("ROUGE comes from rouge-score; pip install 'rnnlm[seq2seq]'") from None
    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)
    totals = dict.fromkeys(ROUGE_TYPES, 0.0)
    for out, refs in zip(outputs, references, strict=True):
        scores = scorer.score_multi(refs, out)
        for kind in ROUGE_TYPES:
            totals[kind] += scores[kind].fmeasure
    return {k: 100 * v / len(outputs) for k, v in totals.items()}


def lead_3(source: str) -> str:
    """The first three utterances (lines) of a dialogue."""
    return "\n".join(TURN.split(source.strip())[:3])


def longest_3(source: str) -> str:
    """The three longest utterances (by words), in dialogue order."""
    turns = TURN.split(source.strip())
    keep = sorted(sorted(range(len(turns)), key=lambda i: -len(turns[i].split()))[:3])
    return "\n".join(turns[i] for i in keep)


@dataclass
class PairsResult:
    """Scores of an encoder–decoder on held-out pairs."""

    source: str
    pairs: int
    search: str
    nats_per_token: float
    tokens: int
    bleu: float
    chrf: float
    bleu_signature: str
    chrf_signature: str
    rouge: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def perplexity(self) -> float:
        """Per target token (EOD included), teacher-forced."""
        import math

        return math.exp(self.nats_per_token)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict, perplexity included (for --json)."""
        return {**asdict(self), "perplexity": self.perplexity}
