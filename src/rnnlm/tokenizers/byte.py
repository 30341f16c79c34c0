"""Byte-level tokenizer: the 256 UTF-8 byte values; any text encodes, nothing is unknown."""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnlm.errors import RnnlmError
from rnnlm.tokenizers.base import Tokenizer

BYTES = [bytes([b]) for b in range(256)]


class ByteTokenizer(Tokenizer):
    """Id b is the byte b; no specials, no <unk>. A character is 1 to 4 ids."""

    kind = "byte"
    unk_id = None

    def __init__(self) -> None:
        self.specials = ()

    @classmethod
    def fit(cls, text: str) -> ByteTokenizer:
        """The vocabulary is fixed; the text is not needed."""
        return cls()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ByteTokenizer:
        """Rebuild from tokenizer.json."""
        if data.get("vocab_size") != 256:
            raise RnnlmError("tokenizer.json of type 'byte' must have vocab_size 256; "
                             "the run is damaged")
        return cls()

    def to_json(self) -> dict[str, Any]:
        """Written as tokenizer.json."""
        return {"type": self.kind, "specials": [], "vocab_size": 256}

    @property
    def vocab_size(self) -> int:
        """One id per byte value."""
        return 256

    def encode(self, text: str) -> np.ndarray:
        """Text → its UTF-8 bytes as ids."""
        return np.frombuffer(text.encode("utf-8"), dtype=np.uint8).astype(np.int64)

    def token_bytes(self, i: int) -> bytes:
        """The byte itself."""
        return BYTES[i]
