"""The machine's own limits and the measuring tools of `rnnlm bench`: sustained matmul
GFLOP/s, a clock that waits for the device, and a peak-memory probe."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch

from rnnlm.runtime import bf16_is_fast


def sync(device: torch.device) -> None:
    """Wait for queued device work, so a clock reading means the work is done."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def best_rate(fn: Callable[[], object], work: float, device: torch.device, seconds: float,
              rounds: int = 3) -> float:
    """work / (seconds per call), best of `rounds` timed rounds of about seconds/rounds each
    (after one untimed call): the sustained speed, not a lucky or unlucky single call."""
    fn()
    sync(device)
    best = 0.0
    for _ in range(rounds):
        calls, start = 0, time.perf_counter()
        while True:
            fn()
            calls += 1
            sync(device)
            spent = time.perf_counter() - start
            if spent >= seconds / rounds:
                break
        best = max(best, work * calls / spent)
    return best


def gemm_shapes(batch: int, seq_len: int, hidden: int, gates: int) -> list[tuple[int, int, int]]:
    """(M, K, N) of an RNN's big GEMMs: the hoisted input projection of a whole window and
    its gradient, (batch·seq_len × hidden) @ (hidden × gates·hidden)."""
    m, n = batch * seq_len, gates * hidden
    return [(m, hidden, n), (m, n, hidden)]


def matmul_gflops(device: torch.device, dtype: torch.dtype, shapes: list[tuple[int, int, int]],
                  seconds: float) -> float:
    """The best sustained GFLOP/s of torch.mm over the given (M, K, N) shapes."""
    best = 0.0
    for m, k, n in shapes:
        a = torch.randn(m, k, device=device).to(dtype)
        b = torch.randn(k, n, device=device).to(dtype)
        out = torch.empty(m, n, device=device, dtype=dtype)
        rate = best_rate(lambda a=a, b=b, out=out: torch.mm(a, b, out=out), 2.0 * m * k * n,
                         device, seconds / len(shapes))
        best = max(best, rate / 1e9)
    return best


def peak_gflops(device: torch.device, shapes: list[tuple[int, int, int]], seconds: float
                ) -> dict[str, float | None]:
    """Sustained matmul GFLOP/s in fp32, and in bf16 where the device runs it natively."""
    fp32 = matmul_gflops(device, torch.float32, shapes, seconds)
    bf16 = matmul_gflops(device, torch.bfloat16, shapes, seconds) if bf16_is_fast(device) \
        else None
    return {"fp32": round(fp32, 1), "bf16": None if bf16 is None else round(bf16, 1)}


def _rss_bytes() -> int:
    """This process's resident memory now (Linux /proc; 0 where unavailable)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


class PeakMemory:
    """Peak memory of the code inside `measure()`, in MiB above what was held before it:
    CUDA's allocator statistics on a GPU, resident memory sampled every 5 ms on a CPU."""

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
        base = _rss_bytes()
        peak = [base]
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.005):
                peak[0] = max(peak[0], _rss_bytes())

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join()
            self.mib = max(0, max(peak[0], _rss_bytes()) - base) / 2**20
