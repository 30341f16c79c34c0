"""Vectorized counting agrees with a plain-Python count of the same definitions."""

from __future__ import annotations

from collections import Counter

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnlm.ngram.counting import count_ngrams


def reference(seq: list[int], order: int, bos: int | None) -> list[dict[tuple, int]]:
    """Adjusted counts by their definition, n-gram by n-gram."""
    sentences, current = [], []
    for token in seq:
        if token == bos and current:
            sentences.append(current)
            current = []
        current.append(token)
    sentences.append(current)
    raw = [Counter() for _ in range(order)]
    lefts: list[dict[tuple, set]] = [{} for _ in range(order)]
    starts = [Counter() for _ in range(order)]
    for k, s in enumerate(sentences if bos is not None else [seq]):
        for n in range(1, order + 1):
            for i in range(len(s) - n + 1):
                gram = tuple(s[i: i + n])
                raw[n - 1][gram] += 1
                if i == 0 and (bos is not None or k == 0):
                    starts[n - 1][gram] += 1
                else:
                    lefts[n - 1].setdefault(gram, set()).add(s[i - 1])
    out = []
    for n in range(1, order + 1):
        if n == order:
            counts = dict(raw[n - 1])
        else:
            counts = {g: len(lefts[n - 1].get(g, ())) + starts[n - 1][g] for g in raw[n - 1]}
        if n == 1 and bos is not None:
            counts.pop((bos,), None)
        out.append(counts)
    return out


def decoded(c, n: int) -> dict[tuple, int]:
    """Order n's n-grams as token tuples → adjusted count (nonzero ones)."""
    grams = [(int(k),) for k in c.keys[0]]
    for m in range(2, n + 1):
        grams = [grams[int(k) // c.vocab] + (int(k) % c.vocab,) for k in c.keys[m - 1]]
    return {g: int(a) for g, a in zip(grams, c.adjusted[n - 1], strict=True) if a}


@settings(max_examples=60, deadline=None)
@given(tokens=st.lists(st.integers(0, 3), min_size=1, max_size=40), order=st.integers(1, 5),
       lines=st.booleans())
def test_matches_reference(tokens: list[int], order: int, lines: bool) -> None:
    bos = 4 if lines else None
    seq = [4, *tokens] if lines else tokens
    if lines:  # token 3 ends a sentence and another starts
        seq = [t for x in seq for t in ((x, 4) if x == 3 else (x,))]
    c = count_ngrams(np.array(seq), order, 5, bos)
    expected = reference(seq, order, bos)
    for n in range(1, order + 1):
        assert decoded(c, n) == expected[n - 1], n
