"""The machine's own limits and the measuring tools of `rnnlm bench` and benchmarks/: sustained
matmul GFLOP/s, a clock that waits for the device, best-of-N and alternating timed rounds, and a
peak-memory probe."""

from __future__ import annotations

import itertools
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol, TypeVar

import torch
from torch.profiler import ProfilerActivity, profile

from rnnlm.models.kernels.onednn import ONEDNN, dnn_matmul
from rnnlm.runtime import bf16_is_fast

T = TypeVar("T")
CPU = torch.device("cpu")


def sync(device: torch.device) -> None:
    """Wait for queued device work, so a clock reading means the work is done."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], T], device: torch.device = CPU) -> tuple[T, float]:
    """fn's result and the seconds its call took, the device's queued work included."""
    start = time.perf_counter()
    result = fn()
    sync(device)
    return result, time.perf_counter() - start


def best_of(runs: int, measure: Callable[[], float]) -> float:
    """The highest of `runs` measurements of a speed: this shared machine's speed dips for
    seconds at a time, so the best run is the closest to what it sustains."""
    return max(measure() for _ in range(runs))


def calls_per_s(fn: Callable[[], object], device: torch.device, seconds: float) -> float:
    """Calls of fn per second over one timed round of at least `seconds` (and one call)."""
    calls, start = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        sync(device)
        spent = time.perf_counter() - start
        if spent >= seconds:
            return calls / spent


def best_rate(fn: Callable[[], object], work: float, device: torch.device, seconds: float,
              rounds: int = 3) -> float:
    """work / (seconds per call), best of `rounds` timed rounds of about seconds/rounds each
    (after one untimed call): the sustained speed, not a lucky or unlucky single call."""
    fn()
    sync(device)
    return work * best_of(rounds, lambda: calls_per_s(fn, device, seconds / rounds))


class Timed(Protocol):
    """A step that can be warmed up (peak MiB) and timed (steps/s over a round)."""

    def warm(self) -> float: ...

    def rate(self, seconds: float) -> float: ...


class LocalStep:
    """A step of this process, warmed up and timed like the bare loop's child."""

    def __init__(self, step: Callable[[], object], device: torch.device) -> None:
        self.step, self.device = step, device

    def warm(self) -> float:
        """Two untimed steps; the peak MiB they allocate."""
        with PeakMemory(self.device).measure() as peak:
            self.step()
            self.step()
            sync(self.device)
        return peak.mib

    def rate(self, seconds: float) -> float:
        """Steps/s over one round of about `seconds`."""
        return calls_per_s(self.step, self.device, seconds)


def alternate(steps: list[Timed], seconds: float, rounds: int = 5
              ) -> list[tuple[float, float]]:
    """(best steps/s, peak MiB) of each step, timed in alternating rounds (`seconds` in all)
    so drift in the machine's speed hits all alike, after each step's warm-up."""
    memory = [step.warm() for step in steps]
    best = [0.0] * len(steps)
    for _ in range(rounds):
        for i, step in enumerate(steps):
            best[i] = max(best[i], step.rate(seconds / (rounds * len(steps))))
    return list(zip(best, memory, strict=True))


def gemm_shapes(batch: int, seq_len: int, hidden: int, gates: int) -> list[tuple[int, int, int]]:
    """(M, K, N) of an RNN's big GEMMs: the hoisted input projection of a whole window and
    its gradient, (batch·seq_len × hidden) @ (hidden × gates·hidden)."""
    m, n = batch * seq_len, gates * hidden
    return [(m, hidden, n), (m, n, hidden)]


def matmul_gflops(device: torch.device, dtype: torch.dtype, shapes: list[tuple[int, int, int]],
                  seconds: float) -> dict[str, float]:
    """Sustained GFLOP/s of each GEMM library PyTorch calls, best over the given (M, K, N)
    shapes: torch.mm, and on a CPU also oneDNN on plain tensors (what rnnlm's fp32 layers
    call, models/onednn.py) and on its own packed layout (what its fused RNN kernels use).
    On some CPUs oneDNN is far faster than torch.mm's BLAS, so leaving it out would
    understate the machine."""
    rates: dict[str, float] = {}
    for m, k, n in shapes:
        a = torch.randn(m, k, device=device).to(dtype)
        b = torch.randn(k, n, device=device).to(dtype)
        out = torch.empty(m, n, device=device, dtype=dtype)
        gemms = {"torch.mm": lambda a=a, b=b, out=out: torch.mm(a, b, out=out)}
        if device.type == "cpu" and ONEDNN:
            a_dnn, w_dnn = a.to_mkldnn(), b.t().contiguous().to_mkldnn()  # weight (N, K)
            gemms["onednn"] = lambda a=a, b=b: dnn_matmul(a, b.t())
            gemms["onednn packed"] = lambda a=a_dnn, w=w_dnn: torch.ops.aten.mkldnn_linear(a, w)
        for name, gemm in gemms.items():
            rate = best_rate(gemm, 2.0 * m * k * n, device, seconds / len(shapes) / len(gemms))
            rates[name] = max(rates.get(name, 0.0), round(rate / 1e9, 1))
    return rates


def peak_gflops(device: torch.device, shapes: list[tuple[int, int, int]], seconds: float
                ) -> tuple[dict[str, float | None], dict[str, dict[str, float]]]:
    """Sustained matmul GFLOP/s in fp32, and in bf16 where the device runs it natively: the
    best library's, and every library's."""
    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16 if bf16_is_fast(device) else None}
    libraries = {name: matmul_gflops(device, dtype, shapes, seconds)
                 for name, dtype in dtypes.items() if dtype is not None}
    peak = {name: max(libraries[name].values()) if name in libraries else None
            for name in dtypes}
    return peak, libraries


class PeakMemory:
    """Peak memory allocated for tensors inside `measure()`, in MiB above what was held before:
    CUDA's allocator statistics on a GPU; on a CPU, the profiler's allocation records summed
    in time order (it slows the block, so measure untimed runs)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.mib = 0.0

    @contextmanager
    def measure(self) -> Iterator[PeakMemory]:
        """Record the peak while the block runs."""
        if self.device.type == "cuda":
            sync(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            base = torch.cuda.memory_allocated(self.device)
            yield self
            sync(self.device)
            self.mib = (torch.cuda.max_memory_allocated(self.device) - base) / 2**20
            return
        with without_kineto_lines(), \
                profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            yield self
        events = sorted(prof.events(), key=lambda e: e.time_range.start)
        live = itertools.accumulate(e.self_cpu_memory_usage for e in events)
        self.mib = max(0, *live) / 2**20


KINETO_PREFIXES = (b"USDT:", b"STAGE:")  # what the profiler's C++ side logs on every use
UNTRACKED_FREE = b"was allocated before the profiling started"  # its note on older tensors


@contextmanager
def without_kineto_lines() -> Iterator[None]:
    """Hold back the lines the profiler's C++ side writes to stderr (file descriptor 2,
    which KINETO_LOG_LEVEL does not silence) and its note on freeing tensors made before it
    started (not counted, which is right for a peak above the start), passing every other
    line through afterwards."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            kept = [line for line in caught
                    if not line.startswith(KINETO_PREFIXES) and UNTRACKED_FREE not in line]
            if kept:
                sys.stderr.buffer.write(b"".join(kept))
                sys.stderr.flush()
