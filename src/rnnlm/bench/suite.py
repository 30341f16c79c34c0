"""`rnnlm bench`: the machine's matmul limit, training and generation speed through rnnlm's own
code beside a bare PyTorch loop, and peak memory; a table on the terminal, JSON to a file."""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import torch

from rnnlm.bench.bare import BareProcess, Shape
from rnnlm.bench.corpus import default_splits
from rnnlm.bench.generation import char_model, generation_speed, prime_speed
from rnnlm.bench.machine import gemm_shapes, peak_gflops
from rnnlm.bench.training import SHAPES, measure_training
from rnnlm.fileio import write_text_atomic
from rnnlm.language_model import LanguageModel
from rnnlm.models.rnn import GATES
from rnnlm.runtime import bf16_is_fast, pick_device

GENERATION_CELLS = ("lstm", "gru", "rnn")
PRIME_CHARS = 10_000
QUICK_SHAPES = [Shape("lstm", 2, 128, 32, 64)]


def bench(corpus: str = "shakespeare", device: str = "auto", quick: bool = False,
          json_path: str | Path | None = None) -> dict[str, object]:
    """Run every measurement (--quick: one small shape and short rounds, to check that it all
    runs) and return the results; print them as they come, and write them as JSON to
    json_path."""
    started = time.perf_counter()
    dev = pick_device(device)
    precisions = ["fp32", "bf16"] if bf16_is_fast(dev) else ["fp32"]
    shapes = QUICK_SHAPES if quick else SHAPES
    hidden = 128 if quick else 512
    parts = default_splits(corpus)
    out: dict[str, object] = {"device": describe(dev), "torch": torch.__version__,
                              "corpus": corpus, "quick": quick}
    print(f"{out['device']}, torch {torch.__version__}", flush=True)
    peak, libraries = matmul_peak(dev, shapes, 2.0 if quick else 8.0)
    out["peak_gflops"], out["matmul_gflops_by_library"] = peak, libraries
    out["train"] = training_table(shapes, corpus, precisions, dev, peak,
                                  1.0 if quick else 7.0)
    out["generate"] = generation_table(("lstm",) if quick else GENERATION_CELLS, hidden,
                                       parts["train"], dev, precisions, quick)
    lm = char_model("lstm", 2, hidden, parts["train"], dev, precisions[-1])
    out["prime_chars_per_s"], out["prime"] = prime_row(
        lm, parts["val"][: 2000 if quick else PRIME_CHARS])
    out["seconds"] = round(time.perf_counter() - started, 1)
    if json_path:
        write_text_atomic(Path(json_path), json.dumps(out, indent=1) + "\n")
        print(f"wrote {json_path} ({out['seconds']:.0f} s)")
    return out


def describe(dev: torch.device) -> str:
    """The GPU's name, or the CPU's and the threads PyTorch uses on it."""
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    return f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads"


def matmul_peak(dev: torch.device, shapes: list[Shape], seconds: float
                ) -> tuple[dict[str, float | None], dict[str, dict[str, float]]]:
    """The best matmul GFLOP/s by precision and every library's, on the GEMM shapes of the
    largest LSTM measured; printed on one line."""
    big = max(shapes, key=lambda s: s.hidden)
    peak, libraries = peak_gflops(
        dev, gemm_shapes(big.batch, big.seq_len, big.hidden, GATES["lstm"]), seconds)
    print("matmul peak: " + ", ".join(f"{k} {v:,.0f} GFLOP/s" for k, v in peak.items() if v)
          + " (" + "; ".join(f"{k}: " + ", ".join(f"{lib} {v:,.0f}" for lib, v in by.items())
                             for k, by in libraries.items()) + ")", flush=True)
    return peak, libraries


def training_table(shapes: list[Shape], corpus: str, precisions: list[str], dev: torch.device,
                   peak: dict[str, float | None], seconds: float) -> list[dict[str, object]]:
    """One row per shape and precision: rnnlm's training step beside the bare loop's."""
    print(_row("cell", "L×H", "batch×T", "prec", "tok/s", "MFU", "bare tok/s", "ratio",
               "MiB"), flush=True)
    rows = []
    with BareProcess() as bare_loop:
        for shape in shapes:
            for precision in precisions:
                r = measure_training(shape, corpus, precision, dev, peak[precision], seconds,
                                     bare_loop)
                rows.append(r)
                print(_row(r["cell"], f"{r['layers']}×{r['hidden']}",
                           f"{r['batch']}×{r['seq_len']}", precision,
                           f"{r['tokens_per_s']:,}", f"{r['mfu']:.1%}",
                           f"{r['bare_tokens_per_s']:,}", f"{r['ratio_to_bare']:.3f}",
                           f"{r['peak_mib']:.0f}"), flush=True)
    return rows


def generation_table(cells: tuple[str, ...], hidden: int, text: str, dev: torch.device,
                     precisions: list[str], quick: bool) -> list[dict[str, object]]:
    """One row per cell, precision and stream count (1, 64): chars/s of 2-layer models."""
    print(_row("generate", "L×H", "streams", "prec", "chars/s", "", "", "", "MiB"), flush=True)
    rows = []
    for cell in cells:
        for precision in precisions:
            lm = char_model(cell, 2, hidden, text, dev, precision)
            for streams, length in ((1, 300 if quick else 2000), (64, 50 if quick else 300)):
                speed, mib = generation_speed(lm, streams, length)
                rows.append({"cell": cell, "layers": 2, "hidden": hidden, "streams": streams,
                             "precision": precision, "chars_per_s": round(speed),
                             "peak_mib": round(mib, 1)})
                print(_row(cell, f"2×{hidden}", str(streams), precision, f"{speed:,.0f}",
                           "", "", "", f"{mib:.0f}"), flush=True)
    return rows


def prime_row(lm: LanguageModel, prime: str) -> tuple[int, dict[str, object]]:
    """(chars/s of absorbing the prime in one call, what was measured)."""
    speed, mib = prime_speed(lm, prime)
    net = lm.config.model
    print(f"prime: {len(prime):,} characters through a {net.layers}×{net.hidden} "
          f"{net.cell.upper()} ({lm.precision}) in one call: {speed:,.0f} chars/s", flush=True)
    return round(speed), {"cell": net.cell, "layers": net.layers, "hidden": net.hidden,
                          "chars": len(prime), "precision": lm.precision,
                          "peak_mib": round(mib, 1)}


def _row(*cells: str) -> str:
    """One line of a table: the four labels left-aligned, the figures right-aligned."""
    widths = (8, 7, 8, 5, 9, 6, 11, 6, 6)
    return "  ".join(c.ljust(w) if i < 4 else c.rjust(w)
                     for i, (c, w) in enumerate(zip(cells, widths, strict=True)))
