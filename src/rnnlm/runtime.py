"""Devices and numeric precision: what `auto` means on this machine, the autocast context, and
the C library's allocator settings that CPU training needs."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import os
import sys
import warnings

import torch

from rnnlm.errors import RnnlmError


def pick_device(name: str) -> torch.device:
    """auto → cuda, then mps, then cpu; an unavailable device is a clear error."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RnnlmError("--device cuda asked for, but PyTorch sees no CUDA GPU here; use "
                         "--device cpu (or auto), or install a CUDA build of torch")
    if name == "mps" and not torch.backends.mps.is_available():
        raise RnnlmError("--device mps asked for, but this machine has no Apple GPU; use "
                         "--device cpu (or auto)")
    return torch.device(name)


CPU_BF16_PROBES = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # torch.cpu, private


@functools.cache  # once per process
def cpu_bf16_native() -> bool:
    """Whether this CPU has bf16 matrix instructions (AVX512-BF16 or AMX), as torch's private
    probes say: the one place they are read. Where one is missing or raises, False (so auto
    precision means fp32) and one RuntimeWarning naming it."""
    native = False
    for name in CPU_BF16_PROBES:
        try:
            native |= bool(getattr(torch.cpu, name)())
        except Exception as err:  # AttributeError where this torch lacks it; anything it raises
            warnings.warn(f"torch.cpu.{name} failed ({type(err).__name__}: {err}); bf16 counts "
                          f"as not native on this CPU", RuntimeWarning, stacklevel=2)
            return False
    return native


def bf16_is_fast(device: torch.device) -> bool:
    """Whether bf16 matrix multiplies run natively (not emulated) on device."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return cpu_bf16_native()
    return False


def pick_precision(name: str, device: torch.device) -> str:
    """auto → bf16 where it is native, else fp32."""
    if name == "auto":
        return "bf16" if bf16_is_fast(device) else "fp32"
    if name == "bf16" and device.type == "mps":
        raise RnnlmError("--precision bf16 is not supported on mps; use --precision fp32")
    return name


def autocast(device: torch.device, precision: str, cache: bool = True
             ) -> contextlib.AbstractContextManager:
    """bf16 autocast for the forward pass, or nothing for fp32; cache=False for CUDA-graph
    capture (cached weight casts would outlive the graph)."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16, cache_enabled=cache)
    return contextlib.nullcontext()


M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # glibc's mallopt parameters (malloc.h)


@functools.cache  # finding libc runs ldconfig, so do it once
def glibc() -> ctypes.CDLL | None:
    """The C library where it is glibc (whose malloc rnnlm tunes); None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt, libc.malloc_trim  # noqa: B018 (both exist in glibc only)
    except (OSError, AttributeError):
        return None
    return libc


@functools.cache  # process-wide and final
def reuse_freed_memory() -> bool:
    """Make glibc's malloc keep freed memory for reuse, for the whole process: big blocks from
    the heap instead of fresh mmap pages, and no handing back to the OS on free. PyTorch has
    no caching allocator on a CPU, so otherwise every training step page-faults in (zeroed)
    pages for each large tensor, which slows training (see docs/results.md). False where libc
    is not glibc. The memory it keeps is bounded by memory_guard()."""
    libc = glibc()
    return libc is not None and bool(libc.mallopt(M_MMAP_MAX, 0)) \
        and bool(libc.mallopt(M_TRIM_THRESHOLD, 2**31 - 1))


PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
HEADROOM, SLACK = 1.25, 2**28  # resident memory allowed over its size after a trim


def resident_bytes() -> int:
    """This process's resident memory (Linux: /proc/self/statm; 0 elsewhere)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * PAGE
    except OSError:
        return 0


class MemoryGuard:
    """Keeps the freed memory that reuse_freed_memory holds bounded. Work of one fixed shape
    reuses the same blocks, so its resident memory settles and nothing is ever handed back;
    work of changing shapes (documents, partial batches, generation of other lengths) leaves
    freed blocks that no later request fits, and resident memory would grow without end.
    check() hands glibc's free pages back to the OS (malloc_trim) when resident memory has
    grown past max(HEADROOM ×, SLACK more than) what it was at the first check or after a
    trim; the bound is only ever raised, to fit memory that stays live."""

    def __init__(self) -> None:
        self.limit: int | None = None  # set at the first check
        self.trims = 0

    def check(self) -> bool:
        """Trim if resident memory outgrew its bound; whether it trimmed. Cheap: one read."""
        libc = glibc()
        if libc is None:
            return False
        rss = resident_bytes()
        trimmed = self.limit is not None and rss > self.limit
        if trimmed:
            libc.malloc_trim(0)  # every free page of glibc's heaps back to the OS
            self.trims += 1
            rss = resident_bytes()
        if trimmed or self.limit is None:
            self.limit = max(self.limit or 0, int(rss * HEADROOM), rss + SLACK)
        return trimmed


@functools.cache
def memory_guard() -> MemoryGuard:
    """The process's guard (the allocator setting it bounds is process-wide too)."""
    return MemoryGuard()
