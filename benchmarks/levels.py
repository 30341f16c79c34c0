"""Every level of language model on one scale: n-gram orders 3–9 and recurrent models with each
tokenizer, all trained for the same wall-clock budget, compared with `rnnlm compare`.

    RNNLM_DATA=../shared/data PYTHONPATH=src python benchmarks/levels.py \
        [--budget 3m] [--corpora shakespeare,ptb-char] [--out runs/levels]

Runs the `rnnlm` CLI one command at a time (never two trainings at once: they would share the
CPU), then writes OUT/CORPUS.json (the `rnnlm compare --json` rows) and OUT/CORPUS.txt (the
table). Scored text: tiny-shakespeare's last 10% (val), Penn Treebank characters' test file.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

TOKENIZERS = ("char", "byte", "bpe", "unigram", "hybrid", "mikolov")
SCORED_SPLIT = {"shakespeare": "val", "ptb-char": "test"}


def rnnlm(*args: str) -> str:
    """Run one rnnlm command, echo it, and return its standard output."""
    print("$ rnnlm " + " ".join(args), file=sys.stderr, flush=True)
    done = subprocess.run([sys.executable, "-m", "rnnlm", *args], check=True, text=True,
                          stdout=subprocess.PIPE)
    return done.stdout


def main() -> None:
    """Train what is missing, then compare everything on each corpus."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", default="3m", help="training time of every recurrent model")
    ap.add_argument("--corpora", default="shakespeare,ptb-char")
    ap.add_argument("--orders", default="3-9", help="n-gram orders, FIRST-LAST")
    ap.add_argument("--out", default="runs/levels")
    args = ap.parse_args()
    first, last = (int(n) for n in args.orders.split("-"))
    for corpus in args.corpora.split(","):
        out = Path(args.out) / corpus
        models = []
        for order in range(first, last + 1):
            arpa = out / f"char{order}.arpa"
            if not arpa.exists():
                rnnlm("ngram", "train", corpus, "--order", str(order), "--tokenizer", "char",
                      "--out", str(arpa))
            models.append(str(arpa))
        for tokenizer in TOKENIZERS:
            run = out / tokenizer
            if not (run / "best").exists():
                rnnlm("train", corpus, "--tokenizer", tokenizer, "--max-time", args.budget,
                      "--out", str(run))
            models.append(str(run))
        split = SCORED_SPLIT.get(corpus, "val")
        compare = ("compare", *models, "--corpus", corpus, "--split", split)
        (out / f"{corpus}.json").write_text(rnnlm(*compare, "--json"))
        table = rnnlm(*compare)
        (out / f"{corpus}.txt").write_text(table)
        print(f"{corpus} ({split}), recurrent models trained {args.budget} each:\n{table}")


if __name__ == "__main__":
    main()
