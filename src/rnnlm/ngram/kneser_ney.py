"""Interpolated modified Kneser–Ney estimation (Chen & Goodman 1998), in backoff form.

For an n-gram h w with adjusted count a (counting.py) and S(h) = Σ_w a(h w):

    p(w | h) = (a − D(a)) / S(h) + γ(h) · p(w | h′)        h′ = h without its first token
    γ(h)     = (D1·N1(h) + D2·N2(h) + D3+·N3+(h)) / S(h)     Nk(h): n-grams h • with a = k (3+)

and at order 1 the lower distribution is uniform over every id but <s>. The stored log10
probability of h w is this interpolated p, and γ(h) is h's backoff weight, so
p(w | h) = γ(h) · p(w | h′) for unseen w, which is exactly how ARPA files are read.

Discounts, per order, from the counts-of-counts t1..t4 of the adjusted counts:
Y = t1 / (t1 + 2 t2), Dk = k − (k+1) · Y · t(k+1) / tk. Where that is undefined (some tk is
zero, as on small data or at character level, where every context is common) or a Dk falls
outside (0, k), this order uses Ney's single discount D1 = D2 = D3+ = Y if t1 and t2 are
nonzero, else KenLM's `--discount_fallback` defaults 0.5, 1, 1.5. Every discount is then in
(0, k], so each p sums to 1 over the vocabulary and every id keeps a nonzero probability.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnlm.ngram.backoff import LOG10_ZERO, NgramModel
from rnnlm.ngram.counting import Counts

FALLBACK = (0.5, 1.0, 1.5)


@dataclass(frozen=True)
class Discounts:
    """D1, D2, D3+ of one order and how they were obtained."""

    d1: float
    d2: float
    d3: float
    source: str  # "modified KN", "Ney", or "fallback"

    def of(self, adjusted: np.ndarray) -> np.ndarray:
        """The discount of each adjusted count (0 for count 0)."""
        table = np.array([0.0, self.d1, self.d2, self.d3])
        return table[np.minimum(adjusted, 3)]


def estimate_discounts(adjusted: np.ndarray) -> Discounts:
    """Chen & Goodman's closed form, falling back as the module docstring says."""
    t1, t2, t3, t4 = (int(np.count_nonzero(adjusted == k)) for k in (1, 2, 3, 4))
    if t1 and t2 and t3 and t4:
        y = t1 / (t1 + 2 * t2)
        d = [k - (k + 1) * y * tn / tk for k, tk, tn in ((1, t1, t2), (2, t2, t3), (3, t3, t4))]
        if all(0 < dk < k for k, dk in enumerate(d, 1)):
            return Discounts(*d, "modified KN")
    if t1 and t2:
        y = t1 / (t1 + 2 * t2)
        return Discounts(y, y, y, "Ney")
    return Discounts(*FALLBACK, "fallback")


def interpolate(counts: Counts, bos: int | None = None, eos: int | None = None
                ) -> tuple[NgramModel, list[Discounts]]:
    """The interpolated modified Kneser–Ney model of the counts, and each order's discounts."""
    vocab, order = counts.vocab, counts.order
    discounts = [estimate_discounts(a[a > 0]) for a in counts.adjusted]
    a1 = counts.adjusted[0].astype(np.float64)
    predicted = vocab - (bos is not None)
    d1 = discounts[0].of(counts.adjusted[0])
    gamma = d1.sum() / a1.sum()
    p1 = (a1 - d1) / a1.sum() + gamma / predicted
    if bos is not None:
        p1[bos] = 0.0
    probs = [p1]
    gammas = []  # γ of the contexts of each order n ≥ 2: the n−1-grams
    for n in range(2, order + 1):
        a = counts.adjusted[n - 1]
        context = counts.keys[n - 1] // vocab
        n_contexts = len(counts.keys[n - 2])
        total = np.bincount(context, weights=a, minlength=n_contexts)
        mass = np.bincount(context, weights=discounts[n - 1].of(a), minlength=n_contexts)
        seen = total > 0
        gamma = np.ones(n_contexts)  # a context never continued passes p(w | h′) through
        gamma[seen] = mass[seen] / total[seen]
        gammas.append(gamma)
        probs.append((a - discounts[n - 1].of(a)) / total[context]
                     + gamma[context] * probs[-1][counts.suffix[n - 1]])
    with np.errstate(divide="ignore"):
        logprob = [np.log10(p) for p in probs]
    if bos is not None:
        logprob[0][bos] = LOG10_ZERO
    backoff = [np.log10(g) for g in gammas] + [np.zeros(len(counts.keys[-1]))]
    return NgramModel(vocab, list(counts.keys), logprob, backoff, bos, eos), discounts
