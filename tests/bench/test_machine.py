"""The measuring tools: clocks, rounds, the peak-memory probe and the profiler's quiet."""

from __future__ import annotations

import itertools
import os

import pytest
import torch

from rnnlm.bench import machine
from rnnlm.bench.machine import (
    CPU,
    LocalStep,
    PeakMemory,
    alternate,
    best_of,
    best_rate,
    calls_per_s,
    timed,
    without_kineto_lines,
)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """A clock that moves on 0.25 s at every reading, from 10 s."""
    ticks = itertools.count(10.0, 0.25)
    monkeypatch.setattr(machine.time, "perf_counter", lambda: next(ticks))


def test_timed_returns_the_result_and_the_seconds_between(clock: None) -> None:
    """One reading before the call and one after it."""
    assert timed(lambda: "done") == ("done", 0.25)


def test_best_of_keeps_the_highest_of_every_run() -> None:
    """Each run measured once; the best counts."""
    runs = iter([3.0, 5.0, 4.0])
    assert best_of(3, lambda: next(runs)) == 5.0
    assert next(runs, None) is None


def test_calls_per_s_runs_until_the_round_is_spent(clock: None) -> None:
    """Four calls reach the 1 s round (a reading after each): 4 calls/s."""
    calls: list[int] = []
    assert calls_per_s(lambda: calls.append(1), CPU, 1.0) == 4.0
    assert len(calls) == 4


def test_best_rate_is_work_times_calls_per_s_after_one_untimed_call(clock: None) -> None:
    """1.5 s in 3 rounds: each round two calls in 0.5 s, 4 calls/s, × 10 units of work."""
    calls: list[int] = []
    assert best_rate(lambda: calls.append(1), 10.0, CPU, 1.5) == 40.0
    assert len(calls) == 1 + 3 * 2


class FakeStep:
    """A Timed step that logs its calls and answers the rates it is given, in turn."""

    def __init__(self, name: str, rates: list[float], log: list[tuple]) -> None:
        self.name, self.rates, self.log = name, iter(rates), log

    def warm(self) -> float:
        """Log the warm-up; peak MiB = the name's length."""
        self.log.append(("warm", self.name))
        return float(len(self.name))

    def rate(self, seconds: float) -> float:
        """Log the round; the next rate."""
        self.log.append((self.name, seconds))
        return next(self.rates)


def test_alternate_warms_each_then_takes_turns_and_keeps_the_best() -> None:
    """Both warmed first; then a, b, a, b, ... each round `seconds` / (rounds × steps)."""
    log: list[tuple] = []
    a, b = FakeStep("a", [1.0, 3.0, 2.0], log), FakeStep("bb", [5.0, 4.0, 6.0], log)
    assert alternate([a, b], 6.0, rounds=3) == [(3.0, 1.0), (6.0, 2.0)]
    assert log == [("warm", "a"), ("warm", "bb")] + [("a", 1.0), ("bb", 1.0)] * 3


def test_peak_memory_is_the_most_held_at_once_above_the_start() -> None:
    """4 MiB allocated and freed, then 1 MiB: the peak is 4 MiB, not their sum, and a tensor
    held from before the block does not count."""
    held = torch.ones(2**20)
    with PeakMemory(CPU).measure() as peak:
        big = torch.ones(2**20)  # 4 MiB of fp32
        del big
        small = torch.ones(2**18)
    del held, small
    assert peak.mib == pytest.approx(4.0, abs=0.05)


def test_a_local_steps_warm_up_is_two_steps_and_their_peak() -> None:
    """Each step keeps 1 MiB: two steps hold 2 MiB at the end."""
    kept: list[torch.Tensor] = []
    step = LocalStep(lambda: kept.append(torch.ones(2**18)), CPU)
    assert step.warm() == pytest.approx(2.0, abs=0.05)
    assert len(kept) == 2


def test_only_the_profilers_lines_are_held_back(capfd: pytest.CaptureFixture[str]) -> None:
    """Lines written to file descriptor 2 inside the block come out after it, less kineto's."""
    with without_kineto_lines():
        os.write(2, b"USDT:2026 profiler_start\n")
        os.write(2, b"a real warning\n")
        os.write(2, b"STAGE:2026 Completed Stage\n")
        os.write(2, b"[W] Memory block of unknown size was allocated before the profiling "
                    b"started, profiler results will not include the deallocation event\n")
    assert capfd.readouterr().err == "a real warning\n"
