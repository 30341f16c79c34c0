"""`rnnlm eval`: score a run on held-out text, its own validation split by default."""

from __future__ import annotations

from pathlib import Path

from rnnlm.data.corpora import load_corpus
from rnnlm.data.documents import check_format, parse_documents, split_documents
from rnnlm.errors import RnnlmError
from rnnlm.inference.scoring import EvalResult
from rnnlm.language_model import LanguageModel


def evaluate(run: str | Path, corpus: str | None = None, text: str | Path | None = None,
             split: str | None = None, per_token: str | Path | None = None,
             checkpoint: str = "best", device: str = "auto", precision: str | None = None,
             documents: str | None = None) -> EvalResult:
    """Score a run on its own corpus split, a named corpus, or a text file (full pass).
    A documents-mode run scores each document from a zero state (format: `documents`, else
    the run's own)."""
    lm = LanguageModel.load(run, device=device, which=checkpoint, precision=precision)
    if corpus and text:
        raise RnnlmError("give either --corpus or --text, not both")
    data = lm.config.data
    if documents and lm.boundaries is None:
        raise RnnlmError(f"{run} was trained in stream mode and has no document boundary "
                         f"tokens; score it without --documents")
    fmt = check_format(documents) if documents else data.documents
    source = [str(text)] if text else ([corpus] if corpus else data.corpus)
    loaded = load_corpus(source)
    if source == data.corpus and data.corpus_sha256 not in ("", loaded.sha256()):
        raise RnnlmError(f"the corpus {loaded.name!r} changed since the run was trained (its "
                         f"sha256 differs), so its splits are not the ones the run used; "
                         f"score a file with --text instead")
    split = split or ("all" if text else "val")
    body: list[str] | str
    if lm.boundaries and split == "all":
        body = [d for t in loaded.texts.values() for d in parse_documents(t, fmt, loaded.name)]
    elif lm.boundaries:
        body = split_documents(loaded.texts, fmt, loaded.name, data.val_fraction,
                               data.test_fraction)[split]
    else:
        parts = loaded.splits(data.val_fraction, data.test_fraction)
        body = "".join(parts.values()) if split == "all" else parts[split]
    if not body:
        raise RnnlmError(f"{loaded.name} has no {split} split for this run (the run held "
                         f"out none); use --split val, or --text FILE")
    if isinstance(body, list):
        result = lm.score_documents(body, per_token=per_token)
        result.source = f"{loaded.name}:{split} ({len(body):,} documents)"
    else:
        result = lm.score(body, per_token=per_token)
        result.source = f"{loaded.name}:{split}"
    return result
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
