"""Word tokenizer: the W most frequent word tokens of the training text, <unk> for the rest.

The only lossy tokenizer: an unknown word decodes as "<unk>". Spacing survives because the
leading space is part of a token (" the" and "the" are different words; an unknown word
after a space is " " + <unk>). With `--split whitespace` (for Penn Treebank, which already
maps rare words to <unk>) every token decodes with one space before it and the line break is
a token; the corpus's literal `<unk>` is this tokenizer's <unk> (id 0).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from rnnlm.errors import RnnlmError
from rnnlm.tokenizers.wordlevel import (
    DEFAULT_WORDS,
    SPACE,
    SPLITS,
    WordLevelTokenizer,
    string_list,
    top_words,
)

UNK = "<unk>"


class WordTokenizer(WordLevelTokenizer):
    """Id 0 is <unk>; ids 1.. are the words, most frequent first. `fallback_rate` is the OOV
    rate: the fraction of a text's non-whitespace tokens that map to <unk>."""

    kind = "word"
    lossless = False
    trains_unk = True
    unk_id = 0

    def __init__(self, words: list[str], split: str = "words") -> None:
        if split not in SPLITS:
            raise RnnlmError(f"unknown word split {split!r}; use words or whitespace")
        self.split, self.words, self.specials = split, words, (UNK,)
        if split == "words":
            raw = [UNK.encode(), *(w.encode("utf-8") for w in words)]
        else:  # whitespace: each token brings the space before it; a line break is bare
            raw = [(w if w == "\n" else SPACE + w).encode("utf-8") for w in [UNK, *words]]
        self._build([UNK, *words], raw, words, first_word=1)

    @classmethod
    def fit(cls, text: str, vocab_size: int = DEFAULT_WORDS, split: str = "words"
            ) -> WordTokenizer:
        """Vocabulary = the vocab_size most frequent tokens of text (0: all of them)."""
        counts = Counter(SPLITS[split].findall(text))
        counts.pop(UNK, None)  # the corpus's own <unk> is ours, never a word
        return cls(top_words(counts, vocab_size, (SPACE,) if split == "words" else ()), split)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WordTokenizer:
        """Rebuild from tokenizer.json."""
        return cls(string_list(data, "words"), str(data.get("split")))

    def to_json(self) -> dict[str, Any]:
        """Written as tokenizer.json."""
        return {"type": self.kind, "specials": list(self.specials), "split": self.split,
                "words": self.words}

    def spell(self, word: str) -> list[int]:
        """Every unknown word is <unk>."""
        return [0]

    def unknown(self, text: str) -> list[str]:
        """Distinct tokens of text that map to <unk>."""
        return sorted(self.out_of_vocabulary(text))
