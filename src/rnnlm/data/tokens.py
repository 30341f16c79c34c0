"""Token ids as training and validation read them: an array in memory, or a prepared file
mapped from disk, read a window at a time so a run's memory does not grow with its corpus.

Both kinds answer `len()` and `read(start, stop)` (int64 ids). A mapped file hands the pages
it has read back to the kernel every READ_BACK bytes (madvise DONTNEED: clean file pages are
dropped from this process, and read again from the page cache if needed), so its share of the
resident set stays bounded however much of the file a run reads. A read counts at least
FAULT_AROUND bytes: a small read at a random place (a document, a column's window) maps in
the pages around it.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import numpy as np

from rnnlm.errors import RnnlmError

READ_BACK = 16 << 20  # bytes mapped in from a file between two hand-backs of its pages
FAULT_AROUND = 64 << 10  # what one read may map in: Linux maps the pages around a fault too


def id_dtype(vocab_size: int) -> np.dtype:
    """The smallest unsigned integer type that holds ids 0 .. vocab_size - 1."""
    for dtype in (np.uint8, np.uint16, np.uint32):
        if vocab_size <= np.iinfo(dtype).max + 1:
            return np.dtype(dtype)
    raise RnnlmError(f"a vocabulary of {vocab_size:,} ids does not fit in 32 bits; lower "
                     f"--vocab-size")


class Tokens(Protocol):
    """A 1-D sequence of token ids read in windows."""

    def __len__(self) -> int: ...

    def read(self, start: int, stop: int) -> np.ndarray:
        """ids[start:stop] as int64 (shorter at the end)."""
        ...


class TokenArray:
    """Ids held in memory."""

    def __init__(self, ids: np.ndarray) -> None:
        self.ids = np.asarray(ids)

    def __len__(self) -> int:
        return len(self.ids)

    def read(self, start: int, stop: int) -> np.ndarray:
        """ids[start:stop] as int64."""
        return self.ids[start:stop].astype(np.int64)


class TokenFile:
    """Ids in a flat binary file (one fixed-width unsigned integer each), mapped read-only."""

    def __init__(self, path: Path, dtype: np.dtype, count: int) -> None:
        size = path.stat().st_size if path.is_file() else -1
        if size != count * dtype.itemsize:
            state = "missing" if size < 0 else f"{size:,} bytes, expected " \
                                                f"{count * dtype.itemsize:,}"
            raise RnnlmError(f"prepared file {path} is truncated or damaged ({state}); delete "
                             f"{path.parent} and run `rnnlm corpus prepare` (or train) again")
        self.path, self.count, self._since = path, count, 0
        self._file = open(path, "rb")  # noqa: SIM115 (kept open as long as the map)
        self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ) if count else None
        self.ids = np.frombuffer(self._map, dtype=dtype) if self._map else np.zeros(0, dtype)

    def __len__(self) -> int:
        return self.count

    def read(self, start: int, stop: int) -> np.ndarray:
        """ids[start:stop] as int64, copied out of the map."""
        out = self.ids[start:stop].astype(np.int64)
        self._since += max(out.size * self.ids.itemsize, FAULT_AROUND)
        if self._since >= READ_BACK and self._map is not None:
            self._map.madvise(mmap.MADV_DONTNEED)  # bounded resident pages (module docstring)
            self._since = 0
        return out


class DocumentIds:
    """Documents as one id sequence plus offsets (both read in windows: in memory or mapped);
    document d reads BOD t1 .. tn EOD. Nothing is held per document unless asked for
    (`lengths`, for scoring a split)."""

    def __init__(self, tokens: Tokens, offsets: Tokens, bod: int, eod: int) -> None:
        self.tokens, self.offsets, self.bod, self.eod = tokens, offsets, bod, eod

    @classmethod
    def from_seqs(cls, seqs: list[np.ndarray]) -> DocumentIds:
        """From BOD t1 .. tn EOD arrays (data.documents.encode_documents)."""
        if not seqs:
            raise RnnlmError("there are no documents to train on; give a corpus with text")
        inner = [s[1:-1] for s in seqs]
        offsets = np.concatenate([[0], np.cumsum([len(s) for s in inner])]).astype(np.int64)
        return cls(TokenArray(np.concatenate(inner)), TokenArray(offsets), int(seqs[0][0]),
                   int(seqs[0][-1]))

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def length(self, d: int) -> int:
        """Ids in document d's sequence, boundaries included."""
        start, stop = self.offsets.read(d, d + 2)
        return int(stop - start) + 2

    @property
    def lengths(self) -> np.ndarray:
        """(D,) ids per document, boundaries included (D integers: only where needed)."""
        return np.diff(self.offsets.read(0, len(self.offsets))) + 2

    def scan(self, block: int = 1 << 20) -> Iterator[np.ndarray]:
        """The documents' lengths a block of documents at a time (constant memory)."""
        for d in range(0, len(self), block):
            yield np.diff(self.offsets.read(d, min(d + block, len(self)) + 1)) + 2

    def read(self, d: int, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Ids start:stop of document d's sequence BOD t1 .. tn EOD (int64)."""
        first, last = (int(x) for x in self.offsets.read(d, d + 2))
        n = last - first + 2
        stop = n if stop is None else min(stop, n)
        base = first - 1  # sequence position p is token base + p
        inner = self.tokens.read(base + max(start, 1), base + min(stop, n - 1))
        head = [self.bod] if start == 0 else []
        tail = [self.eod] if stop == n else []
        return np.concatenate([head, inner, tail]).astype(np.int64)
