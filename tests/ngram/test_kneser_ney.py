"""Interpolated modified Kneser–Ney: a hand-computed bigram example, the discount formulas,
and distributions that sum to 1 on real, tiny and random text (zero counts-of-counts)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from rnnlm.ngram.kneser_ney import FALLBACK, estimate_discounts
from rnnlm.ngram.lm import NgramLM
from tests.ngram import body, build


def probability(lm: NgramLM, text: str) -> float:
    """p(text) under a lines model, every token and </s> scored."""
    seq, positions = lm.encode(body(text, "lines"))
    return float(10 ** lm.model.log10_probs(seq, positions).sum())


def test_bigram_by_hand() -> None:
    """Documents '<s> a b </s>' twice and '<s> b a </s>'. The tokenizer is fitted on the
    documents joined by newlines, as every documents-mode run's is, so its ids are <unk>=0
    a=1 b=2 \\n=3, then <s>=4 </s>=5; the newline never occurs inside a document.

    Bigrams (raw counts): <s> a 2, a b 2, b </s> 2, <s> b 1, b a 1, a </s> 1, so t1 = t2 = 3,
    t3 = 0: Ney's discount Y = 3 / (3 + 2·3) = 1/3 for every count.
    Unigram continuation counts: a {<s>, b} = 2, b {a, <s>} = 2, </s> {b, a} = 2, so t1 = 0:
    the fallback discounts, D2 = 1. S = 6, γ = 3·1 / 6 = 1/2, uniform over 5 ids (not <s>):
    p(a) = p(b) = p(</s>) = (2 − 1)/6 + 1/10 = 4/15, p(<unk>) = p(\\n) = 1/10.
    Context <s> (a 2, b 1; S = 3): γ = (1/3 + 1/3)/3 = 2/9,
    p(a | <s>) = (2 − 1/3)/3 + 2/9 · 4/15 = 83/135, p(b | <s>) = (1 − 1/3)/3 + 8/135 = 38/135.
    Contexts a (b 2, </s> 1) and b (</s> 2, a 1) are alike: 83/135 and 38/135, γ = 2/9.
    """
    lm, discounts = build("a b\na b\nb a\n", 2, "word", "lines")
    assert discounts[0].source == "fallback" and (discounts[0].d2, discounts[0].d3) == (1, 1.5)
    assert discounts[1].source == "Ney" and discounts[1].d1 == pytest.approx(1 / 3)
    big, small, gamma = Fraction(83, 135), Fraction(38, 135), Fraction(2, 9)
    unigram, unk = Fraction(4, 15), Fraction(1, 10)
    cases = {"a b": big * big * big,
             "b b": small * (gamma * unigram) * big,
             "b a": small * small * small,
             "c": gamma * unk * unigram}  # <unk> never seen as a context: γ = 1
    for text, expected in cases.items():
        assert probability(lm, text + "\n") == pytest.approx(float(expected), rel=1e-12), text


def test_closed_form_discounts() -> None:
    """t1..t4 = 10, 5, 3, 2: Y = 1/2, D1 = 1 − 2·Y·5/10, D2 = 2 − 3·Y·3/5, D3 = 3 − 4·Y·2/3."""
    counts = np.repeat([1, 2, 3, 4, 9], [10, 5, 3, 2, 7])
    d = estimate_discounts(counts)
    assert d.source == "modified KN"
    assert (d.d1, d.d2, d.d3) == pytest.approx((0.5, 1.1, 3 - 4 / 3))


def test_discount_fallbacks() -> None:
    assert estimate_discounts(np.array([1, 2, 2, 7])).source == "Ney"  # t3 = t4 = 0
    d = estimate_discounts(np.array([5, 6, 9]))  # no singletons at all
    assert (d.d1, d.d2, d.d3, d.source) == (*FALLBACK, "fallback")
    d = estimate_discounts(np.repeat([1, 2, 3, 4], [1, 1, 50, 1]))  # D2 < 0 in closed form
    assert d.source == "Ney" and 0 < d.d1 < 1


def sums_to_one(lm, rng: np.random.Generator, contexts: int = 8) -> None:
    """p(· | context) over every id sums to 1 and is positive except for <s>."""
    m = lm.model
    ids = np.arange(m.vocab)
    ids = ids[ids != m.bos] if m.bos is not None else ids
    for _ in range(contexts):
        length = int(rng.integers(0, m.order))
        context = rng.choice(ids, size=length).astype(np.int64)
        if m.bos is not None and rng.random() < 0.5:
            context = np.concatenate([[m.bos], context])[: max(length, 1)]
        p = m.distribution(context)
        assert abs(p.sum() - 1) < 1e-6, (context, p.sum())
        assert (p[ids] > 0).all()
        if len(context):  # the vectorized scorer agrees with the distribution
            for w in rng.choice(ids, size=3):
                s = np.concatenate([context, [w]])
                assert m.log10_probs(s, [len(s) - 1])[0] == pytest.approx(np.log10(p[w]))


@settings(max_examples=40, deadline=None)
@given(text=st.text(alphabet="ab c\n", min_size=2, max_size=60), order=st.integers(1, 5),
       lines=st.booleans(), seed=st.integers(0, 2**16))
def test_sums_to_one_on_tiny_text(text: str, order: int, lines: bool, seed: int) -> None:
    documents = "lines" if lines else "stream"
    assume(any(line.strip() for line in text.split("\n")) if lines else
           len(text) >= 2 and text.strip("\n"))
    lm, _ = build(text, order, "char", documents)
    sums_to_one(lm, np.random.default_rng(seed))


@settings(max_examples=10, deadline=None)
@given(words=st.lists(st.sampled_from(["the", "cat", "sat", "\n"]), min_size=3, max_size=80),
       order=st.integers(2, 4), seed=st.integers(0, 2**16))
def test_sums_to_one_on_random_words(words: list[str], order: int, seed: int) -> None:
    text = " ".join(words)
    assume(text.split())
    lm, _ = build(text, order, "word", "lines")
    sums_to_one(lm, np.random.default_rng(seed))


@pytest.mark.parametrize("order", [1, 3, 6])
def test_sums_to_one_on_shakespeare(shakespeare: str, order: int) -> None:
    for documents in ("stream", "lines"):
        lm, discounts = build(shakespeare[:200_000], order, "char", documents)
        sums_to_one(lm, np.random.default_rng(order), contexts=20)
        assert all(d.source == "modified KN" for d in discounts[1:])
