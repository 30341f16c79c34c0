"""A whitespace word tokenizer for n-gram models until the tokenizer registry has `word`.

It implements the `Tokenizer` interface, so swapping it for the registry's own is one line in
`documents.tokenizer_classes`. The literal word `<unk>` (as in Penn Treebank) is the <unk> id.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnlm.errors import RnnlmError
from rnnlm.tokenizers.base import Tokenizer

UNK = "<unk>"


class WhitespaceWords(Tokenizer):
    """Id 0 is <unk>; ids 1.. are the distinct whitespace-separated words of the training text."""

    kind = "word"
    unk_id = 0

    def __init__(self, words: list[str]) -> None:
        self.specials = (UNK,)
        self._index(list(words))

    def _index(self, words: list[str]) -> None:
        """Build the word → id table."""
        self.words = words
        self._ids = {w: i for i, w in enumerate(words, 1)}
        self._table = [UNK, *words]

    @classmethod
    def fit(cls, text: str) -> WhitespaceWords:
        """Vocabulary = the sorted distinct words of text (the word <unk> is the special)."""
        return cls(sorted(set(text.split()) - {UNK}))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WhitespaceWords:
        """Rebuild from the dict written by to_json."""
        words = data.get("words")
        if not isinstance(words, list) or not all(isinstance(w, str) and w and w.split() == [w]
                                                  for w in words):
            raise RnnlmError("the word tokenizer file has no valid 'words' list; it is damaged")
        return cls(words)

    def to_json(self) -> dict[str, Any]:
        """The whole vocabulary."""
        return {"type": self.kind, "split": "whitespace", "specials": list(self.specials),
                "words": self.words}

    @property
    def vocab_size(self) -> int:
        """<unk> plus the words."""
        return len(self.words) + 1

    def encode(self, text: str) -> np.ndarray:
        """Whitespace-separated words → ids (unknown words → 0)."""
        get = self._ids.get
        return np.array([get(w, 0) for w in text.split()], dtype=np.int64)

    def decode(self, ids: Any) -> str:
        """Ids → words joined by single spaces."""
        table = self._table
        return " ".join(table[i] for i in np.asarray(ids, dtype=np.int64).reshape(-1).tolist())

    def unknown(self, text: str) -> list[str]:
        """Distinct words of text that are not in the vocabulary."""
        return sorted(set(text.split()) - set(self._ids) - {UNK})

    def extend(self, text: str) -> int:
        """Append the unseen words of text to the vocabulary."""
        new = self.unknown(text)
        if new:
            self._index(self.words + new)
        return len(new)
