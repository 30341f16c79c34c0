"""The bare PyTorch loop in its own process: errors come back, and its figures are real."""

from __future__ import annotations

import time

import pytest

from rnnlm.bench.bare import BareLM, BareProcess, Shape
from rnnlm.bench.machine import CPU


def test_a_failure_in_the_bare_loops_process_is_raised_here() -> None:
    """The child's traceback comes back as an error in the parent; the child then still works,
    and a round of `seconds` there lasts at least that long here."""
    with BareProcess() as bare:
        with pytest.raises(RuntimeError, match="(?s)bare loop's process failed:.*KeyError: 'lsmt'"):
            bare.build(Shape("lsmt", 1, 8, 2, 4), 5, CPU, "fp32")
        built = bare.build(Shape("gru", 1, 8, 2, 4), 5, CPU, "fp32")
        start = time.perf_counter()
        rate = built.rate(0.2)
        elapsed = time.perf_counter() - start
    assert elapsed >= 0.2
    assert rate * elapsed >= 1  # at least one step in the round


def test_the_childs_warm_up_peak_holds_the_gradients_and_adamws_moments() -> None:
    """The first step allocates a gradient and two AdamW moments per weight, all fp32."""
    shape, vocab = Shape("lstm", 1, 64, 4, 8), 50
    weights = sum(p.numel() for p in BareLM(shape, vocab).parameters())
    with BareProcess() as bare:
        mib = bare.build(shape, vocab, CPU, "fp32").warm()
    assert 3 * weights * 4 / 2**20 <= mib < 3 * weights * 4 / 2**20 + 16
