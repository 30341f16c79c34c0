"""The one selector of held-out text: the part of a corpus that a model trains on, validates
on or is scored on, cut the same way by every verb.

Corpora with official split files (Penn Treebank) use them as they are. A single text is cut
by position in stream mode (the last --val-fraction, then --test-fraction, held out) and by
whole documents in documents mode (the last documents by count), so `rnnlm eval --split val`
scores exactly the text a run validated on, and an n-gram model is counted and scored on the
same splits as a recurrent run with the same data options.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from rnnlm.config import SPLITS, DataConfig
from rnnlm.data.corpora import Corpus, load_corpus
from rnnlm.data.documents import parse_documents, split_documents
from rnnlm.data.prepared import Prepared
from rnnlm.errors import RnnlmError
from rnnlm.options import check_format

Body = str | list[str]  # a text stream, or documents each scored from a zero state


def select(corpus: Corpus, data: DataConfig, split: str,
           hint: str = "choose another --split, or score a file with --text") -> Body:
    """One split of corpus ("all", "train", "val" or "test") as a run with `data` cuts it:
    text in stream mode, documents in documents mode; an empty split is a one-line error
    ending in `hint`."""
    if split not in SPLITS:
        raise RnnlmError(f"--split must be one of {', '.join(SPLITS)} (got {split!r})")
    body: Body
    if data.mode == "documents":
        fmt = data.documents or "lines"
        if split == "all":
            body = [d for t in corpus.texts.values() for d in parse_documents(t, fmt, corpus.name)]
        else:
            body = split_documents(corpus.texts, fmt, corpus.name, data.val_fraction,
                                   data.test_fraction)[split]
    else:
        parts = corpus.splits(data.val_fraction, data.test_fraction)
        body = "".join(parts.values()) if split == "all" else parts[split]
    if not body:
        raise RnnlmError(f"{corpus.name} has no {split} split here ({describe(corpus, data)}); "
                         f"{hint}")
    return body


def text_of(body: Body) -> str:
    """A body as one text: documents joined by newlines (what a tokenizer is fitted on)."""
    return body if isinstance(body, str) else "\n".join(body)


def as_body(text: str, data: DataConfig, source: str) -> Body:
    """A whole text as a model with `data` reads it: itself, or its documents."""
    if data.mode == "documents":
        return parse_documents(text, data.documents or "lines", source)
    return text


def describe(corpus: Corpus | Prepared, data: DataConfig) -> str:
    """How corpus is split, in a few words (printed when a model is trained on it)."""
    official = corpus.official_splits()
    if official:
        return "official " + "/".join(official) + " files"
    unit = "documents" if data.mode == "documents" else "text"
    held = f"last {data.val_fraction:.0%} of the {unit} for val (--val-fraction)"
    if data.test_fraction:
        held += f", then {data.test_fraction:.0%} for test (--test-fraction)"
    return f"first {1 - data.val_fraction - data.test_fraction:.0%} for train, {held}"


def held_out(data: DataConfig, text: str | None = None, corpus: str | None = None,
             split: str | None = None) -> tuple[Body, str]:
    """What a model with `data` is scored on, and its name: a text file (whole, or the split
    given), a named corpus's split (val by default), or else its own corpus's val split."""
    if corpus and text:
        raise RnnlmError("give either --corpus or --text, not both")
    source = [str(text)] if text else ([corpus] if corpus else data.corpus)
    if not source:
        raise RnnlmError("give the text to score: --text FILE or --corpus NAME")
    loaded = load_corpus(source)
    if source == data.corpus:
        check_unchanged(loaded, data)
    split = split or ("all" if text else "val")
    body = select(loaded, data, split)
    count = f" ({len(body):,} documents)" if isinstance(body, list) else ""
    return body, f"{loaded.name}:{split}{count}"


def reading(data: DataConfig, documents: str | None, name: str | Path) -> DataConfig:
    """data with another document format to read held-out text in (eval's --documents); a
    stream model has no document boundaries to read documents with."""
    if not documents:
        return data
    if data.mode != "documents":
        raise RnnlmError(f"{name} was trained in stream mode and has no document boundary "
                         f"tokens; score it without --documents")
    return dataclasses.replace(data, documents=check_format(documents))


def check_unchanged(corpus: Corpus, data: DataConfig) -> None:
    """Refuse a corpus whose text changed since a run recorded its sha256: its splits would
    not be the run's."""
    if data.corpus_sha256 not in ("", corpus.sha256()):
        raise RnnlmError(f"the corpus {corpus.name!r} changed since the run was trained (its "
                         f"sha256 differs), so its splits are not the ones the run used; "
                         f"score a file with --text, or start a new run")
