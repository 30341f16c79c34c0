"""The one interface every tokenizer implements: fit, encode, decode, save as JSON."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np


class Tokenizer(ABC):
    """Maps text to integer ids and back; knows nothing about models."""

    kind: ClassVar[str]
    specials: tuple[str, ...]
    unk_id: int | None  # the id text maps to when a symbol is unknown (None: never happens)

    @classmethod
    @abstractmethod
    def fit(cls, text: str) -> Tokenizer:
        """Build the vocabulary from (training) text."""

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

    @abstractmethod
    def decode(self, ids: Any) -> str:
        """Ids → text."""

    @abstractmethod
    def unknown(self, text: str) -> list[str]:
        """The distinct symbols of text that the vocabulary lacks."""

    @abstractmethod
    def extend(self, text: str) -> int:
        """Add the symbols of text that are missing (new ids go at the end); return how many."""

    def special_ids(self) -> list[int]:
        """Ids that are not text (never sampled)."""
        return list(range(len(self.specials)))
