"""Strict text reading and the nanoGPT split."""

from __future__ import annotations

from pathlib import Path

import pytest

from rnnlm.data.text import read_text, split_text
from rnnlm.errors import RnnlmError


def test_non_utf8_names_the_byte_offset(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes("café au lait".encode("latin-1"))
    with pytest.raises(RnnlmError, match=r"byte 0xe9 at byte offset 3.*iconv"):
        read_text(path)


def test_binary_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "image.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(RnnlmError, match="looks binary .NUL byte at byte offset 8"):
        read_text(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RnnlmError, match="no such file"):
        read_text(tmp_path / "nope.txt")


def test_nanogpt_split(shakespeare: str) -> None:
    parts = split_text(shakespeare, 0.1)
    assert (len(parts["train"]), len(parts["val"]), len(parts["test"])) == (1_003_854, 111_540, 0)
    assert parts["train"].endswith("But who comes here") and parts["val"].startswith("?\n\nGREMIO")


def test_three_way_split_keeps_every_character(shakespeare: str) -> None:
    parts = split_text(shakespeare, 0.1, 0.05)
    assert "".join(parts.values()) == shakespeare
    assert abs(len(parts["test"]) / len(shakespeare) - 0.05) < 1e-5
