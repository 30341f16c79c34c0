"""Character-level tokenizer: one id per Unicode code point seen in the training text."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from rnnlm.errors import RnnlmError
from rnnlm.tokenizers.base import Tokenizer

UNK = "<unk>"


def code_points(text: str) -> np.ndarray:
    """The text's Unicode code points as a uint32 array (vectorized, no Python loop)."""
    return np.frombuffer(text.encode("utf-32-le"), dtype="<u4")


class CharTokenizer(Tokenizer):
    """Id 0 is <unk> (never a real character); ids 1.. are the training alphabet, sorted;
    characters added when fine-tuning on new text go at the end."""

    kind = "char"
    unk_id = 0

    def __init__(self, symbols: list[str]) -> None:
        self.specials = (UNK,)
        self._index(list(symbols))

    def _index(self, symbols: list[str]) -> None:
        """Build the lookup tables for encode and decode."""
        self.symbols = symbols
        cps = np.array([ord(c) for c in self.symbols], dtype=np.uint32)
        self._order = np.argsort(cps, kind="stable")  # sorted position → symbol index
        self._sorted = cps[self._order]
        self._table = [chr(0xFFFD), *self.symbols]  # id → text; <unk> shows as U+FFFD

    @classmethod
    def fit(cls, text: str) -> CharTokenizer:
        """Vocabulary = the sorted distinct characters of text."""
        return cls(sorted(set(text)))

    @classmethod
    def fit_pieces(cls, pieces: Iterable[str], **options: Any) -> CharTokenizer:
        """fit() of the pieces' text, one piece at a time."""
        return cls(sorted(set().union(*map(set, pieces))))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CharTokenizer:
        """Rebuild from tokenizer.json."""
        symbols = data.get("symbols")
        if not isinstance(symbols, list) or not all(isinstance(s, str) and len(s) == 1
                                                    for s in symbols):
            raise RnnlmError("tokenizer.json has no valid 'symbols' list; the run is damaged")
        return cls(symbols)

    def to_json(self) -> dict[str, Any]:
        """Written as tokenizer.json."""
        return {"type": self.kind, "specials": list(self.specials), "symbols": self.symbols}

    @property
    def vocab_size(self) -> int:
        """<unk> plus the characters."""
        return len(self.symbols) + 1

    def encode(self, text: str) -> np.ndarray:
        """Text → ids by binary search over the sorted code points."""
        cps = code_points(text)
        if not len(self._sorted):
            return np.zeros(len(cps), dtype=np.int64)
        pos = np.searchsorted(self._sorted, cps).clip(max=len(self._sorted) - 1)
        found = self._sorted[pos] == cps
        return np.where(found, self._order[pos] + 1, 0).astype(np.int64)

    def token_bytes(self, i: int) -> bytes:
        """The character's UTF-8 bytes; <unk> is U+FFFD."""
        return self._table[i].encode("utf-8")

    def decode(self, ids: Any) -> str:
        """Ids → text; <unk> becomes U+FFFD."""
        table = self._table
        return "".join(table[i] for i in np.asarray(ids, dtype=np.int64).reshape(-1).tolist())

    def unknown(self, text: str) -> list[str]:
        """Distinct characters of text that are not in the vocabulary."""
        return sorted(set(text) - set(self.symbols))

    def fallback_rate(self, text: str) -> float:
        """Fraction of text's characters that map to <unk>."""
        return float((self.encode(text) == 0).mean()) if text else 0.0

    def extend(self, text: str) -> int:
        """Append the unseen characters of text to the vocabulary."""
        new = self.unknown(text)
        if new:
            self._index(self.symbols + new)
        return len(new)
