"""runtime: the C library's allocator keeps freed memory for reuse once rnnlm asks it to, the
guard hands it back when resident memory outgrows its bound, and bf16 counts as native on a
CPU only where torch's private probes work and say so."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import warnings
from collections.abc import Iterator

import pytest
import torch

from rnnlm import runtime
from rnnlm.runtime import (
    CPU_BF16_PROBES,
    MemoryGuard,
    bf16_is_fast,
    cpu_bf16_native,
    pick_precision,
    reuse_freed_memory,
)


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


@pytest.fixture
def fresh_probe() -> Iterator[None]:
    """cpu_bf16_native probes anew in the test, and again for the tests after it."""
    cpu_bf16_native.cache_clear()
    yield
    cpu_bf16_native.cache_clear()


CPU = torch.device("cpu")


@pytest.mark.usefixtures("fresh_probe")
@pytest.mark.parametrize(("avx512", "amx"), [(False, False), (True, False), (False, True)])
def test_bf16_is_fast_on_a_cpu_is_what_the_private_probes_say(
        monkeypatch: pytest.MonkeyPatch, avx512: bool, amx: bool) -> None:
    """Either instruction set makes bf16 native (auto precision: bf16); neither, fp32."""
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert bf16_is_fast(CPU) is (avx512 or amx)
        assert pick_precision("auto", CPU) == ("bf16" if avx512 or amx else "fp32")


def raising() -> bool:
    """A private probe that fails."""
    raise RuntimeError("cpuinfo failed to initialize")


@pytest.mark.usefixtures("fresh_probe")
@pytest.mark.parametrize("breakage", ["missing", "raises"])
def test_missing_or_raising_bf16_probes_mean_fp32_with_one_warning(
        monkeypatch: pytest.MonkeyPatch, breakage: str) -> None:
    """Without the private probes (a torch that dropped them) or with one that raises, a CPU
    counts as not native in bf16, so auto precision is fp32, as where the probes say no; one
    RuntimeWarning names the probe, once a process."""
    for name in CPU_BF16_PROBES:
        if breakage == "missing":
            monkeypatch.delattr(torch.cpu, name)
        else:
            monkeypatch.setattr(torch.cpu, name, lambda: True)
    if breakage == "raises":
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", raising)
    with pytest.warns(RuntimeWarning) as record:
        assert bf16_is_fast(CPU) is False
        assert pick_precision("auto", CPU) == "fp32"
    assert len(record) == 1
    failed = CPU_BF16_PROBES[0] if breakage == "missing" else "_is_amx_tile_supported"
    assert f"torch.cpu.{failed}" in str(record[0].message)


def test_the_guard_trims_only_past_its_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """Resident memory that settles is never trimmed; growth past max(HEADROOM × its size at
    the first check, SLACK more) is (2× and 1 GiB here), and the bound is raised to fit memory
    that stays live."""
    gib = 2**30
    monkeypatch.setattr(runtime, "HEADROOM", 2.0)
    monkeypatch.setattr(runtime, "SLACK", gib)
    reads = iter([2 * gib, 3 * gib, 4 * gib,  # settling under the bound of 4 GiB
                  int(4.5 * gib), int(1.5 * gib),  # past it: trimmed back to 1.5 GiB
                  int(4.2 * gib), 3 * gib])  # past it again, 3 GiB live after the trim
    trims: list[int] = []

    class Libc:
        def malloc_trim(self, pad: int) -> int:
            trims.append(pad)
            return 1

    monkeypatch.setattr(runtime, "glibc", Libc)
    monkeypatch.setattr(runtime, "resident_bytes", lambda: next(reads))
    guard = MemoryGuard()
    assert [guard.check() for _ in range(3)] == [False, False, False]
    assert guard.limit == 4 * gib
    assert guard.check() is True and guard.limit == 4 * gib and trims == [0]
    assert guard.check() is True and guard.limit == 6 * gib and guard.trims == 2
