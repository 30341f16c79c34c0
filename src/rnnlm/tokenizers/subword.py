"""BPE and unigram subword tokenizers, trained with HuggingFace `tokenizers` on the
training split. Byte-level: the text's UTF-8 bytes are the base alphabet (GPT-2's byte →
character map), so every text encodes and decodes exactly, whitespace runs and emoji
included. The trained HuggingFace tokenizer is embedded in tokenizer.json as its JSON string.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np
from tokenizers import Tokenizer as HFTokenizer
from tokenizers import decoders, models, pre_tokenizers, trainers

from rnnlm.data.text import lines
from rnnlm.errors import RnnlmError
from rnnlm.tokenizers.base import Tokenizer

DEFAULT_SUBWORDS = 4096
MIN_SUBWORDS = 256  # the byte alphabet


def byte_chars() -> dict[str, int]:
    """GPT-2's map from the printable character standing for a byte back to the byte."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
                 *range(ord("®"), ord("ÿ") + 1)]
    chars = {b: chr(b) for b in printable}
    others = [b for b in range(256) if b not in chars]
    chars.update({b: chr(256 + k) for k, b in enumerate(others)})
    return {c: b for b, c in chars.items()}


def valid_utf8(raw: bytes) -> bool:
    """Whether raw decodes as UTF-8 on its own."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class SubwordTokenizer(Tokenizer):
    """A trained byte-level HuggingFace model; ids are its ids. No specials, no <unk>."""

    model_type: ClassVar[str]  # "BPE" or "Unigram", as in the HuggingFace JSON
    unk_id = None

    def __init__(self, hf: HFTokenizer) -> None:
        self.specials, self._hf = (), hf
        to_byte = byte_chars()
        vocab = hf.get_vocab()
        if sorted(vocab.values()) != list(range(len(vocab))):
            raise RnnlmError(f"the {self.kind} tokenizer's ids are not 0..{len(vocab) - 1}; "
                             f"the run is damaged")
        self._bytes = [b""] * len(vocab)
        for piece, i in vocab.items():
            self._bytes[i] = bytes(to_byte[c] for c in piece)
        self._partial = np.array([not valid_utf8(b) for b in self._bytes])

    @classmethod
    def trainer(cls, vocab_size: int) -> trainers.Trainer:
        """The HuggingFace trainer for this model type."""
        alphabet = pre_tokenizers.ByteLevel.alphabet()
        if cls.model_type == "BPE":
            return trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=alphabet,
                                       show_progress=False)
        return trainers.UnigramTrainer(vocab_size=vocab_size, initial_alphabet=alphabet,
                                       show_progress=False)

    @classmethod
    def fit(cls, text: str, vocab_size: int = DEFAULT_SUBWORDS) -> SubwordTokenizer:
        """Train a vocab_size-token model on text (it may reach fewer; see build_tokenizer)."""
        return cls.fit_pieces([text], vocab_size=vocab_size)

    @classmethod
    def fit_pieces(cls, pieces: Iterable[str], vocab_size: int = DEFAULT_SUBWORDS
                   ) -> SubwordTokenizer:
        """Train on a text given in pieces, streamed line by line into the trainer."""
        if vocab_size < MIN_SUBWORDS:
            raise RnnlmError(f"--vocab-size {vocab_size} is too small for {cls.kind}: it "
                             f"needs at least {MIN_SUBWORDS} (the byte alphabet)")
        hf = HFTokenizer(models.BPE() if cls.model_type == "BPE" else models.Unigram())
        hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        hf.decoder = decoders.ByteLevel()
        hf.train_from_iterator(lines(pieces), cls.trainer(vocab_size))
        return cls(hf)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SubwordTokenizer:
        """Rebuild from tokenizer.json (the embedded HuggingFace JSON)."""
        hf_json = data.get("huggingface")
        try:
            kind = json.loads(hf_json)["model"]["type"]
            hf = HFTokenizer.from_str(hf_json)
        except Exception as e:  # the library raises plain Exception on bad JSON
            raise RnnlmError(f"tokenizer.json of type {cls.kind!r} holds no valid HuggingFace "
                             f"tokenizer ({str(e).splitlines()[0] if str(e) else e!r}); "
                             f"the run is damaged") from None
        if kind != cls.model_type:
            raise RnnlmError(f"tokenizer.json says {cls.kind!r} but embeds a {kind} model; "
                             f"the run is damaged")
        return cls(hf)

    def to_json(self) -> dict[str, Any]:
        """Written as tokenizer.json."""
        return {"type": self.kind, "specials": [], "huggingface": self._hf.to_str()}

    @property
    def vocab_size(self) -> int:
        """Tokens of the trained model (bytes included)."""
        return len(self._bytes)

    def encode(self, text: str) -> np.ndarray:
        """Text → ids (the library's Rust encoder)."""
        return np.array(self._hf.encode(text).ids, dtype=np.int64)

    def encode_batch(self, texts: list[str]) -> list[np.ndarray]:
        """Texts → ids, encoded in parallel by the library."""
        return [np.array(e.ids, dtype=np.int64) for e in self._hf.encode_batch(texts)]

    def token_bytes(self, i: int) -> bytes:
        """The bytes of token i."""
        return self._bytes[i]


    def fallback_rate(self, text: str) -> float:
        """Fraction of text's tokens that are byte fallback (not whole characters)."""
        ids = self.encode(text)
        return float(self._partial[ids].mean()) if len(ids) else 0.0


class BPETokenizer(SubwordTokenizer):
    """Byte-level byte-pair encoding (merges learned on the training split)."""

    kind = "bpe"
    model_type = "BPE"


class UnigramTokenizer(SubwordTokenizer):
    """Byte-level unigram language-model tokenizer (Kudo 2018), pruned to the vocab size."""

    kind = "unigram"
    model_type = "Unigram"
