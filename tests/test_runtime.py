"""runtime: the C library's allocator keeps freed memory for reuse once rnnlm asks it to."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

import pytest
import torch

from rnnlm.runtime import reuse_freed_memory


class MallInfo2(ctypes.Structure):
    """glibc's struct mallinfo2 (malloc.h): the allocator's counters in bytes."""

    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc only")
def test_large_tensors_come_from_the_reused_heap_not_fresh_mappings() -> None:
    """After the call a 64 MiB tensor is no new mmap (hblkhd: bytes in mmapped blocks), and
    freeing it keeps the memory in the heap for the next one."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    if not hasattr(libc, "mallinfo2"):
        pytest.skip("the C library is not glibc ≥ 2.33")
    libc.mallinfo2.restype = MallInfo2
    assert reuse_freed_memory()
    mapped = libc.mallinfo2().hblkhd
    big = torch.empty(2**24)  # 64 MiB: glibc's default would mmap it and unmap it on free
    assert libc.mallinfo2().hblkhd == mapped
    heap = libc.mallinfo2().arena
    del big
    assert libc.mallinfo2().arena == heap  # not trimmed: the pages stay for reuse
