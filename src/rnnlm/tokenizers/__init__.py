"""Tokenizers behind one interface, saved as tokenizer.json next to the model."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from rnnlm.config import TOKENIZER_KINDS, DataConfig
from rnnlm.errors import RnnlmError
from rnnlm.fileio import write_text_atomic
from rnnlm.tokenizers.base import Tokenizer
from rnnlm.tokenizers.byte import ByteTokenizer
from rnnlm.tokenizers.char import CharTokenizer
from rnnlm.tokenizers.hybrid import HybridTokenizer
from rnnlm.tokenizers.mikolov import DEFAULT_SYLLABLES, MikolovTokenizer
from rnnlm.tokenizers.subword import DEFAULT_SUBWORDS, BPETokenizer, UnigramTokenizer
from rnnlm.tokenizers.word import WordTokenizer
from rnnlm.tokenizers.wordlevel import DEFAULT_WORDS

_CLASSES = {t.kind: t for t in (CharTokenizer, ByteTokenizer, WordTokenizer, BPETokenizer,
                                UnigramTokenizer, MikolovTokenizer, HybridTokenizer)}
# The names are config.TOKENIZER_KINDS (the choices of --tokenizer); each has its class here.
TOKENIZERS: dict[str, type[Tokenizer]] = {kind: _CLASSES[kind] for kind in TOKENIZER_KINDS}


def build_tokenizer(kind: str, text: str | Iterable[str], vocab_size: int | None = None,
                    syllables: int = DEFAULT_SYLLABLES, split: str = "words") -> Tokenizer:
    """Fit the tokenizer `kind` on (training) text, or on a text given in pieces. A vocabulary
    the text cannot fill is not an error: the tokenizer keeps what the text has, and a note
    says what was reached."""
    if split != "words" and kind != "word":
        raise RnnlmError(f"--word-split {split} applies to --tokenizer word only (got {kind})")
    pieces = [text] if isinstance(text, str) else text
    if kind in ("char", "byte"):
        return TOKENIZERS[kind].fit_pieces(pieces)
    if kind in ("bpe", "unigram"):
        asked = DEFAULT_SUBWORDS if vocab_size is None else vocab_size
        tok = TOKENIZERS[kind].fit_pieces(pieces, vocab_size=asked)
        reached, unit = tok.vocab_size, "tokens"
    else:
        asked = DEFAULT_WORDS if vocab_size is None else vocab_size
        if kind == "word":
            tok = WordTokenizer.fit_pieces(pieces, vocab_size=asked, split=split)
        elif kind == "mikolov":
            tok = MikolovTokenizer.fit_pieces(pieces, vocab_size=asked, syllables=syllables)
            if len(tok.syllables) < syllables:
                print(f"note: mikolov kept {len(tok.syllables):,} syllables; the training "
                      f"text has no more (--syllables {syllables:,})")
        else:
            tok = HybridTokenizer.fit_pieces(pieces, vocab_size=asked)
        reached, unit = len(tok.words), "words"
    if asked and reached < asked:
        print(f"note: {kind} reached {reached:,} {unit} of the {asked:,} asked for with "
              f"--vocab-size; the training text supports no more")
    return tok


def fit_tokenizer(data: DataConfig, text: str | Iterable[str]) -> Tokenizer:
    """The tokenizer that the data options describe, fitted on (training) text."""
    return build_tokenizer(data.tokenizer, text, data.vocab_size, data.syllables, data.word_split)


def save_tokenizer(tok: Tokenizer, path: Path) -> None:
    """Write tokenizer.json atomically."""
    write_text_atomic(path, json.dumps(tok.to_json(), ensure_ascii=False, indent=1) + "\n")


def load_tokenizer(path: Path) -> Tokenizer:
    """Read tokenizer.json, whatever its type."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise RnnlmError(f"cannot read tokenizer {path} ({e}); the run is damaged") from None
    kind = data.get("type") if isinstance(data, dict) else None
    if kind is None and isinstance(data, dict) and "model" in data:
        raise RnnlmError(f"{path} is a HuggingFace tokenizer.json, not an rnnlm one; give an "
                         f"rnnlm run (train one with --tokenizer bpe or unigram)")
    if kind not in TOKENIZERS:
        raise RnnlmError(f"{path} names an unknown tokenizer type {kind!r}; "
                         f"known: {', '.join(TOKENIZERS)}")
    return TOKENIZERS[kind].from_json(data)


def same_tokenizer(a: Tokenizer, b: Tokenizer) -> bool:
    """Whether two tokenizers map every text to the same ids (their saved forms agree)."""
    return json.dumps(a.to_json(), sort_keys=True) == json.dumps(b.to_json(), sort_keys=True)


__all__ = ["TOKENIZERS", "BPETokenizer", "ByteTokenizer", "CharTokenizer", "HybridTokenizer",
           "MikolovTokenizer", "Tokenizer", "UnigramTokenizer", "WordTokenizer",
           "build_tokenizer", "fit_tokenizer", "load_tokenizer", "same_tokenizer",
           "save_tokenizer"]
