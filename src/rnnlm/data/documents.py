"""Documents: a corpus read as separate texts (one per line, blank-line blocks, or a JSONL
field), each wrapped in begin/end-of-document ids for training and scoring from a zero state.

The boundary ids come after the tokenizer's own ids (BOD = V, EOD = V + 1 for a tokenizer of
V ids), so every tokenizer works in documents mode unchanged. A document of n tokens is the
sequence BOD t1 .. tn EOD: the model reads BOD t1 .. tn and predicts t1 .. tn EOD, so it
predicts n + 1 tokens, and the EOD counts as one character (like the newline it replaces in
the plain text) when bits per character are computed.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass

import numpy as np

from rnnlm.data.tokens import DocumentIds
from rnnlm.errors import RnnlmError
from rnnlm.options import DOCUMENT_FORMATS, check_format
from rnnlm.tokenizers import Tokenizer

BLANK_LINES = re.compile(r"\n[ \t\r]*\n")


def parse_documents(text: str, fmt: str, source: str) -> list[str]:
    """The non-empty documents of text in format fmt (options.DOCUMENT_FORMATS)."""
    check_format(fmt)
    docs = documents_in(text, fmt, source)
    if not docs:
        raise RnnlmError(f"{source} has no non-empty documents (format {fmt}); check the file "
                         f"and the --documents format ({DOCUMENT_FORMATS})")
    return docs


def documents_in(text: str, fmt: str, source: str, first_line: int = 1) -> list[str]:
    """The non-empty documents of a text, or of a piece of one cut at a document boundary
    (data.reading) whose first line is line `first_line` of the source; may be none."""
    if fmt == "lines":
        docs = [line.rstrip("\r") for line in text.split("\n")]
    elif fmt == "blank":
        docs = [block.strip("\n\r") for block in BLANK_LINES.split(text)]
    else:
        docs = _jsonl_field(text, fmt.split(":", 1)[1], source, first_line)
    return [d for d in docs if d.strip()]


def _jsonl_field(text: str, field: str, source: str, first_line: int) -> list[str]:
    """The string `field` of every JSON object line; errors name the line."""
    docs = []
    for number, line in enumerate(text.split("\n"), first_line):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as e:
            raise RnnlmError(f"{source} line {number} is not JSON ({e}); fix the line or use "
                             f"--documents lines") from None
        if not isinstance(obj, dict) or field not in obj:
            raise RnnlmError(f"{source} line {number} has no field {field!r}; give the field "
                             f"that holds the text, e.g. --documents jsonl:text")
        if not isinstance(obj[field], str):
            raise RnnlmError(f"{source} line {number}: field {field!r} is "
                             f"{type(obj[field]).__name__}, not text")
        docs.append(obj[field])
    return docs


def split_documents(texts: dict[str, str], fmt: str, source: str, val_fraction: float,
                    test_fraction: float = 0.0) -> dict[str, list[str]]:
    """Train/val/test documents: official split files as they are, else the last documents
    held out by count (val 0.05 = the last 5% of documents)."""
    if "all" not in texts:
        return {s: parse_documents(texts[s], fmt, f"{source}:{s}") if texts.get(s) else []
                for s in ("train", "val", "test")}
    docs = parse_documents(texts["all"], fmt, source)
    train_end, val_end = split_points(len(docs), val_fraction, test_fraction, source)
    return {"train": docs[:train_end], "val": docs[train_end:val_end], "test": docs[val_end:]}


def split_points(n: int, val_fraction: float, test_fraction: float, source: str
                 ) -> tuple[int, int]:
    """Where train ends and val ends among n documents held out by count."""
    train_end = int(n * (1 - val_fraction - test_fraction))
    val_end = int(n * (1 - test_fraction))
    if train_end < 1 or val_end <= train_end:
        raise RnnlmError(f"{source} has {n} document(s): too few to hold out "
                         f"{val_fraction:.0%} for validation; give more documents")
    return train_end, val_end


@dataclass(frozen=True)
class Boundaries:
    """The begin- and end-of-document ids of a model whose tokenizer has `vocab` ids."""

    bod: int
    eod: int

    @classmethod
    def after(cls, tokenizer: Tokenizer) -> Boundaries:
        """Boundary ids placed after the tokenizer's ids."""
        return cls(tokenizer.vocab_size, tokenizer.vocab_size + 1)


def encode_documents(tokenizer: Tokenizer, docs: list[str], b: Boundaries) -> list[np.ndarray]:
    """Each document as the int64 ids BOD t1 .. tn EOD."""
    return [np.concatenate([[b.bod], tokenizer.encode(d), [b.eod]]).astype(np.int64)
            for d in docs]


def cut_documents(docs: DocumentIds | list[np.ndarray], max_length: int | None,
                  chunk: int | None) -> DocumentPieces:
    """The training pieces of documents (DocumentIds, or BOD .. EOD arrays), with a warning
    when --max-length truncates some (see DocumentPieces)."""
    docs = docs if isinstance(docs, DocumentIds) else DocumentIds.from_seqs(docs)
    pieces = DocumentPieces(docs, max_length, chunk)
    if max_length:
        long = sum(int((n - 1 > max_length).sum()) for n in docs.scan())
        if long:
            print(f"warning: {long:,} of {len(docs):,} documents are longer than "
                  f"--max-length {max_length} tokens and were truncated; drop --max-length "
                  f"to train on all of them", file=sys.stderr)
    return pieces


class DocumentPieces:
    """Each document as its pieces, each a sequence of n + 1 ids predicting n tokens, read
    from the document ids when a batch needs them (nothing per piece is held in memory).

    --max-length N: longer documents are first truncated to N predicted tokens. --chunk N:
    pieces of N predicted tokens that overlap by one id (a piece's last target is the next
    piece's first input), so the state can carry from piece to piece; 0 or None: each
    document is one piece.
    """

    def __init__(self, docs: DocumentIds, max_length: int | None, chunk: int | None) -> None:
        self.docs, self.max_length, self.chunk = docs, max_length, chunk or 0
        longest = max(int(n.max()) for n in docs.scan())
        self.max_count = self._count(self._truncated(longest))

    def __len__(self) -> int:
        return len(self.docs)

    def _truncated(self, n: int) -> int:
        """A sequence of n ids after --max-length."""
        return min(n, self.max_length + 1) if self.max_length else n

    def _count(self, n: int) -> int:
        """Pieces of a sequence of n ids."""
        return -(-(n - 1) // self.chunk) if self.chunk else 1

    def count(self, d: int) -> int:
        """Pieces of document d."""
        return self._count(self._truncated(self.docs.length(d)))

    def length(self, d: int, r: int) -> int:
        """Ids in piece r of document d."""
        n = self._truncated(self.docs.length(d))
        return min(self.chunk + 1, n - r * self.chunk) if self.chunk else n

    def piece(self, d: int, r: int) -> np.ndarray:
        """Piece r of document d: its ids (int64)."""
        start = r * self.chunk
        return self.docs.read(d, start, start + self.length(d, r))


def document_characters(docs: list[str]) -> tuple[int, int]:
    """Characters and UTF-8 bytes scored in documents: the text plus one per EOD."""
    return sum(len(d) + 1 for d in docs), sum(len(d.encode("utf-8")) + 1 for d in docs)
