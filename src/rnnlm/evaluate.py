"""`rnnlm eval`: score a run on held-out text, its own validation split by default."""

from __future__ import annotations

from pathlib import Path

from rnnlm.data.corpora import load_corpus
from rnnlm.errors import RnnlmError
from rnnlm.language_model import LanguageModel
from rnnlm.scoring import EvalResult


def evaluate(run: str | Path, corpus: str | None = None, text: str | Path | None = None,
             split: str | None = None, per_token: str | Path | None = None,
             checkpoint: str = "best", device: str = "auto",
             precision: str | None = None) -> EvalResult:
    """Score a run on its own corpus split, a named corpus, or a text file (full pass)."""
    lm = LanguageModel.load(run, device=device, which=checkpoint, precision=precision)
    if corpus and text:
        raise RnnlmError("give either --corpus or --text, not both")
    data = lm.config.data
    source = [str(text)] if text else ([corpus] if corpus else data.corpus)
    loaded = load_corpus(source)
    if source == data.corpus and data.corpus_sha256 not in ("", loaded.sha256()):
        raise RnnlmError(f"the corpus {loaded.name!r} changed since the run was trained (its "
                         f"sha256 differs), so its splits are not the ones the run used; "
                         f"score a file with --text instead")
    split = split or ("all" if text else "val")
    if split == "all":
        body = "".join(loaded.splits(data.val_fraction, data.test_fraction).values())
    else:
        body = loaded.splits(data.val_fraction, data.test_fraction)[split]
        if not body:
            raise RnnlmError(f"{loaded.name} has no {split} split for this run (the run held "
                             f"out none); use --split val, or --text FILE")
    result = lm.score(body, per_token=per_token)
    result.source = f"{loaded.name}:{split}"
    return result
