"""`rnnlm bench`: speed against the machine's limit, or quality against wall-clock budgets."""

from __future__ import annotations

from typing import Annotated

from rnnlm.bench.budget import FAMILIES, PAIRS_FAMILIES, budget_table, default_families
from rnnlm.bench.suite import bench as run
from rnnlm.options import Arg, parse_duration
from rnnlm.verbs import Device


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
              f"{','.join(FAMILIES)}, on a pairs corpus {','.join(PAIRS_FAMILIES)})")] = None,
          out: Annotated[str, Arg("--budget: runs and results folder")] = "runs/budget") -> object:
    """Measure speed against the machine's limit, or quality by wall-clock budget."""
    if budget:

        return budget_table([parse_duration(b) for b in budget.split(",")], corpus,
                            families.split(",") if families else default_families(corpus), out,
                            device=device)

    return run(corpus, device=device, quick=quick, json_path=json)
