"""Subword tokenizer after Mikolov et al. (2012), "Subword language modeling with neural
networks": the W most frequent words are kept whole; every other word is cut into syllables,
the S most frequent of which are tokens, and the rest into characters (bytes for characters
the training text never had). A piece that does not end its word carries a visible `+`:
" dreamworks" → " ", "dream+", "works". Lossless on any text.

The syllabifier is vowel-group based (SYLLABLE_RE): a syllable is the consonants before a
vowel group, the group, and, when two or more consonants follow before the next vowel, the
first of them ("lan+ gua+ ge"); consonants at the end of the word join the last syllable, and
a word without vowels is one syllable. Vowels are aeiouy and their accented forms, any case;
digits and other letters count as consonants.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from rnnlm.errors import RnnlmError
from rnnlm.tokenizers.wordlevel import (
    BYTE_PIECES,
    DEFAULT_WORDS,
    SPACE,
    SPLITS,
    WordLevelTokenizer,
    string_list,
    top_words,
)

DEFAULT_SYLLABLES = 1000
MARK = "+"
V = "aeiouyàáâãäåæèéêëìíîïòóôõöøùúûüýÿœ"
SYLLABLE_RE = re.compile(rf"[^{V}]*[{V}]+(?:[^{V}]*\Z|[^{V}](?=[^{V}]+[{V}]))?|[^{V}]+",
                         re.IGNORECASE)


def syllabify(word: str) -> list[str]:
    """The word's syllables (they concatenate back to it)."""
    return SYLLABLE_RE.findall(word)


def marked(pieces: list[str]) -> list[str]:
    """Pieces of one word with the continuation mark on all but the last."""
    return [p + MARK for p in pieces[:-1]] + pieces[-1:]


class MikolovTokenizer(WordLevelTokenizer):
    """Ids: words (most frequent first), syllables, characters ending a word, characters
    continuing one (`c+`), then the 256 bytes. No specials, no <unk>."""

    kind = "mikolov"
    unk_id = None

    def __init__(self, words: list[str], syllables: list[str], alphabet: list[str]) -> None:
        if any(not s.removesuffix(MARK) or MARK in s.removesuffix(MARK) for s in syllables):
            raise RnnlmError("tokenizer.json of type 'mikolov' has a malformed syllable; the "
                             "run is damaged")
        self.words, self.syllables, self.alphabet = words, syllables, alphabet
        self.specials = ()
        texts = [s.removesuffix(MARK) for s in syllables]
        pieces = [*words, *syllables, *alphabet, *(c + MARK for c in alphabet), *BYTE_PIECES]
        raw = [p.encode("utf-8") for p in [*words, *texts, *alphabet, *alphabet]]
        self._build(pieces, raw + [bytes([b]) for b in range(256)], words, first_word=0)
        base = len(words)
        self._syllable_ids = {(t, s.endswith(MARK)): base + k
                              for k, (t, s) in enumerate(zip(texts, syllables, strict=True))}
        base += len(syllables)
        self._char_ids = {(c, cont): base + k + (len(alphabet) if cont else 0)
                          for k, c in enumerate(alphabet) for cont in (False, True)}
        self._byte0 = base + 2 * len(alphabet)

    @classmethod
    def fit(cls, text: str, vocab_size: int = DEFAULT_WORDS,
            syllables: int = DEFAULT_SYLLABLES) -> MikolovTokenizer:
        """Words: the vocab_size most frequent (0: all); syllables: the `syllables` most
        frequent among the other words (with their marks); characters: all of text's."""
        counts = Counter(SPLITS["words"].findall(text))
        words = top_words(counts, vocab_size, (SPACE,))
        kept = set(words)
        pieces: Counter[str] = Counter()
        for token, n in counts.items():
            word = token[1:] if token[0] == SPACE and len(token) > 1 else token
            if token not in kept and len(word) > 1:
                for p in marked(syllabify(word)):
                    pieces[p] += n
        return cls(words, top_words(pieces, syllables) if syllables else [], sorted(set(text)))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MikolovTokenizer:
        """Rebuild from tokenizer.json."""
        return cls(string_list(data, "words"), string_list(data, "syllables"),
                   string_list(data, "alphabet"))

    def to_json(self) -> dict[str, Any]:
        """Written as tokenizer.json."""
        return {"type": self.kind, "specials": [], "words": self.words,
                "syllables": self.syllables, "alphabet": self.alphabet}

    def spell(self, word: str) -> list[int]:
        """Known syllables as one id each, other syllables by character, else by byte."""
        ids: list[int] = []
        parts = syllabify(word)
        for k, part in enumerate(parts):
            cont = k < len(parts) - 1
            i = self._syllable_ids.get((part, cont))
            if i is not None:
                ids.append(i)
                continue
            for j, c in enumerate(part):
                i = self._char_ids.get((c, cont or j < len(part) - 1))
                ids.extend([i] if i is not None else
                           [self._byte0 + b for b in c.encode("utf-8")])
        return ids
