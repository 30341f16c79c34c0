"""`rnnlm eval`: score a run on held-out text, its own validation split by default."""

from __future__ import annotations

import json as jsonlib
from pathlib import Path
from typing import Annotated

from rnnlm.config import PRECISIONS, Arg
from rnnlm.inference.scoring import EvalResult
from rnnlm.inference.splits import held_out, reading
from rnnlm.language_model import LanguageModel
from rnnlm.verbs import Checkpoint, CorpusName, Device, Documents, Run, Split, TextFile


def evaluate(run: Run, *, corpus: CorpusName = None, text: TextFile = None, split: Split = None,
             documents: Documents = None,
             per_token: Annotated[str | Path | None, Arg(
                 "write every token's log-probability", metavar="OUT.tsv")] = None,
             checkpoint: Checkpoint = "best", device: Device = "auto",
             precision: Annotated[str | None, Arg(
                 "default: the run's training precision", choices=PRECISIONS)] = None,
             ) -> EvalResult:
    """Score held-out text (full pass): the run's own validation split by default.

    The split is cut as the run cut it (inference/splits.py), so `--split val` is exactly the
    text it validated on; a documents-mode run scores each document from a zero state.
    """
    lm = LanguageModel.load(run, device=device, which=checkpoint, precision=precision)
    body, source = held_out(reading(lm.config.data, documents, run), text, corpus, split)
    result = lm.score(body, per_token=per_token)
    result.source = source
    return result


def show(result: EvalResult, *, json: Annotated[bool, Arg("print one JSON object")] = False
         ) -> None:
    """The scores of `rnnlm eval` and `rnnlm ngram eval`: a table, or one JSON object."""
    if json:
        print(jsonlib.dumps(result.to_dict()))
        return
    rows = [("text", result.source), ("tokens scored", f"{result.tokens:,}"),
            ("characters", f"{result.characters:,}"), ("bytes (UTF-8)", f"{result.bytes:,}"),
            ("bits per character", f"{result.bits_per_char:.4f}"),
            ("bits per byte", f"{result.bits_per_byte:.4f}"),
            ("nats per token", f"{result.nats_per_token:.4f}"),
            ("perplexity (per token)", f"{result.perplexity:.3f}"),
            ("unknown tokens", f"{result.unknown_tokens:,}")]
    if result.oov_rate is not None:
        rows.append(("OOV rate (words)", f"{result.oov_rate:.2%}"))
    if not result.comparable:
        rows.append(("comparable", "no: unknown words cost one <unk>, so bits per "
                                   "character are not comparable across tokenizers"))
    for name, value in rows:
        print(f"{name:<24}{value}")
