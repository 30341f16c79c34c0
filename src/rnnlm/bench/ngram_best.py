"""The n-gram row of `rnnlm bench --budget`: Kneser–Ney models of several orders counted on
the corpus's train split with the recurrent runs' data options, each scored on the validation
split, the best order kept. A count takes seconds, not a budget, so it is one row for all."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rnnlm.config import DataConfig
from rnnlm.ngram.lm import train as build
from rnnlm.verbs.ngram import evaluate

ORDERS = range(3, 11)  # characters: the best order is 7–9 on every corpus measured so far


def best_ngram(corpus: str, data: DataConfig, out: Path, orders: range = ORDERS
               ) -> dict[str, Any]:
    """Build (or reuse) out/ngram-N.arpa for each order and return the best one's row."""
    scores: dict[int, float] = {}
    seconds: dict[int, float | None] = {}  # build time; None where an earlier build is reused
    for order in orders:
        arpa = out / f"ngram-{order}.arpa"
        seconds[order] = None
        if not arpa.exists():
            start = time.perf_counter()
            build([corpus], order, arpa, data)
            seconds[order] = round(time.perf_counter() - start, 1)
        scores[order] = evaluate(arpa, split="val").bits_per_char
        print(f"ngram {order}-gram: {scores[order]:.4f} bits/char (val, full pass)", flush=True)
        if order - 2 in scores and scores[order] > scores[order - 1] > scores[order - 2]:
            break  # past the best order: each longer context only adds sparse counts
    best = min(scores, key=scores.__getitem__)
    return {"family": "ngram", "order": best, "val_bits_per_char": round(scores[best], 4),
            "build_seconds": seconds[best],
            "orders": {str(k): round(v, 4) for k, v in scores.items()},
            "run": str(out / f"ngram-{best}.arpa")}
