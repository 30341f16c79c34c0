"""`rnnlm compare`: recurrent runs and n-gram ARPA files scored on one text, on one scale
(bits per character of the original text), with what makes a number not comparable."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from rnnlm.data.corpora import load_corpus
from rnnlm.errors import RnnlmError
from rnnlm.inference.scoring import EvalResult
from rnnlm.language_model import LanguageModel
from rnnlm.verbs.evaluate import evaluate


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


def _ngram_row(path: str, text: Path) -> Row:
    from rnnlm.ngram import lm as commands

    start = time.perf_counter()
    lm = commands.load(path)
    result = commands.score(lm, text.read_text(encoding="utf-8"))
    seconds = time.perf_counter() - start
    level = f"{lm.tokenizer.kind} {lm.model.order}-gram KN ({lm.documents})"
    return Row(path, level, sum(len(k) for k in lm.model.keys), result, seconds)


def _rnn_row(run: str, text: Path, device: str) -> Row:
    start = time.perf_counter()
    result = evaluate(run, text=text, device=device)
    seconds = time.perf_counter() - start
    lm = LanguageModel.load(run, device="cpu")
    c, m = lm.config, lm.config.model
    level = f"{c.data.tokenizer} {m.layers}×{m.hidden} {m.cell} ({c.data.mode})"
    return Row(run, level, lm.model.num_parameters(), result, seconds)


def compare(models: list[str], text: str | Path | None = None, corpus: str | None = None,
            split: str = "val", val_fraction: float = 0.1, device: str = "auto") -> list[Row]:
    """Score one text (whole) with each model: a run directory or an .arpa file. The text is a
    file, or one split of a corpus (official files, else cut by val_fraction), so every model
    scores exactly the same characters."""
    if not models:
        raise RnnlmError("give at least one model: a run directory or an .arpa file")
    if (text is None) == (corpus is None):
        raise RnnlmError("give the text to score: --text FILE or --corpus NAME [--split S]")
    if corpus is not None:
        body = load_corpus(corpus).splits(val_fraction)[split]
        if not body:
            raise RnnlmError(f"{corpus} has no {split} split at --val-fraction {val_fraction}; "
                             f"choose another --split")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"{Path(corpus).stem}.{split}.txt"
            path.write_text(body, encoding="utf-8")
            return _rows(models, path, device)
    text = Path(text)
    if not text.is_file():
        raise RnnlmError(f"no such file: {text}; give the text to score with --text")
    return _rows(models, text, device)


def _rows(models: list[str], text: Path, device: str) -> list[Row]:
    return [_ngram_row(m, text) if m.endswith(".arpa") else _rnn_row(m, text, device)
            for m in models]


def format_table(rows: list[Row]) -> str:
    """The comparison as an aligned text table."""
    head = ("model", "level", "parameters", "bits/char", "ppl/token", "OOV", "eval s")
    lines = [head]
    for r in rows:
        res = r.result
        oov = f"{res.oov_rate:.2%}" if res.oov_rate is not None else "-"
        bpc = f"{res.bits_per_char:.4f}" + ("" if res.comparable else "*")
        lines.append((r.model, r.level, f"{r.parameters:,}", bpc, f"{res.perplexity:.2f}", oov,
                      f"{r.seconds:.1f}"))
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    out = ["  ".join(v.ljust(w) if i < 2 else v.rjust(w)
                     for i, (v, w) in enumerate(zip(line, widths, strict=True)))
           for line in lines]
    if any(not r.result.comparable for r in rows):
        out.append("* not comparable: unknown words cost one <unk> token each")
    return "\n".join(out)
