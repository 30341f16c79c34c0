"""CIDEr-D, the consensus score of image captions (Vedantam, Zitnick and Parikh, "CIDEr:
Consensus-based Image Description Evaluation", CVPR 2015, arXiv:1411.5726), computed as the
COCO caption evaluation computes it (pycocoevalcap's cider/cider_scorer.py), in plain Python.

A caption becomes, for each n = 1..4, a tf-idf vector of its n-grams, the idf being
log(images / images whose references hold the n-gram) over the reference sets of the corpus
being scored, so a score depends on the whole corpus: score a test set in one call. An image
scores the cosine of its candidate's vector with each reference's, averaged over references
and over n. The "-D" variant, which COCO reports as CIDEr, makes plain CIDEr harder to game:
the candidate's tf-idf weights are clipped by the reference's (repeating an n-gram no longer
pays), a Gaussian penalty exp(-Δ²/2σ²) with σ = 6 discounts a length difference of Δ words,
words are not stemmed, and the score is multiplied by 10."""

from __future__ import annotations

import math
import re
from collections import Counter

from rnnlm.errors import RnnlmError

MAX_N = 4
SIGMA = 6.0
NOT_WORD = re.compile(r"[^\w\s]")

Vector = tuple[dict[tuple[str, ...], float], float]  # n-gram → tf-idf weight, and the norm


def tokenize(text: str) -> list[str]:
    """Lowercased words without punctuation: the effect of COCO's PTBTokenizer on plain
    caption text, without Java. It differs in deleting every character that is neither a word
    character nor a space, inside words too, where PTB splits clitics and keeps hyphenated words
    and symbols: "man's" is "mans" (PTB: "man 's"), "t-shirt" is "tshirt", "&" and "$" vanish."""
    return NOT_WORD.sub("", text.lower()).split()


def _ngrams(words: list[str]) -> list[Counter[tuple[str, ...]]]:
    """The n-gram counts of a caption for n = 1..MAX_N (its term frequencies)."""
    return [Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))
            for n in range(1, MAX_N + 1)]


def _vectors(counts: list[Counter[tuple[str, ...]]], df: Counter[tuple[str, ...]],
             log_images: float) -> list[Vector]:
    """Per n, tf × idf of each n-gram (one never seen in a reference counts as seen once)."""
    out = []
    for grams in counts:
        weights = {g: tf * (log_images - math.log(max(1, df[g]))) for g, tf in grams.items()}
        out.append((weights, math.sqrt(sum(w * w for w in weights.values()))))
    return out


def _similarity(cand: list[Vector], ref: list[Vector], delta: int) -> float:
    """Sum over n of the clipped cosine of candidate and reference, times the length penalty."""
    total = 0.0
    for (cw, cnorm), (rw, rnorm) in zip(cand, ref, strict=True):
        if cnorm and rnorm:  # weights are ≥ 0, so a zero norm means a zero dot product
            total += sum(min(w, rw.get(g, 0.0)) * rw.get(g, 0.0) for g, w in cw.items()) / (
                cnorm * rnorm)
    return total * math.exp(-delta * delta / (2 * SIGMA * SIGMA))


def cider_d(candidates: list[str], references: list[list[str]]) -> tuple[float, list[float]]:
    """CIDEr-D of one candidate caption per image against its references: the corpus score
    (the mean) and each image's."""
    if len(candidates) != len(references):
        raise RnnlmError(f"CIDEr-D needs one reference list per candidate; got "
                         f"{len(candidates)} candidates and {len(references)} reference lists")
    if not candidates:
        raise RnnlmError("CIDEr-D needs at least one candidate caption to score")
    empty = [i for i, refs in enumerate(references) if not refs]
    if empty:
        raise RnnlmError(f"CIDEr-D needs at least one reference per image; image {empty[0]} "
                         f"(0-based) has none")
    cand_words = [tokenize(c) for c in candidates]
    ref_words = [[tokenize(r) for r in refs] for refs in references]
    cand_counts = [_ngrams(w) for w in cand_words]
    ref_counts = [[_ngrams(w) for w in refs] for refs in ref_words]
    df: Counter[tuple[str, ...]] = Counter()  # images whose references hold the n-gram
    for refs in ref_counts:
        df.update({g for counts in refs for grams in counts for g in grams})
    log_images = math.log(len(candidates))
    scores = []
    for words, counts, refs_w, refs_c in zip(cand_words, cand_counts, ref_words, ref_counts,
                                             strict=True):
        cand = _vectors(counts, df, log_images)
        # Δ in words; pycocoevalcap counts bigrams, the same Δ unless a caption is empty, and
        # then the cosine is 0 anyway
        total = sum(_similarity(cand, _vectors(c, df, log_images), len(words) - len(w))
                    for w, c in zip(refs_w, refs_c, strict=True))
        scores.append(10.0 * total / MAX_N / len(refs_c))
    return sum(scores) / len(scores), scores
