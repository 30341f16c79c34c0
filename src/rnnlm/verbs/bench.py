"""`rnnlm bench`: speed against the machine's limit, or quality against wall-clock budgets."""

from __future__ import annotations

from typing import Annotated, Any

from rnnlm.bench.budget import FAMILIES, PAIRS_FAMILIES, budget_table, default_families
from rnnlm.bench.suite import bench as run
from rnnlm.config import DataConfig
from rnnlm.options import Arg, Fields, parse_duration
from rnnlm.verbs import Device

# --budget: the data options given for every family (the text, its tokens and its split)
BUDGET_DATA = ("tokenizer", "vocab_size", "word_split", "mode", "documents", "chunk",
               "val_fraction", "test_fraction")


def bench(*, json: Annotated[str | None, Arg("also write the results as JSON", metavar="FILE")
                             ] = None,
          quick: Annotated[bool, Arg("one small shape, seconds in all")] = False,
          corpus: Annotated[str, Arg("text for training and vocabulary")] = "shakespeare",
          device: Device = "auto",
          budget: Annotated[str | None, Arg(
              "instead: train every family for each wall-clock budget (e.g. 2m,5m,10m) and "
              "tabulate val bits/char, or BLEU on a pairs corpus (markdown, JSON, PNG)",
              metavar="TIMES")] = None,
          families: Annotated[str | None, Arg(
              f"--budget: model families to train (default: all; language models "
              f"{','.join(FAMILIES)},ngram (the best order); on a pairs corpus "
              f"{','.join(PAIRS_FAMILIES)})")] = None,
          out: Annotated[str, Arg("--budget: runs and results folder")] = "runs/budget",
          data: Annotated[dict[str, Any] | None, Fields(DataConfig, BUDGET_DATA)] = None
          ) -> object:
    """Measure speed against the machine's limit, or quality by wall-clock budget."""
    if budget:

        return budget_table([parse_duration(b) for b in budget.split(",")], corpus,
                            families.split(",") if families else default_families(corpus), out,
                            device=device, data=data)

    return run(corpus, device=device, quick=quick, json_path=json)
