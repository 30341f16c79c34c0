"""Generation speed of an untrained 2×512 LSTM on a 66-id character vocabulary: characters per
second for 1 and 64 streams, fp32 and bf16, through the real user path (LanguageModel.sample),
generate_ids (stepper + sampling + the per-step host sync) and the bare Stepper; the model
called once per token (the old path) for comparison; and a 10,000-character prime.

    RNNLM_DATA=../shared/data PYTHONPATH=src python benchmarks/generate.py \
        [--out runs/bench/generate.json] [--repeats 3]

Each figure is the median of --repeats runs of about 0.7 s (the prime: one run).

Random weights are fine: the work per token does not depend on their values.
"""

from __future__ import annotations

import argparse
import json
import statistics
import string
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from rnnlm.bench.generation import measure_generation
from rnnlm.config import ModelConfig, RunConfig
from rnnlm.inference.sampling import Sampling
from rnnlm.inference.stepper import Stepper
from rnnlm.language_model import LanguageModel
from rnnlm.models.rnn import RNNLanguageModel
from rnnlm.runtime import autocast
from rnnlm.tokenizers.char import CharTokenizer

ALPHABET = string.ascii_letters + " \n!$&',-.3:;?"  # tiny-shakespeare's 65 characters
STREAMS = (1, 64)
SECONDS = 0.7  # the length of one measurement
PRIME = 10_000


class PerToken(nn.Module):
    """The model behind a wrapper the Stepper does not know: one model call per token."""

    def __init__(self, inner: RNNLanguageModel) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, ids: torch.Tensor, state: object = None) -> tuple[torch.Tensor, object]:
        """The inner model's logits and state."""
        return self.inner(ids, state)


def median_rate(fn: Callable[[int], float], streams: int, repeats: int) -> float:
    """The median of repeated rate measurements (characters per second) of fn(steps), with
    steps chosen from a short first run so that each takes about SECONDS."""
    steps = max(20, int(fn(20) * SECONDS / streams))
    return statistics.median(fn(steps) for _ in range(repeats))


def timed(chars: int, fn: Callable[[], object]) -> float:
    """Characters per second of one call of fn that makes `chars` characters."""
    start = time.perf_counter()
    fn()
    return chars / (time.perf_counter() - start)


@torch.inference_mode()
def bare_stepper(model: RNNLanguageModel, streams: int, steps: int, precision: str) -> float:
    """Characters per second of Stepper.step alone, feeding back fixed ids (no sampling)."""
    st = Stepper(model, streams, precision)
    st.load_state(None)
    ids = torch.randint(1, model.cfg.vocab_size, (streams,))
    st.step(ids)
    return timed(streams * steps, lambda: [st.step(ids) for _ in range(steps)])


def prime_rate(model: RNNLanguageModel, precision: str) -> float:
    """Characters per second of the fused forward over a 10,000-character prime."""
    prime = torch.randint(1, model.cfg.vocab_size, (1, PRIME))
    with torch.inference_mode(), autocast(prime.device, precision):
        model(prime[:, :100])  # warm-up
        return timed(PRIME, lambda: model(prime))


def paths(lm: LanguageModel, streams: int) -> dict[str, Callable[[int], float]]:
    """Characters per second of each path for `streams` streams, as a function of steps."""
    s, model, precision = Sampling(temperature=0.8), lm.model, lm.precision
    return {
        "sample": lambda steps: timed(streams * steps,
                                      lambda: lm.sample("\n", steps, streams, s, seed=0)),
        "generate_ids": lambda steps: measure_generation(model, streams, steps, precision, s),
        "stepper": lambda steps: bare_stepper(model, streams, steps, precision),
    }


def run(repeats: int) -> list[dict[str, object]]:
    """Every measurement as a row: path, precision, streams, chars_per_s."""
    torch.manual_seed(0)
    tokenizer = CharTokenizer(sorted(ALPHABET))
    cfg = ModelConfig(cell="lstm", layers=2, hidden=512, embedding=128, dropout=0.0,
                      vocab_size=tokenizer.vocab_size)
    model = RNNLanguageModel(cfg).eval()
    rows: list[dict[str, object]] = []

    def add(path: str, precision: str, streams: int, rate: float) -> None:
        rows.append(dict(path=path, precision=precision, streams=streams,
                         chars_per_s=round(rate)))
        print(f"{path:14} {precision:5} {streams:3} {rate:10,.0f}", flush=True)

    print(f"{'path':14} {'prec':5} {'streams':3} {'chars/s':>10}")
    for precision in ("fp32", "bf16"):
        lm = LanguageModel(model, tokenizer, RunConfig(model=cfg), torch.device("cpu"),
                           precision)
        for streams in STREAMS:
            for path, rate in paths(lm, streams).items():
                add(path, precision, streams, median_rate(rate, streams, repeats))
        add("prime", precision, 1, prime_rate(model, precision))  # one long run
    per_token = lambda steps: measure_generation(PerToken(model), 1, steps)  # noqa: E731
    add("model-per-step", "fp32", 1, median_rate(per_token, 1, repeats))
    return rows


def main() -> None:
    """Measure, print the table, write the JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/bench/generate.json")
    ap.add_argument("--repeats", type=int, default=3, help="median of this many runs")
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
