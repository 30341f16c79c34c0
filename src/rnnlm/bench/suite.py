"""`rnnlm bench`: the machine's matmul limit, training and generation speed through rnnlm's own
code beside a bare PyTorch loop, and peak memory; a table on the terminal, JSON to a file."""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import torch

from rnnlm.bench.bare import BareProcess, Shape
from rnnlm.bench.generation import char_model, generation_speed, prime_speed
from rnnlm.bench.machine import gemm_shapes, peak_gflops
from rnnlm.bench.training import SHAPES, measure_training
from rnnlm.data.corpora import load_corpus
from rnnlm.fileio import write_text_atomic
from rnnlm.runtime import bf16_is_fast, pick_device

GENERATION_CELLS = ("lstm", "gru", "rnn")
PRIME_CHARS = 10_000


def bench(corpus: str = "shakespeare", device: str = "auto", quick: bool = False,
          json_path: str | Path | None = None) -> dict[str, object]:
    """Run every measurement (about 4 minutes on 2 CPU cores; --quick: seconds) and return
    the results; print them as they come, and write them as JSON to json_path."""
    started = time.perf_counter()
    dev = pick_device(device)
    precisions = ["fp32", "bf16"] if bf16_is_fast(dev) else ["fp32"]
    shapes = [Shape("lstm", 2, 128, 32, 64)] if quick else SHAPES
    seconds = 1.0 if quick else 7.0
    hidden = 128 if quick else 512
    parts = load_corpus(corpus).splits(0.1)
    out: dict[str, object] = {
        "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else
        f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads",
        "torch": torch.__version__, "corpus": corpus, "quick": quick}
    big = max(shapes, key=lambda s: s.hidden)
    peak, libraries = peak_gflops(dev, gemm_shapes(big.batch, big.seq_len, big.hidden, 4),
                                  seconds=2.0 if quick else 8.0)
    out["peak_gflops"], out["matmul_gflops_by_library"] = peak, libraries
    print(f"{out['device']}, torch {torch.__version__}\nmatmul peak: "
          + ", ".join(f"{k} {v:,.0f} GFLOP/s" for k, v in peak.items() if v) + " ("
          + "; ".join(f"{k}: " + ", ".join(f"{lib} {v:,.0f}" for lib, v in by.items())
                      for k, by in libraries.items()) + ")", flush=True)

    print(_row("cell", "L×H", "batch×T", "prec", "tok/s", "MFU", "bare tok/s", "ratio",
               "MiB"), flush=True)
    train = []
    with BareProcess() as bare_loop:
        for shape in shapes:
            for precision in precisions:
                r = measure_training(shape, corpus, precision, dev, peak[precision], seconds,
                                     bare_loop)
                train.append(r)
                print(_row(r["cell"], f"{r['layers']}×{r['hidden']}",
                           f"{r['batch']}×{r['seq_len']}", precision,
                           f"{r['tokens_per_s']:,}", f"{r['mfu']:.1%}",
                           f"{r['bare_tokens_per_s']:,}", f"{r['ratio_to_bare']:.3f}",
                           f"{r['peak_mib']:.0f}"), flush=True)
    out["train"] = train

    print(_row("generate", "L×H", "streams", "prec", "chars/s", "", "", "", "MiB"), flush=True)
    generate = []
    cells = ("lstm",) if quick else GENERATION_CELLS
    for cell in cells:
        for precision in precisions:
            lm = char_model(cell, 2, hidden, parts["train"], dev, precision)
            for streams, length in ((1, 300 if quick else 2000), (64, 50 if quick else 300)):
                speed, mib = generation_speed(lm, streams, length)
                generate.append({"cell": cell, "layers": 2, "hidden": hidden,
                                 "streams": streams, "precision": precision,
                                 "chars_per_s": round(speed), "peak_mib": round(mib, 1)})
                print(_row(cell, f"2×{hidden}", str(streams), precision, f"{speed:,.0f}",
                           "", "", "", f"{mib:.0f}"), flush=True)
    out["generate"] = generate

    prime = parts["val"][: 2000 if quick else PRIME_CHARS]
    lm = char_model("lstm", 2, hidden, parts["train"], dev, precisions[-1])
    speed, mib = prime_speed(lm, prime)
    out["prime_chars_per_s"] = round(speed)
    out["prime"] = {"cell": "lstm", "layers": 2, "hidden": hidden, "chars": len(prime),
                    "precision": precisions[-1], "peak_mib": round(mib, 1)}
    print(f"prime: {len(prime):,} characters through a 2×{hidden} LSTM ({precisions[-1]}) in "
          f"one call: {speed:,.0f} chars/s", flush=True)
    out["seconds"] = round(time.perf_counter() - started, 1)
    if json_path:
        write_text_atomic(Path(json_path), json.dumps(out, indent=1) + "\n")
        print(f"wrote {json_path} ({out['seconds']:.0f} s)")
    return out


def _row(*cells: str) -> str:
    widths = (8, 7, 8, 5, 9, 6, 11, 6, 6)
    return "  ".join(c.ljust(w) if i < 4 else c.rjust(w)
                     for i, (c, w) in enumerate(zip(cells, widths, strict=True)))
