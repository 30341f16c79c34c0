"""`rnnlm compare`: recurrent runs and n-gram ARPA files scored on one text, on one scale
(bits per character of the original text), with what makes a number not comparable."""

from __future__ import annotations

import json as jsonlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from rnnlm.config import SPLITS, DataConfig
from rnnlm.data.corpora import load_corpus
from rnnlm.data.text import read_text
from rnnlm.errors import RnnlmError
from rnnlm.inference.dynamic import Dynamic, evaluate_dynamic
from rnnlm.inference.mixture import load_other
from rnnlm.inference.mixture import mix as mixture
from rnnlm.inference.scoring import EvalResult
from rnnlm.inference.splits import as_body, held_out, select
from rnnlm.language_model import LanguageModel
from rnnlm.ngram.lm import NgramLM
from rnnlm.options import Arg
from rnnlm.verbs import Device


@dataclass
class Row:
    """One model's line of the comparison."""
    model: str
    level: str
    parameters: int
    result: EvalResult
    seconds: float

    def to_dict(self) -> dict[str, object]:
        """The JSON of `rnnlm compare --json`: the row plus every `rnnlm eval` key."""
        return {"model": self.model, "level": self.level, "parameters": self.parameters,
                "eval_seconds": self.seconds, **self.result.to_dict()}


def compare(models: Annotated[list[str], Arg("run dirs or .arpa files",
                                             metavar="RUN_OR_ARPA")], *,
            text: Annotated[str | Path | None, Arg("the text file every model scores whole")
                            ] = None,
            corpus: Annotated[str | None, Arg(
                "or: a registered corpus or path, scored on --split")] = None,
            split: Annotated[str, Arg("part of --corpus to score", choices=SPLITS)] = "val",
            val_fraction: Annotated[float, Arg(
                "--corpus without official splits: the held-out fraction")] = 0.1,
            mix: Annotated[bool, Arg(
                "add the row RUN + MODEL: the first model (a run) interpolated per token with "
                "the second (an .arpa or run of its tokenizer and mode), λ tuned by EM on the "
                "run's validation split")] = False,
            dynamic: Annotated[bool, Arg(
                "add a row per run: its dynamic evaluation, with `rnnlm eval --dynamic`'s "
                "defaults for its tokenizer")] = False,
            device: Device = "auto") -> list[Row]:
    """Score one text with several models, on one scale.

    The text is a file, or one split of a corpus cut by position (official files, else by
    val_fraction), so every model scores exactly the same characters, each in its own mode
    (a documents model reads the text's documents). --mix and --dynamic add rows scored on
    the same text (inference/mixture.py, inference/dynamic.py).
    """
    if not models:
        raise RnnlmError("give at least one model: a run directory or an .arpa file")
    if (text is None) == (corpus is None):
        raise RnnlmError("give the text to score: --text FILE or --corpus NAME [--split S]")
    if corpus is not None:
        loaded = load_corpus(corpus)
        body = select(loaded, DataConfig(val_fraction=val_fraction, mode="stream"), split,
                      hint=f"choose another --split (--val-fraction is {val_fraction})")
        source = f"{loaded.name}:{split}"
    else:
        if not Path(text).is_file():
            raise RnnlmError(f"no such file: {text}; give the text to score with --text")
        body, source = read_text(Path(text)), Path(text).name
    if mix and (len(models) < 2 or models[0].endswith(".arpa")):
        raise RnnlmError("--mix interpolates the first model, a run, with the second; give "
                         "RUN MODEL.arpa (or RUN RUN2)")
    rows = []
    for model in models:
        rows.append(row(model, body, source, device))
        if dynamic and not model.endswith(".arpa"):
            rows.append(dynamic_row(model, body, source, device))
    if mix:
        rows.append(mix_row(models[0], models[1], body, source, device))
    return rows


def row(model: str, text: str, source: str, device: str) -> Row:
    """Load one model (once), score the text in its own mode, and describe it."""
    start = time.perf_counter()
    if model.endswith(".arpa"):
        ngram = NgramLM.load(model)
        result = ngram.score(as_body(text, ngram.data, source))
        level = f"{ngram.tokenizer.kind} {ngram.model.order}-gram KN ({ngram.data.mode})"
        size = sum(len(k) for k in ngram.model.keys)
    else:
        lm = LanguageModel.load(model, device=device)
        result = lm.score(as_body(text, lm.config.data, source))
        m = lm.config.model
        level = f"{lm.config.data.tokenizer} {m.layers}×{m.hidden} {m.cell} ({lm.config.data.mode})"
        size = lm.model.num_parameters()
    result.source = source
    return Row(model, level, size, result, time.perf_counter() - start)


def mix_row(run: str, other: str, text: str, source: str, device: str) -> Row:
    """The run mixed per token with the other model, λ tuned on the run's validation split."""
    lm = LanguageModel.load(run, device=device)
    partner = load_other(other, lm, device)
    result = mixture(lm, partner, (run, other), as_body(text, lm.config.data, source), source,
                     None, held_out(lm.config.data))
    size = lm.model.num_parameters() + (sum(len(k) for k in partner.model.keys)
                                        if isinstance(partner, NgramLM)
                                        else partner.model.num_parameters())
    return Row(f"{run} + {other} (λ={result.weight:.3f})", "per-token mixture", size,
               result.mixture, result.seconds)


def dynamic_row(run: str, text: str, source: str, device: str) -> Row:
    """The run's dynamic evaluation on the text, with the defaults for its tokenizer."""
    lm = LanguageModel.load(run, device=device)
    result = evaluate_dynamic(lm, as_body(text, lm.config.data, source), Dynamic())
    result.dynamic.source = source
    return Row(f"{run} (dynamic)", f"dynamic eval: {result.settings.describe()}",
               lm.model.num_parameters(), result.dynamic, result.seconds)


def show(rows: list[Row], *, json: Annotated[bool, Arg("print a JSON list of rows")] = False
         ) -> None:
    """The comparison as an aligned text table, or JSON."""
    if json:
        print(jsonlib.dumps([r.to_dict() for r in rows]))
        return
    head = ("model", "level", "parameters", "bits/char", "ppl/token", "OOV", "eval s")
    lines = [head]
    for r in rows:
        res = r.result
        oov = f"{res.oov_rate:.2%}" if res.oov_rate is not None else "-"
        bpc = f"{res.bits_per_char:.4f}" + ("" if res.comparable else "*")
        lines.append((r.model, r.level, f"{r.parameters:,}", bpc, f"{res.perplexity:.2f}", oov,
                      f"{r.seconds:.1f}"))
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    for line in lines:
        print("  ".join(v.ljust(w) if i < 2 else v.rjust(w)
                        for i, (v, w) in enumerate(zip(line, widths, strict=True))))
    if any(not r.result.comparable for r in rows):
        print("* not comparable: unknown words cost one <unk> token each")
