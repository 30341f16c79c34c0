"""Prepared corpora: a corpus's train/val/test token ids written once to compact files
(uint8/16/32 by vocabulary size, plus document offsets in documents mode), mapped from disk
by every later run, so training memory does not grow with the corpus.

A prepared corpus lives in $RNNLM_HOME/prepared/NAME-KEY/, where KEY hashes the corpus's
paths (or registered name) and every data option that changes the ids: mode, document
format, split fractions, tokenizer options, and the tokenizer itself when one is given (a
resumed or fine-tuned run). It is reused while the corpus's text is unchanged (checked by
size and modification time, then by sha256 when those moved) and built again, with a
message, when it changed. It is built as KEY.partial/ and meta.json is written last, so a
crash never leaves a half-written one under its final name. Building reads the text in
pieces (data.reading) in three passes: fingerprint and count, fit the tokenizer on the
training split, encode.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import itertools
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from rnnlm.config import ID_OPTIONS, DataConfig
from rnnlm.data.corpora import Corpus, CorpusFiles, open_corpus, rnnlm_home
from rnnlm.data.documents import Boundaries, split_points
from rnnlm.data.reading import between, documents, parts, recut, safe_cut, sha256_and_length
from rnnlm.data.text import split_bounds
from rnnlm.data.tokens import DocumentIds, TokenFile, id_dtype
from rnnlm.errors import RnnlmError
from rnnlm.fileio import fsync_dir, replace_dir, write_text_atomic
from rnnlm.runtime import memory_guard
from rnnlm.tokenizers import Tokenizer, fit_tokenizer, load_tokenizer, save_tokenizer

FORMAT = 1  # bump when the files' layout changes
SPLIT_NAMES = ("train", "val", "test")
# Pieces encoded per encode_batch call: enough for every core, few enough that the library's
# per-token objects (ids, offsets, strings) stay small.
BATCH = 4 * (os.cpu_count() or 1)


@dataclass
class PreparedSplit:
    """One split's ids, and the text sizes its scores are divided by."""

    tokens: TokenFile
    offsets: TokenFile | None  # documents mode: (D+1,) where each document's ids start
    characters: int  # scored characters: stream, after the first token; documents, + 1 per EOD
    bytes: int  # the same in UTF-8 bytes
    unknown: int  # scored ids that are <unk>

    def documents(self, b: Boundaries) -> DocumentIds:
        """The split's documents, each read as BOD t1 .. tn EOD."""
        assert self.offsets is not None, "a stream split has no documents"
        return DocumentIds(self.tokens, self.offsets, b.bod, b.eod)

    def __len__(self) -> int:
        """Documents (documents mode) or ids (stream mode) in the split."""
        return len(self.tokens) if self.offsets is None else len(self.offsets) - 1


@dataclass
class Prepared:
    """A prepared corpus: where it is, its tokenizer, its splits, the text's fingerprint."""

    path: Path
    name: str
    tokenizer: Tokenizer
    sha256: str
    official: bool  # the corpus came with its own train/val/test files
    splits: dict[str, PreparedSplit]
    seconds: float  # how long preparing it took
    built: bool = False  # prepared by this call (else reused)

    def official_splits(self) -> list[str]:
        """The splits its own files gave (none for one text, split by fraction)."""
        return [s for s, split in self.splits.items() if len(split)] if self.official else []


def tokenizer_sha256(tokenizer: Tokenizer) -> str:
    """A fingerprint of a tokenizer's whole vocabulary, as tokenizer.json reads back (the
    HuggingFace JSON of a freshly trained model differs from its reloaded form)."""
    canonical = type(tokenizer).from_json(tokenizer.to_json()).to_json()
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


