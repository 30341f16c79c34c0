"""`rnnlm eval`: score a run on held-out text, its own validation split by default."""

from __future__ import annotations

from pathlib import Path

from rnnlm.data.corpora import load_corpus
from rnnlm.data.documents import check_format, split_documents
from rnnlm.errors import RnnlmError
from rnnlm.language_model import LanguageModel
from rnnlm.scoring import EvalResult


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
    if lm.boundaries:
        docs = split_documents(loaded.texts, fmt, loaded.name, data.val_fraction,
                               data.test_fraction)
        body_docs = [d for part in docs.values() for d in part] if split == "all" \
            else docs[split]
        if not body_docs:
            raise RnnlmError(f"{loaded.name} has no {split} documents for this run; use "
                             f"--split val, or --text FILE")
        result = lm.score_documents(body_docs, per_token=per_token)
        result.source = f"{loaded.name}:{split} ({len(body_docs):,} documents)"
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
