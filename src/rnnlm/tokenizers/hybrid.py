"""Hybrid word/character tokenizer: the W most frequent words are tokens; any other word is
spelled out character by character between markers, " zebra" → " ", <w>, z, e, b, r, a,
</w>, so the model is open-vocabulary and can write words it never saw. Characters the
training text lacked are spelled as their UTF-8 bytes. Lossless on any text.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from rnnlm.tokenizers.wordlevel import (
    BYTE_PIECES,
    DEFAULT_WORDS,
    SPACE,
    SPLITS,
    WordLevelTokenizer,
    string_list,
    top_words,
)

OPEN, CLOSE = "<w>", "</w>"


class HybridTokenizer(WordLevelTokenizer):
    """Ids: words (most frequent first), <w>, </w>, the training alphabet, the 256 bytes.
    The markers decode to nothing and are sampled like any token; no specials, no <unk>."""

    kind = "hybrid"
    unk_id = None

    def __init__(self, words: list[str], alphabet: list[str]) -> None:
        self.words, self.alphabet, self.specials = words, alphabet, ()
        pieces = [*words, OPEN, CLOSE, *alphabet, *BYTE_PIECES]
        raw = [p.encode("utf-8") for p in words] + [b"", b""]
        raw += [c.encode("utf-8") for c in alphabet] + [bytes([b]) for b in range(256)]
        self._build(pieces, raw, words, first_word=0)
        self._open = len(words)
        self._char_ids = {c: self._open + 2 + k for k, c in enumerate(alphabet)}
        self._byte0 = self._open + 2 + len(alphabet)

    @classmethod
    def fit(cls, text: str, vocab_size: int = DEFAULT_WORDS) -> HybridTokenizer:
        """Words: the vocab_size most frequent tokens (0: all); alphabet: text's characters."""
        counts = Counter(SPLITS["words"].findall(text))
        return cls(top_words(counts, vocab_size, (SPACE,)), sorted(set(text)))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> HybridTokenizer:
        """Rebuild from tokenizer.json."""
        return cls(string_list(data, "words"), string_list(data, "alphabet"))

    def to_json(self) -> dict[str, Any]:
        """Written as tokenizer.json."""
        return {"type": self.kind, "specials": [], "words": self.words,
                "alphabet": self.alphabet}

    def spell(self, word: str) -> list[int]:
        """<w>, the word's characters (or bytes), </w>."""
        ids = [self._open]
        for c in word:
            i = self._char_ids.get(c)
            ids.extend([i] if i is not None else [self._byte0 + b for b in c.encode("utf-8")])
        return [*ids, self._open + 1]
