"""A backoff n-gram model in ARPA form (log10 probabilities and backoff weights per n-gram),
scored and sampled with vectorized table lookups.

p(w | h) = P(h w) when the n-gram h w is stored, else B(h) · p(w | h minus its first token),
with B(h) = 1 when h is stored without a backoff weight or not stored at all. An interpolated
Kneser–Ney model has exactly this form (kneser_ney.py), so estimating it and reading it back
from an ARPA file give the same object.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LOG10_ZERO = -99.0  # ARPA's log10 probability of <s>, which is context only


@dataclass
class NgramModel:
    """Tables per order (index n−1 holds order n): sorted keys, log10 p, log10 backoff."""

    vocab: int  # ids 0 .. vocab−1: the tokenizer's, then <s>, </s> in lines mode
    keys: list[np.ndarray]  # order 1: arange(vocab); order n: context index * vocab + word
    logprob: list[np.ndarray]  # log10 p(word | context), float64
    backoff: list[np.ndarray]  # log10 B(n-gram as a context); 0 where it has none
    bos: int | None = None
    eos: int | None = None

    @property
    def order(self) -> int:
        """Highest order."""
        return len(self.keys)

    def is_context(self, n: int) -> np.ndarray:
        """Which n-grams of order n precede a stored (n+1)-gram (they carry a backoff)."""
        mask = np.zeros(len(self.keys[n - 1]), dtype=bool)
        if n < self.order:
            mask[self.keys[n] // self.vocab] = True
        return mask

    def find(self, n: int, context: np.ndarray, words: np.ndarray) -> np.ndarray:
        """Index in order n of each (context index, word); -1 where absent or context is -1."""
        keys = self.keys[n - 1]
        key = context * self.vocab + words
        pos = np.searchsorted(keys, key).clip(max=max(len(keys) - 1, 0))
        hit = (context >= 0) & (len(keys) > 0)
        if len(keys):
            hit &= keys[pos] == key
        return np.where(hit, pos, -1)

    def ending_at(self, seq: np.ndarray) -> list[np.ndarray]:
        """For each order n, the index of the n-gram ending at each position (-1: absent)."""
        seq = np.asarray(seq, dtype=np.int64)
        found = [seq]
        for n in range(2, self.order + 1):
            idx = np.full(len(seq), -1, dtype=np.int64)
            idx[n - 1:] = self.find(n, found[-1][n - 2: len(seq) - 1], seq[n - 1:])
            found.append(idx)
        return found

    def log10_probs(self, seq: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """log10 p(seq[t] | what precedes it) for each t in positions (each t ≥ 1)."""
        found = self.ending_at(seq)
        positions = np.asarray(positions, dtype=np.int64)
        total = np.zeros(len(positions))
        done = np.zeros(len(positions), dtype=bool)
        for n in range(self.order, 0, -1):
            e = found[n - 1][positions]
            hit = ~done & (e >= 0)
            total[hit] += self.logprob[n - 1][e[hit]]
            done |= hit
            if n > 1:
                c = found[n - 2][positions - 1]  # the context: the (n−1)-gram just before
                miss = ~done & (c >= 0)
                total[miss] += self.backoff[n - 2][c[miss]]
        return total

    def distribution(self, context: np.ndarray) -> np.ndarray:
        """p(w | context) for every id w (the last order−1 ids of context are used)."""
        context = np.asarray(context, dtype=np.int64)
        context = context[max(len(context) - self.order + 1, 0):] if self.order > 1 else []
        probs = 10.0 ** self.logprob[0]
        for j in range(1, len(context) + 1):  # contexts of length j, shortest first
            ctx = self._context_index(context[len(context) - j:])
            if ctx < 0:  # then no longer context is stored either
                break
            probs = probs * 10.0 ** self.backoff[j - 1][ctx]
            keys = self.keys[j]
            lo, hi = np.searchsorted(keys, [ctx * self.vocab, (ctx + 1) * self.vocab])
            probs[keys[lo:hi] - ctx * self.vocab] = 10.0 ** self.logprob[j][lo:hi]
        return probs

    def _context_index(self, ids: np.ndarray) -> int:
        """Index of the n-gram `ids` in its order's table, or -1."""
        idx = int(ids[0])
        for n in range(2, len(ids) + 1):
            idx = int(self.find(n, np.array([idx]), ids[n - 1: n])[0])
            if idx < 0:
                break
        return idx
