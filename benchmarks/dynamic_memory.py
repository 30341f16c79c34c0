"""Resident memory of documents-mode dynamic evaluation over documents of many lengths.

    RNNLM_DATA=../shared/data PYTHONPATH=src flock /tmp/rnnlm-cpu.lock \
        /usr/bin/time -v python benchmarks/dynamic_memory.py RUN [--docs 150] [--update]

Scores --docs random pieces of tiny-shakespeare (300–2,500 characters, seed 0) with RUN's
model the way `rnnlm eval --dynamic` does (inference.dynamic.segment_nats, the sgd rule's
segment; --update: with its weight steps), 25 documents per call, and prints the resident
memory after each call. Every document is another shape, so without the memory guard's
checks the freed blocks that a run's process keeps for reuse pile up; with them it settles.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from rnnlm.inference.dynamic import Dynamic, Update, segment_nats
from rnnlm.language_model import LanguageModel
from rnnlm.runtime import resident_bytes

EVERY = 25  # documents per call, between two memory readings


def main() -> None:
    """Parse the arguments, score the documents, print memory as it goes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="a documents-mode run directory")
    parser.add_argument("--docs", type=int, default=150)
    parser.add_argument("--update", action="store_true", help="take the sgd rule's steps")
    args = parser.parse_args()
    lm = LanguageModel.load(args.run)
    text = (Path(os.environ.get("RNNLM_DATA", "../shared/data")) / "tiny-shakespeare"
            / "input.txt").read_text(encoding="utf-8")
    rng = np.random.default_rng(0)
    docs = []
    for _ in range(args.docs):
        start, length = int(rng.integers(0, len(text) - 3000)), int(rng.integers(300, 2500))
        docs.append(text[start: start + length])
    settings = Dynamic("sgd").resolved(lm.tokenizer.kind)
    seqs, _ = lm.encoded(docs)
    update = Update(lm.model, settings) if args.update else None
    began = time.perf_counter()
    for i in range(0, len(seqs), EVERY):
        segment_nats(lm.model, seqs[i: i + EVERY], settings.segment, lm.device, lm.precision,
                     update=update)
        print(f"{min(i + EVERY, len(seqs))} documents: {resident_bytes() / 2**20:,.0f} MiB "
              f"resident, {time.perf_counter() - began:.0f} s", flush=True)


if __name__ == "__main__":
    main()