def prepare_corpus(data: DataConfig, tokenizer: Tokenizer | None = None,
                   expect_sha256: str = "") -> Prepared:
    """The prepared ids of the corpus `data` names, cut and tokenized as `data` says, with
    `tokenizer` (else one fitted on the training split); reused when already prepared.
    expect_sha256: refuse a corpus whose text is not that one (a resumed run's)."""
    corpus = open_corpus(data.corpus)
    given = tokenizer_sha256(tokenizer) if tokenizer else ""
    keys = [_key(corpus, data, "")] + ([_key(corpus, data, given)] if tokenizer else [])
    root = rnnlm_home() / "prepared"
    for key in keys:
        path = root / f"{corpus.name}-{key}"
        with _locked(path):
            sha = _current(path, corpus, given)
            if sha:
                _check_expected(sha, expect_sha256, corpus)
                return open_prepared(path)
    with _locked(path):  # the last key: built with the given tokenizer, if any
        build(path, corpus, data, tokenizer, expect_sha256)
        return dataclasses.replace(open_prepared(path), built=True)


def open_prepared(path: Path) -> Prepared:
    """A prepared corpus directory, checked: every file whole, the ids from its tokenizer."""
    meta = _read_meta(path)
    tokenizer = load_tokenizer(path / "tokenizer.json")
    if tokenizer_sha256(tokenizer) != meta["tokenizer_sha256"]:
        raise RnnlmError(f"prepared corpus {path} holds the ids of another tokenizer (its "
                         f"tokenizer.json is not the one they were encoded with); delete "
                         f"{path} and prepare it again")
    dtype = np.dtype(meta["dtype"])
    splits = {}
    for name, s in meta["splits"].items():
        tokens = TokenFile(path / f"{name}.bin", dtype, s["tokens"])
        offsets = None
        if s["documents"] is not None:
            offsets = TokenFile(path / f"{name}.idx", np.dtype(np.int64), s["documents"] + 1)
            if offsets.read(s["documents"], s["documents"] + 1)[0] != s["tokens"]:
                raise RnnlmError(f"prepared file {offsets.path} does not match "
                                 f"{name}.bin; delete {path} and prepare it again")
        splits[name] = PreparedSplit(tokens, offsets, s["characters"], s["bytes"],
                                     s["unknown"])
    return Prepared(path, meta["name"], tokenizer, meta["sha256"], meta["official"], splits,
                    meta["seconds"])


