"""Vectorized n-gram counting: every distinct n-gram of every order with its adjusted
Kneser–Ney count, from one id sequence, with one `np.unique` per order (no loop over tokens).

An n-gram of order n is the key `context * vocab + word`, where `context` is the index of its
first n−1 tokens in the sorted table of order n−1 (order 1: the table is every id, so the
index is the id). Keys stay far below 2**63 for any vocabulary and order, and sorting them
sorts the n-grams lexicographically.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Counts:
    """Distinct n-grams per order (index n−1 holds order n) and their adjusted counts."""

    vocab: int
    keys: list[np.ndarray]  # sorted int64 keys; order 1: arange(vocab)
    suffix: list[np.ndarray]  # index of each n-gram's last n−1 tokens in order n−1 (order 1: -1)
    adjusted: list[np.ndarray]  # int64: raw counts at the top order, continuation counts below

    @property
    def order(self) -> int:
        """Highest order counted."""
        return len(self.keys)


def count_ngrams(seq: np.ndarray, order: int, vocab: int, bos: int | None = None) -> Counts:
    """Count the n-grams of seq up to `order`; with `bos`, no n-gram crosses a sentence (each
    sentence starts with bos). Adjusted counts (Chen & Goodman; KenLM's convention):
    top order: the raw count; lower orders: the number of distinct tokens seen just before the
    n-gram, plus its occurrences where nothing can precede it (after <s>, or at the start of a
    stream), so n-grams starting with <s> keep their raw counts. <s> itself has count 0: it is
    context, never predicted."""
    seq = np.asarray(seq, dtype=np.int64)
    n_tok = len(seq)
    starts = np.zeros(n_tok, dtype=bool)  # positions no token can precede
    starts[:1] = True
    sentence = None
    if bos is not None:
        starts |= seq == bos
        sentence = np.cumsum(seq == bos)
    keys = [np.arange(vocab, dtype=np.int64)]
    suffix = [np.full(vocab, -1, dtype=np.int64)]
    raw = [np.bincount(seq, minlength=vocab)]
    unextended = [np.bincount(seq[starts], minlength=vocab)]
    idx = seq  # per start position: index of the n-gram of the current order starting there
    for n in range(2, order + 1):
        m = max(n_tok - n + 1, 0)
        prev = idx[:m]
        valid = prev >= 0
        if sentence is not None:
            valid &= sentence[:m] == sentence[n - 1: n - 1 + m]
        pos = np.flatnonzero(valid)
        key = prev[pos] * vocab + seq[pos + n - 1]
        uniq, first, inverse, count = np.unique(key, return_index=True, return_inverse=True,
                                                return_counts=True)
        inverse = inverse.reshape(-1)
        keys.append(uniq)
        suffix.append(idx[pos[first] + 1])
        raw.append(count)
        unextended.append(np.bincount(inverse[starts[pos]], minlength=len(uniq)))
        idx = np.full(m, -1, dtype=np.int64)
        idx[pos] = inverse
    adjusted = [raw[-1]]
    for n in range(order - 1, 0, -1):  # order n sits at index n−1; its extensions at index n
        left = np.bincount(suffix[n], minlength=len(keys[n - 1]))
        adjusted.insert(0, left + unextended[n - 1])
    adjusted = [a.astype(np.int64) for a in adjusted]
    if bos is not None:
        adjusted[0][bos] = 0
    return Counts(vocab, keys, suffix, adjusted)
