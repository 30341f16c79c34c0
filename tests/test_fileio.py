"""Atomic writes leave no temporary files and give ordinary permissions."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rnnlm.fileio import write_atomic, write_text_atomic


def test_written_files_get_the_umask_mode_not_0600(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    write_text_atomic(path, "{}")
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask
    assert path.read_text() == "{}" and [p.name for p in tmp_path.iterdir()] == ["config.json"]


def test_a_failed_write_leaves_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    write_text_atomic(path, "old")

    def fail(tmp: Path) -> None:
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        write_atomic(path, fail)
    assert path.read_text() == "old" and len(list(tmp_path.iterdir())) == 1