def build(path: Path, corpus: Corpus | CorpusFiles, data: DataConfig,
          tokenizer: Tokenizer | None, expect_sha256: str = "") -> None:
    """Prepare the corpus into `path` (module docstring)."""
    start = time.perf_counter()
    texts = parts(corpus)
    h = hashlib.sha256()
    sizes = {name: sha256_and_length(blocks(), h) for name, blocks in texts.items()}
    if not sum(sizes.values()):
        raise RnnlmError(f"corpus {corpus.name} is empty (0 characters); give text")
    sha = h.hexdigest()
    _check_expected(sha, expect_sha256, corpus)
    print(f"preparing {corpus.name} ({sum(sizes.values()):,} characters) in {path}")
    if data.mode == "documents":
        splits = _document_splits(texts, data, corpus.name)
        train_text: Callable[[], Iterator[str]] = lambda: _joined(splits["train"]())  # noqa: E731
    else:
        splits = _stream_splits(texts, sizes, data)
        train_text = splits["train"]
    memory_guard().check()  # the bound: memory as reading starts
    tokenizer = tokenizer or fit_tokenizer(data, train_text())
    memory_guard().check()
    dtype = id_dtype(tokenizer.vocab_size)
    partial = path.with_name(path.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    stats = {}
    with tqdm(total=sum(sizes.values()), unit="char", unit_scale=True, desc="prepare",
              leave=False, disable=None) as bar:
        for name, read in splits.items():
            write = _write_documents if data.mode == "documents" else _write_stream
            stats[name] = write(read(), tokenizer, dtype, partial / name, bar)
    save_tokenizer(tokenizer, partial / "tokenizer.json")
    meta = {"format": FORMAT, "name": corpus.name, "origin": corpus.origin, "sha256": sha,
            "sources": _fingerprint(corpus), "official": "all" not in texts,
            "settings": {k: getattr(data, k) for k in ID_OPTIONS},
            "tokenizer_sha256": tokenizer_sha256(tokenizer), "dtype": dtype.name,
            "splits": stats, "seconds": round(time.perf_counter() - start, 3)}
    write_text_atomic(partial / "meta.json", json.dumps(meta, indent=1) + "\n")
    fsync_dir(partial)
    replace_dir(partial, path)


def _stream_splits(texts: dict[str, Callable[[], Iterator[str]]], sizes: dict[str, int],
                   data: DataConfig) -> dict[str, Callable[[], Iterator[str]]]:
    """Each split's text as re-readable blocks: by position, or the official files."""
    if "all" not in texts:
        return {s: texts.get(s, lambda: iter(())) for s in SPLIT_NAMES}
    a, b = split_bounds(sizes["all"], data.val_fraction, data.test_fraction)
    bounds = {"train": (0, a), "val": (a, b), "test": (b, sizes["all"])}
    return {s: (lambda lo=lo, hi=hi: between(texts["all"](), lo, hi))
            for s, (lo, hi) in bounds.items()}


def _document_splits(texts: dict[str, Callable[[], Iterator[str]]], data: DataConfig,
                     name: str) -> dict[str, Callable[[], Iterator[list[str]]]]:
    """Each split's documents, a list at a time: the last documents held out by count, or
    the official files."""
    fmt = data.documents or "lines"
    if "all" not in texts:
        return {s: (lambda s=s: documents(texts[s](), fmt, f"{name}:{s}")) if s in texts
                else (lambda: iter(())) for s in SPLIT_NAMES}
    n = sum(len(docs) for docs in documents(texts["all"](), fmt, name))
    if not n:
        raise RnnlmError(f"{name} has no non-empty documents (format {fmt}); check the file "
                         f"and the --documents format")
    a, b = split_points(n, data.val_fraction, data.test_fraction, name)

    def take(lo: int, hi: int) -> Iterator[list[str]]:
        flat = itertools.chain.from_iterable(documents(texts["all"](), fmt, name))
        rest = itertools.islice(flat, lo, hi)
        while batch := list(itertools.islice(rest, 4096)):
            yield batch
    return {"train": lambda: take(0, a), "val": lambda: take(a, b), "test": lambda: take(b, n)}


def _joined(doc_lists: Iterator[list[str]]) -> Iterator[str]:
    """Documents as the text a tokenizer is fitted on: joined by newlines."""
    for i, docs in enumerate(doc_lists):
        yield ("\n" if i else "") + "\n".join(docs)


def _write_stream(blocks: Iterator[str], tok: Tokenizer, dtype: np.dtype, stem: Path,
                  bar: tqdm) -> dict[str, Any]:
    """Encode a split's text in pieces into STEM.bin; its sizes for meta.json."""
    tokens = characters = nbytes = unknown = context = 0
    context_bytes = 0
    pieces = recut(blocks, safe_cut)
    with open(stem.with_suffix(".bin"), "wb") as f:
        while group := list(itertools.islice(pieces, BATCH)):
            for piece, ids in zip(group, tok.encode_batch(group), strict=True):
                if not tokens and len(ids):  # the first token is context only, not scored
                    context = tok.context_chars(piece, ids)
                    context_bytes = len(piece[:context].encode("utf-8"))
                    unknown -= int(ids[0] == tok.unk_id)
                ids.astype(dtype).tofile(f)
                tokens += len(ids)
                characters += len(piece)
                nbytes += len(piece.encode("utf-8"))
                unknown += int((ids == tok.unk_id).sum()) if tok.unk_id is not None else 0
                bar.update(len(piece))
            memory_guard().check()  # pieces of every size leave freed blocks behind
    return {"tokens": tokens, "documents": None, "characters": characters - context,
            "bytes": nbytes - context_bytes, "unknown": unknown}


def _write_documents(doc_lists: Iterator[list[str]], tok: Tokenizer, dtype: np.dtype,
                     stem: Path, bar: tqdm) -> dict[str, Any]:
    """Encode a split's documents into STEM.bin and their offsets into STEM.idx."""
    lengths, characters, nbytes, unknown = [], 0, 0, 0
    with open(stem.with_suffix(".bin"), "wb") as f:
        for docs in doc_lists:
            for start in range(0, len(docs), BATCH * 16):
                group = docs[start: start + BATCH * 16]
                for doc, ids in zip(group, tok.encode_batch(group), strict=True):
                    ids.astype(dtype).tofile(f)
                    lengths.append(len(ids))
                    unknown += int((ids == tok.unk_id).sum()) if tok.unk_id is not None else 0
                    characters += len(doc) + 1  # the EOD stands for the newline
                    nbytes += len(doc.encode("utf-8")) + 1
                    bar.update(len(doc) + 1)
                memory_guard().check()  # documents of every size leave freed blocks behind
    offsets = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]).astype(np.int64)
    offsets.tofile(stem.with_suffix(".idx"))
    return {"tokens": int(offsets[-1]), "documents": len(lengths), "characters": characters,
            "bytes": nbytes, "unknown": unknown}


