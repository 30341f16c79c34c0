"""Training speed of Elman cells without a fused kernel against the fused tanh nn.RNN.

    PYTHONPATH=src python benchmarks/elman.py [--activation softsign] [--sizes 128x32x64,...]
        [--precisions fp32,bf16] [--vocab 0] [--repeats 5] [--out runs/elman.json]

Tokens/s of one training step (forward, backward, SGD step) of the recurrent block (two layers,
input size = hidden), or of the whole LM with --vocab V (embedding, block, softmax head, loss).
Each size runs fused nn.RNN(tanh), the plain Python loop through autograd ("autograd"), the
custom BPTT node run eagerly ("custom") and compiled by TorchScript ("compiled"), alternating
in rounds of about --seconds each (bench.machine.alternate); the best of --repeats rounds counts.
Writes JSON rows (after each row) and prints a table.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from rnnlm.bench.machine import CPU, LocalStep, alternate, timed
from rnnlm.config import ModelConfig
from rnnlm.models.kernels import torchscript
from rnnlm.models.kernels.hoisted import ElmanRNN
from rnnlm.models.rnn import RNNLanguageModel
from rnnlm.models.state import lm_loss
from rnnlm.runtime import autocast

VARIANTS = ("fused", "autograd", "custom", "compiled")


def block(variant: str, hidden: int, activation: str) -> nn.Module:
    """The two-layer recurrent block of one variant; the fused one is always tanh."""
    if variant == "fused":
        return nn.RNN(hidden, hidden, num_layers=2, batch_first=True)
    return ElmanRNN(hidden, hidden, 2, activation, recurrence=variant)


def step_fn(variant: str, hidden: int, batch: int, steps: int, activation: str, vocab: int,
            precision: str) -> Callable[[], None]:
    """One training step of the block (or of the LM when vocab > 0) on fixed random data."""
    torch.manual_seed(0)
    rnn = block(variant, hidden, activation)
    if vocab:
        cfg = ModelConfig(cell="rnn", activation="tanh", layers=2, hidden=hidden,
                          embedding=hidden, dropout=0.0, vocab_size=vocab)
        model: nn.Module = RNNLanguageModel(cfg)
        model.rnn = rnn
        ids = torch.randint(0, vocab, (batch, steps + 1))
    else:
        model = rnn
        x = torch.randn(batch, steps, hidden)
        target = torch.randn(batch, steps, hidden)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        with autocast(CPU, precision):
            if vocab:
                logits, _ = model(ids[:, :-1])
                loss = lm_loss(logits, ids[:, 1:])
            else:
                out, _ = model(x)
                loss = F.mse_loss(out.float(), target)
        loss.backward()
        opt.step()

    return step


def compile_seconds(hidden: int, activation: str) -> float:
    """First forward + backward of a compiled cell minus a steady one: what compiling costs."""
    torchscript.reset_compiled()
    step = step_fn("compiled", hidden, 8, 16, activation, 0, "fp32")
    first = timed(step)[1]
    return first - min(timed(step)[1] for _ in range(5))


def measure(size: tuple[int, int, int], precision: str, args: argparse.Namespace) -> dict:
    """Best tokens/s of every variant at one size and precision, variants alternating in
    --repeats rounds of about --seconds each."""
    hidden, batch, steps = size
    variants = [LocalStep(step_fn(v, hidden, batch, steps, args.activation, args.vocab,
                                  precision), CPU) for v in VARIANTS]
    rates = alternate(variants, args.seconds * args.repeats * len(VARIANTS), args.repeats)
    tokens = {v: batch * steps * rate for v, (rate, _) in zip(VARIANTS, rates, strict=True)}
    return {"layers": 2, "hidden": hidden, "batch": batch, "steps": steps,
            "precision": precision, "activation": args.activation, "vocab": args.vocab,
            "tokens_per_s": {v: round(t) for v, t in tokens.items()},
            "ratio_to_fused": {v: round(tokens[v] / tokens["fused"], 3) for v in VARIANTS[1:]}}


def main() -> None:
    """Measure every size and precision, write JSON, print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--activation", default="softsign")
    ap.add_argument("--sizes", default="128x32x64,256x64x128,512x64x128",
                    help="HIDDENxBATCHxSTEPS,...")
    ap.add_argument("--precisions", default="fp32,bf16")
    ap.add_argument("--vocab", type=int, default=0, help="time the whole LM with this vocab")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=0.5, help="length of one timing")
    ap.add_argument("--out", default="runs/elman.json")
    args = ap.parse_args()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    compile_s = compile_seconds(128, args.activation)
    meta = {"torch": torch.__version__, "threads": torch.get_num_threads(),
            "compile_s": round(compile_s, 3)}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"TorchScript compile + first-run cost {compile_s:.3f} s")
    print(f"{'size':>16} {'prec':>5} {'fused tanh':>10} {'autograd':>9} {'custom':>9} "
          f"{'compiled':>9}   ratio to fused (autograd/custom/compiled)")
    rows = []
    for size in args.sizes.split(","):
        hidden, batch, steps = (int(n) for n in size.split("x"))
        for precision in args.precisions.split(","):
            row = measure((hidden, batch, steps), precision, args)
            rows.append(row)
            out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
            t, r = row["tokens_per_s"], row["ratio_to_fused"]
            print(f"{f'2x{hidden} b{batch} s{steps}':>16} {precision:>5} {t['fused']:>10} "
                  f"{t['autograd']:>9} {t['custom']:>9} {t['compiled']:>9}   "
                  f"{r['autograd']:.2f} / {r['custom']:.2f} / {r['compiled']:.2f}", flush=True)

if __name__ == "__main__":
    main()
