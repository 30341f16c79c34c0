"""Reading a corpus in pieces, so preparing one never holds its whole text: files decoded a
block at a time, the text cut into its splits by position or into its documents, and pieces
cut only where every tokenizer encodes the same as it would on the whole text.

A safe cut (`safe_cut`) falls after a newline where the byte-level pre-tokenizer of
bpe/unigram, the word tokenizers and the char/byte ones all end a token whatever follows, so
encoding the pieces one by one and joining the ids gives the ids of the whole text
(tests/data/test_reading.py checks each tokenizer).
"""

from __future__ import annotations

import codecs
import hashlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from rnnlm.data.corpora import Corpus, CorpusFiles
from rnnlm.data.documents import BLANK_LINES, documents_in
from rnnlm.data.text import read_text

BLOCK = 8 << 20  # bytes read from a file at a time
PIECE = 1 << 16  # characters per piece handed to a tokenizer

Blocks = Callable[[], Iterator[str]]  # a corpus part, readable again from its start


def file_blocks(files: list[Path]) -> Iterator[str]:
    """The text of files concatenated (UTF-8, a BOM dropped per file), a block at a time."""
    for path in files:
        decoder = codecs.getincrementaldecoder("utf-8-sig")()
        try:
            with open(path, "rb") as f:
                for raw in iter(lambda f=f: f.read(BLOCK), b""):
                    if b"\x00" in raw:
                        read_text(path)  # raises the one-line error naming the offset
                    yield decoder.decode(raw)
                yield decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            read_text(path)  # raises the one-line error naming the bad byte
            raise


def string_blocks(text: str) -> Iterator[str]:
    """A text held in memory, a block at a time."""
    for i in range(0, len(text), BLOCK):
        yield text[i: i + BLOCK]


def parts(corpus: Corpus | CorpusFiles) -> dict[str, Blocks]:
    """The corpus's texts as re-readable blocks: "all", or its official splits."""
    if isinstance(corpus, CorpusFiles):
        return {"all": lambda: file_blocks(corpus.files)}
    return {name: (lambda text=text: string_blocks(text)) for name, text in corpus.texts.items()}


def sha256_and_length(blocks: Iterable[str], h: hashlib._Hash) -> int:
    """Feed the text's UTF-8 to h (Corpus.sha256's fingerprint); return its characters."""
    n = 0
    for block in blocks:
        h.update(block.encode("utf-8"))
        n += len(block)
    return n


def between(blocks: Iterable[str], start: int, stop: int) -> Iterator[str]:
    """The characters start:stop of a text given in blocks."""
    at = 0
    for block in blocks:
        lo, hi = max(start - at, 0), min(stop - at, len(block))
        if lo < hi:
            yield block[lo:hi]
        at += len(block)
        if at >= stop:
            return


def safe_cut(text: str) -> int:
    """The last position after a newline that ends a token whatever follows (0: none): one
    between two non-space characters, or one followed by a single space and a non-space (the
    lines of Penn Treebank and WikiText start with a space)."""
    pos = text.rfind("\n", 0, len(text) - 2)
    while pos > 0:
        after, then = text[pos + 1], text[pos + 2]
        if (not after.isspace() and not text[pos - 1].isspace()) or \
                (after == " " and not then.isspace()):
            return pos + 1
        pos = text.rfind("\n", 0, pos)
    return 0


def document_cut(fmt: str) -> Callable[[str], int]:
    """For a document format, where the last whole document of a text ends (0: none)."""
    if fmt == "blank":
        def cut(text: str) -> int:
            ends = [m.end() for m in BLANK_LINES.finditer(text)]
            return ends[-1] if ends else 0
        return cut
    return lambda text: text.rfind("\n") + 1  # lines and jsonl: after the last newline


def recut(blocks: Iterable[str], cut: Callable[[str], int], size: int = PIECE
          ) -> Iterator[str]:
    """The same text in pieces of about `size` characters, each ending where `cut` allows
    (a piece grows until it has such a place; the last piece ends with the text)."""
    buffer = ""
    for block in blocks:
        buffer += block
        start = 0
        while len(buffer) - start >= size:
            at, width = 0, size
            while not at and width < 2 * (len(buffer) - start):  # the nearest place to cut
                at, width = cut(buffer[start: start + width]), 2 * width
            if not at:
                break  # no place to cut yet: read on
            yield buffer[start: start + at]
            start += at
        buffer = buffer[start:]
    if buffer:
        yield buffer


def documents(blocks: Iterable[str], fmt: str, source: str) -> Iterator[list[str]]:
    """The non-empty documents of a text in format fmt, a piece's worth at a time."""
    line = 1
    for piece in recut(blocks, document_cut(fmt)):
        yield documents_in(piece, fmt, source, line)
        line += piece.count("\n")