def _key(corpus: Corpus | CorpusFiles, data: DataConfig, tokenizer_sha: str) -> str:
    """What a prepared corpus is keyed by (module docstring), hashed."""
    where = [str(p.resolve()) for p in corpus.files] if isinstance(corpus, CorpusFiles) \
        else [corpus.name]
    key = {"format": FORMAT, "corpus": where, "tokenizer_sha256": tokenizer_sha,
           **{k: getattr(data, k) for k in ID_OPTIONS}}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def _fingerprint(corpus: Corpus | CorpusFiles) -> list[list[Any]] | None:
    """Size and modification time of each file (None: a corpus held in memory)."""
    if isinstance(corpus, Corpus):
        return None
    return [[str(p), p.stat().st_size, p.stat().st_mtime_ns] for p in corpus.files]


def _current(path: Path, corpus: Corpus | CorpusFiles, tokenizer_sha: str) -> str:
    """The corpus's sha256 when `path` holds it prepared from today's text (with the given
    tokenizer, if any), else ''; a corpus that changed is announced."""
    if not (path / "meta.json").is_file():
        return ""
    meta = _read_meta(path)
    if tokenizer_sha and meta["tokenizer_sha256"] != tokenizer_sha:
        return ""
    stats = _fingerprint(corpus)
    if stats is not None and stats == meta["sources"]:
        return meta["sha256"]
    h = hashlib.sha256()
    for blocks in parts(corpus).values():
        sha256_and_length(blocks(), h)
    if h.hexdigest() != meta["sha256"]:
        print(f"the corpus {corpus.name} changed since it was prepared in {path} (its sha256 "
              f"differs); preparing it again")
        return ""
    if stats is not None:  # the same text under new times: remember them
        meta["sources"] = stats
        write_text_atomic(path / "meta.json", json.dumps(meta, indent=1) + "\n")
    return meta["sha256"]


def _read_meta(path: Path) -> dict[str, Any]:
    """meta.json of a prepared corpus, or a one-line error."""
    try:
        meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise RnnlmError(f"prepared corpus {path} is damaged (meta.json: {e}); delete it and "
                         f"prepare it again") from None
    if meta.get("format") != FORMAT:
        raise RnnlmError(f"prepared corpus {path} has format {meta.get('format')}, this rnnlm "
                         f"reads {FORMAT}; delete it and prepare it again")
    return meta


def _check_expected(sha: str, expected: str, corpus: Corpus | CorpusFiles) -> None:
    """Refuse a corpus whose text is not the one a run was trained on."""
    if expected and sha != expected:
        raise RnnlmError(f"the corpus {corpus.name!r} changed since the run was trained (its "
                         f"sha256 differs), so its splits are not the ones the run used; "
                         f"start a new run")


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold PATH.lock, so processes preparing the same corpus (ranks, parallel runs) take
    turns: the first builds, the others reuse."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
