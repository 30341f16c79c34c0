"""Kneser–Ney n-gram baselines: build time and held-out scores, written as JSON.

    RNNLM_DATA=../shared/data PYTHONPATH=src python benchmarks/ngram.py [OUT.json]

PTB words (one sentence per line, orders 3–5, test perplexity) and tiny-shakespeare
characters (a stream, orders 3–9, bits per character on the validation text `rnnlm train`
holds out by default), in memory (no ARPA file), timing the build (tokenize, count, estimate)
and the scoring separately.
"""

from __future__ import annotations

import json
import sys
from functools import partial

from rnnlm.bench.corpus import default_splits
from rnnlm.bench.machine import timed
from rnnlm.ngram.lm import build, score


def run(corpus: str, tokenizer: str, documents: str, orders: range, split: str) -> list[dict]:
    """One row per order: build seconds, score seconds, and the held-out EvalResult."""
    parts = default_splits(corpus)
    rows = []
    for order in orders:
        (lm, _), build_s = timed(partial(build, parts["train"], order, tokenizer, documents))
        result, score_s = timed(partial(score, lm, parts[split]))
        rows.append({"corpus": corpus, "split": split, "order": order, "tokenizer": tokenizer,
                     "documents": documents, "build_s": round(build_s, 2),
                     "score_s": round(score_s, 2), **result.to_dict()})
        print(json.dumps(rows[-1]), file=sys.stderr)
    return rows


def main() -> None:
    """Run both corpora and write the rows."""
    rows = run("ptb", "word", "lines", range(3, 6), "test")
    rows += run("shakespeare", "char", "stream", range(3, 10), "val")
    text = json.dumps(rows, indent=1) + "\n"
    if len(sys.argv) > 1:
        with open(sys.argv[1], "w", encoding="utf-8") as f:
            f.write(text)
    else:
        print(text)


if __name__ == "__main__":
    main()
