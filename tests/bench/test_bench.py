"""`rnnlm bench`: --quick writes a well-formed JSON; the budget table's formats."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
import torch

from rnnlm.bench.bare import BareProcess, Shape
from rnnlm.bench.budget import family_config, markdown, plot
from rnnlm.bench.machine import without_kineto_lines
from rnnlm.bench.training import flops_per_token
from rnnlm.cli import main
from rnnlm.errors import RnnlmError


def test_quick_bench_writes_well_formed_json(tmp_path: Path,
                                             capfd: pytest.CaptureFixture[str]) -> None:
    """Every key the JSON promises is there, with positive, finite numbers; the profiler's
    C++ log lines stay off the terminal."""
    out = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--json", str(out)]) in (0, None)
    data = json.loads(out.read_text())
    assert data["peak_gflops"]["fp32"] > 0
    assert "bf16" in data["peak_gflops"]
    by_library = data["matmul_gflops_by_library"]["fp32"]
    assert "torch.mm" in by_library and max(by_library.values()) == data["peak_gflops"]["fp32"]
    assert data["train"], "no training rows"
    for row in data["train"]:
        for key in ("cell", "layers", "hidden", "batch", "seq_len", "precision"):
            assert key in row
        for key in ("tokens_per_s", "mfu", "bare_tokens_per_s", "ratio_to_bare"):
            assert row[key] > 0 and math.isfinite(row[key]), key
        assert row["ratio_to_bare"] == pytest.approx(
            row["tokens_per_s"] / row["bare_tokens_per_s"], rel=1e-2)
        assert row["mfu"] < 1.5  # a fraction of the measured peak, not a raw FLOP count
    streams = {row["streams"] for row in data["generate"]}
    assert streams == {1, 64}
    assert all(row["chars_per_s"] > 0 for row in data["generate"])
    assert data["prime_chars_per_s"] > 0
    printed = capfd.readouterr()
    assert "tok/s" in printed.out
    assert "USDT:" not in printed.err and "STAGE:" not in printed.err


def test_only_the_profilers_lines_are_held_back(capfd: pytest.CaptureFixture[str]) -> None:
    """Lines written to file descriptor 2 inside the block come out after it, less kineto's."""
    with without_kineto_lines():
        os.write(2, b"USDT:2026 profiler_start\n")
        os.write(2, b"a real warning\n")
        os.write(2, b"STAGE:2026 Completed Stage\n")
        os.write(2, b"[W] Memory block of unknown size was allocated before the profiling "
                    b"started, profiler results will not include the deallocation event\n")
    assert capfd.readouterr().err == "a real warning\n"


def test_a_failure_in_the_bare_loops_process_is_raised_here() -> None:
    """The child's traceback comes back as an error in the parent; the child then still works."""
    with BareProcess() as bare:
        with pytest.raises(RuntimeError, match="(?s)bare loop's process failed:.*KeyError: 'lsmt'"):
            bare.build(Shape("lsmt", 1, 8, 2, 4), 5, torch.device("cpu"), "fp32")
        assert bare.build(Shape("gru", 1, 8, 2, 4), 5, torch.device("cpu"), "fp32").rate(0.1) > 0


def test_flops_per_token_counts_every_matrix() -> None:
    """An LSTM layer holds 4·H·(in + H) weights; the head H·V; training is 6 FLOPs each."""
    shape = Shape("lstm", 2, 512, 64, 128)
    weights = 4 * 512 * (128 + 512) + 4 * 512 * (512 + 512) + 512 * 65
    assert flops_per_token(shape, 65) == 6 * weights
    assert flops_per_token(Shape("rnn", 2, 512, 64, 128), 65) < flops_per_token(shape, 65)


def test_budget_table_formats() -> None:
    """The markdown has a column per budget and bolds the best of each; the config applies
    the family's settings and spends the budget on training alone."""
    rows = [{"family": f, "minutes": m, "cell": c, "layers": 2, "hidden": 640,
             "val_bits_per_char": v, "steps": 1, "run": "x"}
            for f, c, m, v in (("lstm", "lstm", 2, 2.2), ("lstm", "lstm", 5, 2.1),
                               ("gru", "gru", 2, 2.3), ("gru", "gru", 5, 2.05))]
    table = markdown(rows, "shakespeare").splitlines()
    assert table[0].count("min") == 2
    assert "| lstm | 2×640 lstm | **2.2000** | 2.1000 |" in table
    assert "| gru | 2×640 gru | 2.3000 | **2.0500** |" in table
    config = family_config("gru", "shakespeare", 120.0, "cpu")
    assert (config.model.cell, config.train.max_time) == ("gru", 120.0)
    assert config.train.eval_every > 10**6
    short, long = (family_config("transformer", "shakespeare", s, "cpu") for s in (300, 600))
    assert (short.model.dropout, long.model.dropout) == (0.0, 0.1)  # by budget
    assert short.model.hidden == long.model.hidden == 128
    with pytest.raises(RnnlmError, match="unknown family 'lsmt'"):
        family_config("lsmt", "shakespeare", 60.0, "cpu")


def test_budget_plot_is_a_png(tmp_path: Path) -> None:
    """One line per family, written whole."""
    pytest.importorskip("matplotlib")
    rows = [{"family": "lstm", "minutes": m, "val_bits_per_char": v} for m, v in
            ((2, 2.2), (5, 2.1))]
    plot(rows, tmp_path / "budget.png", "shakespeare")
    assert (tmp_path / "budget.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
