"""Generation speed of an untrained 2×512 LSTM on a 66-id character vocabulary: characters per
second for 1 and 64 streams, fp32 and bf16, through the real user path (LanguageModel.sample),
generate_ids (stepper + sampling + the per-step host sync) and the bare Stepper; the model
called once per token (the old path) for comparison; and a 10,000-character prime.

    RNNLM_DATA=../shared/data PYTHONPATH=src python benchmarks/generate.py \
        [--out runs/bench/generate.json] [--repeats 3]

Each figure is the best of --repeats runs of about 0.7 s (the prime: of two runs), the helpers
of `rnnlm bench` (bench/generation.py) doing the measuring.

Random weights are fine: the work per token does not depend on their values.
"""

from __future__ import annotations

import argparse
import json
import random
import string
from collections.abc import Callable
from pathlib import Path

import torch

from rnnlm.bench.generation import (
    PerToken,
    char_model,
    measure_generation,
    prime_speed,
    sample_speed,
    stepper_speed,
)
from rnnlm.bench.machine import CPU, best_of
from rnnlm.inference.sampling import Sampling
from rnnlm.language_model import LanguageModel

ALPHABET = string.ascii_letters + " \n!$&',-.3:;?"  # tiny-shakespeare's 65 characters
STREAMS = (1, 64)
SECONDS = 0.7  # the length of one measurement
PRIME = 10_000


def best_chars_per_s(fn: Callable[[int], float], streams: int, repeats: int) -> float:
    """The best of repeated rate measurements (characters per second) of fn(steps), with
    steps chosen from a short first run so that each takes about SECONDS."""
    steps = max(20, int(fn(20) * SECONDS / streams))
    return best_of(repeats, lambda: fn(steps))


def paths(lm: LanguageModel, streams: int) -> dict[str, Callable[[int], float]]:
    """Characters per second of each path for `streams` streams, as a function of steps."""
    s, model, precision = Sampling(temperature=0.8), lm.model, lm.precision
    return {
        "sample": lambda steps: sample_speed(lm, streams, steps, s),
        "generate_ids": lambda steps: measure_generation(model, streams, steps, precision, s),
        "stepper": lambda steps: stepper_speed(model, streams, steps, precision),
    }


def run(repeats: int) -> list[dict[str, object]]:
    """Every measurement as a row: path, precision, streams, chars_per_s."""
    rows: list[dict[str, object]] = []

    def add(path: str, precision: str, streams: int, rate: float) -> None:
        rows.append(dict(path=path, precision=precision, streams=streams,
                         chars_per_s=round(rate)))
        print(f"{path:14} {precision:5} {streams:3} {rate:10,.0f}", flush=True)

    print(f"{'path':14} {'prec':5} {'streams':3} {'chars/s':>10}")
    prime = "".join(random.Random(0).choices(ALPHABET, k=PRIME))
    for precision in ("fp32", "bf16"):
        lm = char_model("lstm", 2, 512, ALPHABET, CPU, precision)
        for streams in STREAMS:
            for path, rate in paths(lm, streams).items():
                add(path, precision, streams, best_chars_per_s(rate, streams, repeats))
        add("prime", precision, 1, prime_speed(lm, prime)[0])
    per_token = PerToken(char_model("lstm", 2, 512, ALPHABET, CPU, "fp32").model)
    add("model-per-step", "fp32", 1,
        best_chars_per_s(lambda steps: measure_generation(per_token, 1, steps), 1, repeats))
    return rows


def main() -> None:
    """Measure, print the table, write the JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/bench/generate.json")
    ap.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    args = ap.parse_args()
    rows = run(args.repeats)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = dict(torch=torch.__version__, threads=torch.get_num_threads(),
                model="lstm 2x512, embedding 128, 66 ids", prime_chars=PRIME)
    out.write_text(json.dumps(dict(meta=meta, rows=rows), indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
