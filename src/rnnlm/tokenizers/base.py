"""The one interface every tokenizer implements: fit, encode, decode, save as JSON."""

from __future__ import annotations

import codecs
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

import numpy as np


class Tokenizer(ABC):
    """Maps text to integer ids and back; knows nothing about models.

    Decoding is concatenative at the byte level: the text of ids is the UTF-8 decoding of the
    joined `token_bytes` of each id, so a character split over several ids (byte fallback)
    decodes once all of them are there (see `decoder`).
    """

    kind: ClassVar[str]
    lossless: ClassVar[bool] = True  # decode(encode(x)) == x (char: for characters it has seen)
    trains_unk: ClassVar[bool] = False  # <unk> occurs in training text, so a prime may hold it
    specials: tuple[str, ...]
    unk_id: int | None  # the id text maps to when a symbol is unknown (None: never happens)

    @classmethod
    @abstractmethod
    def fit(cls, text: str) -> Tokenizer:
        """Build the vocabulary from (training) text."""

    @classmethod
    def fit_pieces(cls, pieces: Iterable[str], **options: Any) -> Tokenizer:
        """fit() on a text given in pieces (data.reading); tokenizers that can fit as they
        read override it, the others join the pieces."""
        return cls.fit("".join(pieces), **options)

    @classmethod
    @abstractmethod
    def from_json(cls, data: dict[str, Any]) -> Tokenizer:
        """Rebuild from the dict written by to_json."""

    @abstractmethod
    def to_json(self) -> dict[str, Any]:
        """A JSON-serializable dict holding the whole vocabulary."""

    @property
    @abstractmethod
    def vocab_size(self) -> int:
        """Number of ids, specials included."""

    @abstractmethod
    def encode(self, text: str) -> np.ndarray:
        """Text → int64 ids (unknown symbols → the <unk> id)."""

    def encode_batch(self, texts: list[str]) -> list[np.ndarray]:
        """encode() of several texts (subwords: in parallel on all cores)."""
        return [self.encode(t) for t in texts]

    @abstractmethod
    def token_bytes(self, i: int) -> bytes:
        """The UTF-8 bytes id i stands for (b'' for markers that are not text)."""

    def decode(self, ids: Any) -> str:
        """Ids → text (bytes that form no valid UTF-8 become U+FFFD)."""
        flat = np.asarray(ids, dtype=np.int64).reshape(-1).tolist()
        return b"".join(map(self.token_bytes, flat)).decode("utf-8", errors="replace")

    def decoder(self) -> Callable[[int], str]:
        """A streaming decoder: feed one id at a time, get the text it completes."""
        utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        return lambda i: utf8.decode(self.token_bytes(i))

    def unknown(self, text: str) -> list[str]:
        """The distinct symbols of text that map to <unk> (none for open vocabularies)."""
        return []

    def extend(self, text: str) -> int:
        """Add the symbols of text that are missing (new ids go at the end); return how many.
        Only the char tokenizer grows; the others keep their vocabulary (see fallback_rate)."""
        return 0

    def fallback_rate(self, text: str) -> float:
        """Fraction of text's units the vocabulary lacks whole (<unk>, spelled out, or bytes)."""
        return 0.0

    def context_chars(self, text: str, ids: np.ndarray) -> int:
        """Characters of text covered by ids[0], the token that is context only in scoring."""
        return len(self.decode(ids[:1]))

    def special_ids(self) -> list[int]:
        """Ids that are not text (never sampled)."""
        return list(range(len(self.specials)))
