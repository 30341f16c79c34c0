"""Training speed of the min-cell LMs (--cell mingru, minlstm) against the fused nn.LSTM LM at
the same parameter count, over window lengths.

    PYTHONPATH=src flock /tmp/rnnlm-cpu.lock python benchmarks/mincell_speed.py \
        [--seq-lens 128,256,512,1024] [--seconds 20] [--rounds 5] [--out runs/mincell.json]
        [--quick]

Tokens/s of one training step (forward, backward, AdamW step; state carried, batch 32, fp32
on the CPU with torch's default threads) of each LM: the 2×512 LSTM LM (embedding 128, rnnlm's
default) and a minGRU and a minLSTM LM of as many layers, whose --hidden is solved for the
parameter count nearest to the LSTM's (expansion and conv kernel at their defaults). The
models alternate in --rounds rounds of about --seconds in all per window length
(bench.machine.alternate), each after two untimed warm-up steps; the best round counts.
--quick (128 only, a few seconds) checks that the script runs: its figures are no measurement.
Writes JSON rows (after each row) and prints a table.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import torch

from rnnlm.bench.machine import CPU, LocalStep, alternate
from rnnlm.config import ModelConfig, RunConfig
from rnnlm.models import LanguageModelNet, build_model
from rnnlm.models.state import lm_loss

CELLS = ("lstm", "mingru", "minlstm")


def model_config(cell: str, hidden: int, layers: int, vocab: int) -> ModelConfig:
    """The LM measured: rnnlm's defaults but the cell, the shape and dropout 0."""
    cfg = ModelConfig(cell=cell, layers=layers, hidden=hidden, dropout=0.0, vocab_size=vocab)
    return RunConfig(model=cfg).resolve().model


def parameters(cfg: ModelConfig) -> int:
    """The model's parameter count, built on the meta device (no memory, no init cost)."""
    with torch.device("meta"):
        return build_model(cfg).num_parameters()


def matched_hidden(cell: str, target: int, layers: int, vocab: int) -> int:
    """The --hidden whose min-cell LM has the parameter count nearest to target (bisection:
    the count grows with hidden)."""
    lo, hi = 1, 4096
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if parameters(model_config(cell, mid, layers, vocab)) <= target \
            else (lo, mid)
    return min((lo, hi), key=lambda h: abs(parameters(model_config(cell, h, layers, vocab))
                                           - target))


def step_fn(model: LanguageModelNet, batch: int, seq_len: int) -> Callable[[], None]:
    """One training step on fixed random ids, the state carried from the last step."""
    torch.manual_seed(0)
    ids = torch.randint(0, model.cfg.vocab_size, (batch, seq_len + 1))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    carried = [None]

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        logits, state = model(ids[:, :-1], carried[0])  # (B, T, V)
        lm_loss(logits, ids[:, 1:]).backward()
        optimizer.step()
        carried[0] = tuple(s.detach() for s in state)

    return step


def main() -> None:
    """Solve the shapes, measure every window length, write JSON, print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seq-lens", default="128,256,512")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--lstm-hidden", type=int, default=512)
    ap.add_argument("--vocab", type=int, default=65, help="tiny-shakespeare's characters")
    ap.add_argument("--seconds", type=float, default=20.0, help="timing per length, all models")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="128 only, 3 s: a check, no figure")
    ap.add_argument("--out", default="runs/mincell.json")
    args = ap.parse_args()
    if args.quick:
        args.seq_lens, args.seconds, args.rounds = "128", 3.0, 1
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    lstm = model_config("lstm", args.lstm_hidden, args.layers, args.vocab)
    target = parameters(lstm)
    configs = {"lstm": lstm, **{c: model_config(c, matched_hidden(c, target, args.layers,
                                                                   args.vocab),
                                                args.layers, args.vocab) for c in CELLS[1:]}}
    shapes = {c: {"layers": m.layers, "hidden": m.hidden, "parameters": parameters(m)}
              for c, m in configs.items()}
    meta = {"torch": torch.__version__, "threads": torch.get_num_threads(), "batch": args.batch,
            "precision": "fp32", "vocab": args.vocab, "quick": args.quick, "shapes": shapes}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
          + ", ".join(f"{c} {s['layers']}×{s['hidden']} ({s['parameters']:,} parameters)"
                      for c, s in shapes.items()))
    print(f"{'seq_len':>7} " + " ".join(f"{c + ' tok/s':>14}" for c in CELLS)
          + "   ratio to lstm (mingru / minlstm)")
    rows = []
    for seq_len in (int(n) for n in args.seq_lens.split(",")):
        steps = [LocalStep(step_fn(build_model(configs[c]), args.batch, seq_len), CPU)
                 for c in CELLS]
        rates = alternate(steps, args.seconds, args.rounds)
        tokens = {c: args.batch * seq_len * rate for c, (rate, _) in zip(CELLS, rates,
                                                                        strict=True)}
        rows.append({"seq_len": seq_len, "tokens_per_s": {c: round(t) for c, t in tokens.items()},
                     "ratio_to_lstm": {c: round(tokens[c] / tokens["lstm"], 3)
                                       for c in CELLS[1:]}})
        out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
        r = rows[-1]["ratio_to_lstm"]
        print(f"{seq_len:>7} " + " ".join(f"{round(tokens[c]):>14,}" for c in CELLS)
              + f"   {r['mingru']:.2f} / {r['minlstm']:.2f}", flush=True)


if __name__ == "__main__":
    main()
