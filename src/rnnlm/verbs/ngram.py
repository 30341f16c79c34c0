"""n-gram (Kneser–Ney) baselines in ARPA files: train, eval, sample.

They take the same data options as `rnnlm train`, with the same meanings: the tokenizer
(--tokenizer, --vocab-size, --word-split, --syllables), stream or documents mode
(--documents FORMAT), and the held-out fractions, so an n-gram model counts exactly the
train split that a recurrent run with those options trains on.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any

from rnnlm.config import ID_OPTIONS, DataConfig
from rnnlm.data.registry import corpus_documents
from rnnlm.inference.scoring import EvalResult
from rnnlm.inference.splits import held_out, reading
from rnnlm.ngram.lm import NgramLM, TrainReport
from rnnlm.ngram.lm import train as build
from rnnlm.options import Arg, Fields
from rnnlm.verbs import CorpusName, Documents, NgramModel, Prime, Seed, Split, TextFile


def train(corpus: Annotated[list[str], Arg("a registered corpus name, or text files/folders")],
          *, out: Annotated[str | Path, Arg(
              "the ARPA file; its tokenizer and config go beside it (MODEL.arpa.tokenizer.json, "
              "MODEL.arpa.config.json)", metavar="MODEL.arpa")],
          order: Annotated[int, Arg("n of the n-grams")] = 5,
          data: Annotated[dict[str, Any] | None, Fields(DataConfig, ID_OPTIONS)] = None,
          ) -> TrainReport:
    """Count a corpus's train split and write an ARPA file."""
    data = dict(data or {})
    implied = corpus_documents(corpus)  # arxiv: one abstract per line
    if implied and not ({"mode", "documents"} & data.keys()):
        data["documents"] = implied
    return build(corpus, order, out, DataConfig(**data))


def show_report(report: TrainReport) -> None:
    """What was built: the files, the split counted, n-grams and discounts per order."""
    print(f"wrote {report.path} and its tokenizer and config files ({report.seconds:.1f} s); "
          f"counted {report.split}")
    for n, (count, d) in enumerate(zip(report.ngrams, report.discounts, strict=True), 1):
        print(f"{n}-grams {count:>10,}   D1 {d.d1:.3f}  D2 {d.d2:.3f}  D3+ {d.d3:.3f}"
              f"  ({d.source})")


def evaluate(model: NgramModel, *, text: TextFile = None, corpus: CorpusName = None,
             split: Split = None, documents: Documents = None,
             val_fraction: Annotated[float | None, Arg(
                 "the held-out fraction of a corpus without official splits (default: the "
                 "model's own)")] = None) -> EvalResult:
    """Score held-out text (the same output as rnnlm eval)."""
    lm = NgramLM.load(model)
    data = reading(lm.data, documents, model)
    if val_fraction is not None:
        data = dataclasses.replace(data, val_fraction=val_fraction)
    body, source = held_out(data, text, corpus, split)
    result = lm.score(body)
    result.source = source
    return result


def sample(model: NgramModel, *, prime: Prime = "",
           length: Annotated[int, Arg("tokens to generate")] = 500,
           temperature: Annotated[float, Arg("p ** (1 / temperature)")] = 1.0,
           seed: Seed = None) -> str:
    """Generate text from an n-gram model: the prime, then `length` sampled tokens."""
    return NgramLM.load(model).sample(prime, length, temperature, seed)


def show_text(text: str) -> None:
    """The generated text."""
    print(text)
