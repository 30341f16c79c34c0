"""Generation speed of an exported model in onnxruntime beside rnnlm's own path, the same run
on the same CPU threads: characters per second for 1 and 64 streams of sampling (draw,
decode and the next step, as examples/onnx_sample.py runs it; rnnlm: LanguageModel.sample,
fp32 and the run's bf16 where it has it), and tokens/s of the network alone (step.onnx
beside rnnlm's Stepper).

    RNNLM_DATA=../shared/data PYTHONPATH=src python benchmarks/onnx_generation.py RUN \
        [--out runs/bench/onnx_generation.json] [--repeats 3]

RUN is a run directory; it is exported to a temporary folder first. Each figure is the best
of --repeats runs of about 0.7 s; onnxruntime gets as many intra-op threads as torch has.
"""

from __future__ import annotations

import argparse
import codecs
import importlib.util
import json
import tempfile
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from types import ModuleType

import numpy as np
import onnxruntime as ort
import torch

from rnnlm.bench.generation import sample_speed, stepper_speed
from rnnlm.bench.machine import best_of
from rnnlm.export.onnx import STEP, export_onnx
from rnnlm.inference.sampling import Sampling
from rnnlm.language_model import LanguageModel

STREAMS = (1, 64)
SECONDS = 0.7  # the length of one measurement
TEMPERATURE = 0.8
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "onnx_sample.py"


@cache
def example() -> ModuleType:
    """examples/onnx_sample.py as a module: its sidecar reader and its draw."""
    spec = importlib.util.spec_from_file_location("onnx_sample", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def session(folder: Path) -> ort.InferenceSession:
    """step.onnx with as many threads as torch uses."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    return ort.InferenceSession(str(folder / STEP), options)


def onnx_sample_speed(folder: Path, step: ort.InferenceSession, streams: int, steps: int,
                      network_only: bool = False) -> float:
    """Characters/s (all streams) of the example's loop: draw, decode, step; network_only:
    tokens/s of step.run alone on fixed ids."""
    ex = example()
    meta = json.loads((folder / "rnnlm.json").read_text(encoding="utf-8"))
    names = [s["name"] for s in meta["state"]]
    state = [np.zeros([streams if d == "batch" else d for d in s["shape"]], ex.DTYPES[s["dtype"]])
             for s in meta["state"]]
    ids = np.array(meta["start_ids"][-1:] * streams, dtype=np.int64)  # (streams,)
    last, *state = step.run(None, {"ids": ids, **dict(zip(names, state, strict=True))})
    pieces = [bytes.fromhex(h) for h in meta["tokenizer"]["token_bytes_hex"]]
    never = np.array(meta["never_sample"], dtype=np.int64)
    decoders = [codecs.getincrementaldecoder("utf-8")() for _ in range(streams)]
    rng, chars = np.random.default_rng(0), 0
    start = time.perf_counter()
    for _ in range(steps):
        if not network_only:
            ids = ex.draw(last, never, TEMPERATURE, rng)  # (streams,)
            chars += sum(len(d.decode(pieces[i])) for d, i in zip(decoders, ids.tolist(),
                                                                  strict=True))
        last, *state = step.run(None, {"ids": ids, **dict(zip(names, state, strict=True))})
    spent = time.perf_counter() - start
    return (streams * steps if network_only else chars) / spent


def best_rate(fn: Callable[[int], float], streams: int, repeats: int) -> float:
    """The best of repeated rates of fn(steps), steps chosen for about SECONDS a run."""
    steps = max(20, int(fn(20) * SECONDS / streams))
    return best_of(repeats, lambda: fn(steps))


def measure(rows: list[dict[str, object]], name: str, precision: str, streams: int,
            fn: Callable[[int], float], repeats: int) -> None:
    """Add the best rate of fn as a row, and print it."""
    rate = best_rate(fn, streams, repeats)
    unit = "chars/s" if "sample" in name else "tokens/s"
    rows.append(dict(path=name, precision=precision, streams=streams, rate=round(rate),
                     unit=unit))
    print(f"{name:22} {precision:5} {streams:7} {rate:12,.0f} {unit}", flush=True)


def run(path: Path, repeats: int) -> list[dict[str, object]]:
    """Every measurement as a row: path, precision, streams, rate (chars/s or tokens/s).
    onnxruntime's rows come first and its session is closed before rnnlm's: its idle worker
    threads spin, and would take the cores from torch's."""
    rows: list[dict[str, object]] = []
    folder = export_onnx(path, Path(tempfile.mkdtemp()) / "onnx")
    print(f"{'path':22} {'prec':5} {'streams':>7} {'rate':>12}")
    step = session(folder)
    for streams in STREAMS:
        measure(rows, "onnxruntime sample", "fp32", streams,
                lambda n, b=streams, st=step: onnx_sample_speed(folder, st, b, n), repeats)
        measure(rows, "onnxruntime step.run", "fp32", streams,
                lambda n, b=streams, st=step: onnx_sample_speed(folder, st, b, n, True),
                repeats)
    del step
    s = Sampling(temperature=TEMPERATURE)
    precisions = ["fp32"] + (["bf16"] if LanguageModel.load(path).precision == "bf16" else [])
    for precision in precisions:
        lm = LanguageModel.load(path, device="cpu", precision=precision)
        for streams in STREAMS:
            measure(rows, "rnnlm sample", precision, streams,
                    lambda n, b=streams, lm=lm: sample_speed(lm, b, n, s), repeats)
            measure(rows, "rnnlm Stepper.step", precision, streams,
                    lambda n, b=streams, lm=lm: stepper_speed(lm.model, b, n, lm.precision),
                    repeats)
    return rows


def main() -> None:
    """Measure, print the table and the ratios, write the JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="a run directory")
    ap.add_argument("--out", default="runs/bench/onnx_generation.json")
    ap.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    args = ap.parse_args()
    rows = run(args.run, args.repeats)
    rate = {(r["path"], r["precision"], r["streams"]): r["rate"] for r in rows}
    ratios = {f"onnxruntime / rnnlm, {what}, {b} streams (fp32)":
              round(rate[f"onnxruntime {o}", "fp32", b] / rate[f"rnnlm {r}", "fp32", b], 3)
              for b in STREAMS for what, o, r in (("sampling", "sample", "sample"),
                                                  ("network", "step.run", "Stepper.step"))}
    for name, value in ratios.items():
        print(f"{name}: {value:.2f}×")
    cfg = LanguageModel.load(args.run, device="cpu").config.model
    meta = dict(torch=torch.__version__, onnxruntime=ort.__version__,
                threads=torch.get_num_threads(), run=str(args.run),
                model=f"{cfg.cell} {cfg.layers}x{cfg.hidden}, vocab {cfg.vocab_size}",
                temperature=TEMPERATURE)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(dict(meta=meta, rows=rows, ratios=ratios), indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
