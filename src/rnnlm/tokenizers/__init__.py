"""Tokenizers behind one interface, saved as tokenizer.json next to the model."""

from __future__ import annotations

import json
from pathlib import Path

from rnnlm.errors import RnnlmError
from rnnlm.fileio import write_text_atomic
from rnnlm.tokenizers.base import Tokenizer
from rnnlm.tokenizers.char import CharTokenizer

TOKENIZERS: dict[str, type[Tokenizer]] = {"char": CharTokenizer}


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
    if kind not in TOKENIZERS:
        raise RnnlmError(f"{path} names an unknown tokenizer type {kind!r}; "
                         f"known: {', '.join(TOKENIZERS)}")
    return TOKENIZERS[kind].from_json(data)


__all__ = ["TOKENIZERS", "CharTokenizer", "Tokenizer", "load_tokenizer", "save_tokenizer"]
