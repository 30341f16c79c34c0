"""Devices and numeric precision: what `auto` means on this machine, the autocast context, and
the C library's allocator settings that CPU training needs."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
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


@functools.cache  # process-wide and final: finding libc runs ldconfig, so do it once
def reuse_freed_memory() -> bool:
    """Make glibc's malloc keep freed memory for reuse, for the whole process: big blocks from
    the heap instead of fresh mmap pages, and no handing back to the OS on free. PyTorch has
    no caching allocator on a CPU, so otherwise every training step page-faults in (zeroed)
    pages for each large tensor, which slows training (see docs/results.md). False where libc
    is not glibc."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, 2**31 - 1))
