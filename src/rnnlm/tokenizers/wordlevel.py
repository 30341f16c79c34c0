"""What the word-based tokenizers (word, mikolov, hybrid) share: the word split, the
frequency-ranked vocabulary, and encoding by distinct word (one dictionary lookup per word,
then a vectorized gather), so encoding costs one lookup per distinct word, not per word.

The word split (`--split words`) is the regex WORD_RE: a token is an optional single leading
space plus either a run of letters/digits, or one other non-space character (punctuation,
symbols, combining marks, `_`); every other whitespace character is a token of its own.
The tokens concatenate back to the text exactly. `--split whitespace` takes the runs of
non-whitespace as tokens and each line break as a token (other whitespace is dropped).

Out-of-vocabulary tokens with a leading space become the " " token followed by the
tokenizer's fallback for the rest (word: <unk>; mikolov: syllables; hybrid: spelled out).
"""

from __future__ import annotations

import re
from abc import abstractmethod
from collections import Counter
from typing import Any, ClassVar

import numpy as np

from rnnlm.errors import RnnlmError
from rnnlm.tokenizers.base import Tokenizer

WORD_RE = re.compile(r" ?[^\W_]+| ?[^\w\s]| ?_|\s")
WHITESPACE_RE = re.compile(r"\S+|\n")
SPLITS = {"words": WORD_RE, "whitespace": WHITESPACE_RE}
SPACE = " "
DEFAULT_WORDS = 10_000
BYTE_PIECES = [f"<0x{b:02X}>" for b in range(256)]


def top_words(counts: Counter[str], limit: int, required: tuple[str, ...] = ()) -> list[str]:
    """The `limit` most frequent tokens (0: all), most frequent first, ties by text; plus the
    `required` ones even if rarer."""
    ranked = sorted(counts, key=lambda w: (-counts[w], w))
    words = ranked[:limit] if limit else ranked
    return words + [w for w in required if w not in set(words)]


def gather(flat: np.ndarray, lengths: np.ndarray, which: np.ndarray) -> np.ndarray:
    """Concatenate the id runs of the types `which` (type k is flat[offset_k: +lengths[k]])."""
    if not len(which):
        return np.zeros(0, dtype=np.int64)
    if (lengths == 1).all():
        return flat[which]
    offsets = np.cumsum(lengths) - lengths
    run = lengths[which]
    out_start = np.cumsum(run) - run
    index = np.repeat(offsets[which] - out_start, run) + np.arange(int(run.sum()))
    return flat[index]


def string_list(data: dict[str, Any], key: str) -> list[str]:
    """data[key] as a list of strings, or a one-line error naming the damaged file."""
    value = data.get(key)
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise RnnlmError(f"tokenizer.json of type {data.get('type')!r} has no valid {key!r} "
                         f"list; the run is damaged")
    return value


class WordLevelTokenizer(Tokenizer):
    """A word vocabulary in front of a per-tokenizer fallback for the other words."""

    split: ClassVar[str] = "words"

    def _build(self, pieces: list[str], raw: list[bytes], words: list[str], first_word: int
               ) -> None:
        """Tables: id → display piece and bytes; word → id (words start at id first_word)."""
        self.pieces, self._bytes = pieces, raw
        self._index = {w: first_word + k for k, w in enumerate(words)}
        self._regex = SPLITS[self.split]
        self._space = self._index.get(SPACE)
        if self.split == "words" and self._space is None:
            raise RnnlmError("tokenizer.json's word list lacks the ' ' token; the run is damaged")

    @property
    def vocab_size(self) -> int:
        """All ids."""
        return len(self.pieces)

    def segment(self, text: str) -> list[str]:
        """The word tokens of text (see the module docstring)."""
        return self._regex.findall(text)

    @abstractmethod
    def spell(self, word: str) -> list[int]:
        """Ids of an out-of-vocabulary token (its leading space already split off)."""

    def ids_of(self, token: str) -> list[int]:
        """Ids of one word token."""
        i = self._index.get(token)
        if i is not None:
            return [i]
        if token[0] == SPACE and len(token) > 1 and self._space is not None:
            return [self._space, *self.spell(token[1:])]
        return self.spell(token)

    def encode(self, text: str) -> np.ndarray:
        """Text → ids: each distinct token is looked up once, then all are gathered at once."""
        tokens = self.segment(text)
        types = {t: k for k, t in enumerate(dict.fromkeys(tokens))}
        runs = [self.ids_of(t) for t in types]
        flat = np.fromiter((i for run in runs for i in run), dtype=np.int64)
        lengths = np.fromiter(map(len, runs), dtype=np.int64, count=len(runs))
        which = np.fromiter(map(types.__getitem__, tokens), dtype=np.int64, count=len(tokens))
        return gather(flat, lengths, which)

    def token_bytes(self, i: int) -> bytes:
        """The text of id i (markers: b'')."""
        return self._bytes[i]


    def out_of_vocabulary(self, text: str) -> Counter[str]:
        """Counts of text's non-whitespace tokens that are not whole vocabulary words."""
        return Counter({t: c for t, c in self.word_counts(text).items() if t not in self._index})

    def word_counts(self, text: str) -> Counter[str]:
        """Counts of text's non-whitespace tokens."""
        return Counter({t: c for t, c in Counter(self.segment(text)).items() if not t.isspace()})

    def fallback_rate(self, text: str) -> float:
        """Fraction of text's non-whitespace tokens that are not vocabulary words."""
        counts = self.word_counts(text)
        total = sum(counts.values())
        oov = sum(c for t, c in counts.items() if t not in self._index)
        return oov / total if total else 0.0

    def context_chars(self, text: str, ids: np.ndarray) -> int:
        """Characters up to the end of the first token (or its space, if it was split)."""
        m = self._regex.search(text)
        if m is None:
            return len(text)
        t = m.group()
        split_space = t not in self._index and t[0] == SPACE and len(t) > 1
        return m.start() + 1 if split_space else m.end()
