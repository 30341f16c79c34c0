"""Reading text files strictly (UTF-8, no binary), splitting text into train/val/test, and
its lines across pieces."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from rnnlm.errors import RnnlmError

SPLITS = ("train", "val", "test")


def decode_utf8(data: bytes, source: str) -> str:
    """Decode UTF-8, refusing binary data and naming the first bad byte's offset."""
    nul = data.find(b"\x00")
    if nul >= 0:
        raise RnnlmError(f"{source} looks binary (NUL byte at byte offset {nul}); "
                         f"give a UTF-8 text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise RnnlmError(
            f"{source} is not UTF-8 text: byte 0x{data[e.start]:02x} at byte offset {e.start} "
            f"({e.reason}); convert it, e.g. iconv -f latin1 -t utf-8 {source} > fixed.txt"
        ) from None


def read_text(path: Path) -> str:
    """Read one UTF-8 text file with clear errors for missing, binary and non-UTF-8 files."""
    if not path.exists():
        raise RnnlmError(f"no such file: {path}; check the path")
    if path.is_dir():
        raise RnnlmError(f"{path} is a directory; give a file (or a corpus path list)")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise RnnlmError(f"cannot read {path} ({e.strerror}); check its permissions") from None
    return decode_utf8(data, str(path))


def split_text(text: str, val_fraction: float, test_fraction: float = 0.0) -> dict[str, str]:
    """Cut text into train | val | test by character position (val 0.1 = nanoGPT's split)."""
    train_end, val_end = split_bounds(len(text), val_fraction, test_fraction)
    return {"train": text[:train_end], "val": text[train_end:val_end], "test": text[val_end:]}


def split_bounds(n: int, val_fraction: float, test_fraction: float = 0.0) -> tuple[int, int]:
    """Where train ends and where val ends in a text of n characters."""
    return int(n * (1 - val_fraction - test_fraction)), int(n * (1 - test_fraction))


def lines(pieces: Iterable[str]) -> Iterator[str]:
    """The text's lines with their endings, as str.splitlines(keepends=True) gives them for
    the whole text (what the subword trainers read)."""
    carry = ""
    for piece in pieces:
        got = (carry + piece).splitlines(keepends=True)
        carry = got.pop() if got and (got[-1][-1] not in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028"
                                      "\u2029" or got[-1].endswith("\r")) else ""
        yield from got
    if carry:
        yield carry
