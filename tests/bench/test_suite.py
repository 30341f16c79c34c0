"""`rnnlm bench --quick`: a well-formed JSON whose figures agree with one another."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from rnnlm.bench.bare import Shape
from rnnlm.bench.corpus import default_splits
from rnnlm.bench.suite import QUICK_SHAPES
from rnnlm.bench.training import flops_per_token
from rnnlm.cli import main
from rnnlm.runtime import bf16_is_fast
from rnnlm.tokenizers import build_tokenizer


def test_quick_bench_writes_well_formed_json(tmp_path: Path,
                                             capfd: pytest.CaptureFixture[str]) -> None:
    """Every key the JSON promises is there: a row for each shape, precision and stream count;
    the peak is the best library's; MFU and the ratio follow from the row's own figures; the
    profiler's C++ log lines stay off the terminal."""
    out = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--json", str(out)]) in (0, None)
    data = json.loads(out.read_text())
    precisions = ["fp32", "bf16"] if bf16_is_fast(torch.device("cpu")) else ["fp32"]
    peak = data["peak_gflops"]
    assert set(peak) == {"fp32", "bf16"} and (peak["bf16"] is None) == ("bf16" not in precisions)
    assert set(data["matmul_gflops_by_library"]) == set(precisions)
    for precision, by_library in data["matmul_gflops_by_library"].items():
        assert "torch.mm" in by_library and max(by_library.values()) == peak[precision]
    vocab = build_tokenizer("char", default_splits("shakespeare")["train"]).vocab_size
    assert [(r["cell"], r["hidden"], r["precision"]) for r in data["train"]] == [
        (s.cell, s.hidden, p) for s in QUICK_SHAPES for p in precisions]
    for row in data["train"]:
        for key in ("tokens_per_s", "bare_tokens_per_s", "peak_mib", "bare_peak_mib"):
            assert row[key] > 0 and math.isfinite(row[key]), key
        shape = Shape(*(row[k] for k in ("cell", "layers", "hidden", "batch", "seq_len")))
        assert row["flops_per_token"] == flops_per_token(shape, vocab)
        assert row["mfu"] == pytest.approx(row["flops_per_token"] * row["tokens_per_s"]
                                           / (peak[row["precision"]] * 1e9), rel=1e-2, abs=1e-4)
        assert row["ratio_to_bare"] == pytest.approx(
            row["tokens_per_s"] / row["bare_tokens_per_s"], rel=1e-2)
    assert sorted((r["cell"], r["streams"], r["precision"]) for r in data["generate"]) == sorted(
        ("lstm", s, p) for s in (1, 64) for p in precisions)
    assert all(r["chars_per_s"] > 0 and r["hidden"] == 128 for r in data["generate"])
    assert data["prime"] | {"peak_mib": 0} == {"cell": "lstm", "layers": 2, "hidden": 128,
                                               "chars": 2000, "precision": precisions[-1],
                                               "peak_mib": 0}
    assert data["prime_chars_per_s"] > 0
    printed = capfd.readouterr()
    assert "tok/s" in printed.out and "matmul peak: fp32" in printed.out
    assert "USDT:" not in printed.err and "STAGE:" not in printed.err
