"""Prepared corpora: the ids of the in-memory path, reused, rebuilt when the text changes,
refused when damaged, and read without the resident set growing with the file."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from rnnlm.cli import main
from rnnlm.config import DataConfig, RunConfig
from rnnlm.data.corpora import load_corpus
from rnnlm.data.documents import Boundaries, encode_documents
from rnnlm.data.prepared import prepare_corpus
from rnnlm.data.tokens import READ_BACK, TokenFile
from rnnlm.errors import RnnlmError
from rnnlm.inference.splits import select
from rnnlm.tokenizers import CharTokenizer, fit_tokenizer


def data_for(corpus: Path, **options: object) -> DataConfig:
    """The resolved data options of a run on corpus."""
    return RunConfig(data=DataConfig(corpus=[str(corpus)], **options)).resolve().data


@pytest.mark.parametrize("options", [{"tokenizer": "char"},
                                     {"tokenizer": "bpe", "vocab_size": 300},
                                     {"documents": "lines", "tokenizer": "bpe", "vocab_size": 300}])
def test_prepared_ids_are_the_ids_of_the_whole_text(options: dict, abstracts_file: Path) -> None:
    d = data_for(abstracts_file, **options)
    prepared = prepare_corpus(d)
    corpus = load_corpus(d.corpus)
    train, val = (select(corpus, d, s) for s in ("train", "val"))
    tok = fit_tokenizer(d, train if isinstance(train, str) else "\n".join(train))
    assert prepared.tokenizer.to_json() == tok.to_json()
    for name, body in (("train", train), ("val", val)):
        split = prepared.splits[name]
        if isinstance(body, str):
            assert np.array_equal(split.tokens.read(0, len(split.tokens)), tok.encode(body))
        else:
            seqs = encode_documents(tok, body, Boundaries.after(tok))
            docs = split.documents(Boundaries.after(tok))
            assert len(docs) == len(seqs)
            assert all(np.array_equal(docs.read(i), s) for i, s in enumerate(seqs))


def test_reused_then_rebuilt_when_the_corpus_changes(tmp_path: Path, shakespeare: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    corpus = tmp_path / "text.txt"
    corpus.write_text(shakespeare[:50_000])
    first = prepare_corpus(data_for(corpus))
    assert first.built and "preparing text" in capsys.readouterr().out
    os.utime(corpus, ns=(1, 1))  # the same text under another time: reused
    again = prepare_corpus(data_for(corpus))
    assert not again.built and again.path == first.path
    corpus.write_text(shakespeare[:50_000].replace("the", "thy"))
    rebuilt = prepare_corpus(data_for(corpus))
    assert "changed since it was prepared" in capsys.readouterr().out
    assert rebuilt.built and rebuilt.sha256 != first.sha256
    assert rebuilt.sha256 == load_corpus([str(corpus)]).sha256()
    other = prepare_corpus(data_for(corpus, val_fraction=0.2))  # other options: other files
    assert other.path != rebuilt.path


def test_damaged_files_are_one_line_errors(tmp_path: Path, shakespeare: str) -> None:
    corpus = tmp_path / "text.txt"
    corpus.write_text(shakespeare[:50_000])
    path = prepare_corpus(data_for(corpus)).path
    shutil.copy(path / "tokenizer.json", tmp_path / "tokenizer.json")
    (path / "tokenizer.json").write_text('{"type": "char", "specials": ["<unk>"], '
                                         '"symbols": ["a", "b"]}')
    with pytest.raises(RnnlmError, match="holds the ids of another tokenizer.*prepare it again"):
        prepare_corpus(data_for(corpus))
    shutil.copy(tmp_path / "tokenizer.json", path / "tokenizer.json")
    with open(path / "train.bin", "r+b") as f:
        f.truncate(1000)
    with pytest.raises(RnnlmError, match="train.bin is truncated or damaged.*1,000 bytes"):
        prepare_corpus(data_for(corpus))


def test_a_resumed_run_refuses_a_changed_corpus(tmp_path: Path, shakespeare: str) -> None:
    corpus = tmp_path / "text.txt"
    corpus.write_text(shakespeare[:50_000])
    first = prepare_corpus(data_for(corpus))
    corpus.write_text(shakespeare[:40_000])
    with pytest.raises(RnnlmError, match="changed since the run was trained"):
        prepare_corpus(data_for(corpus), first.tokenizer, expect_sha256=first.sha256)


def test_the_given_tokenizer_is_used_and_keyed(tmp_path: Path, shakespeare: str) -> None:
    corpus = tmp_path / "text.txt"
    corpus.write_text(shakespeare[:50_000])
    fitted = prepare_corpus(data_for(corpus))
    assert prepare_corpus(data_for(corpus), fitted.tokenizer).path == fitted.path  # reused
    wider = CharTokenizer([*sorted(set(shakespeare)), "é"])
    other = prepare_corpus(data_for(corpus), wider)
    assert other.path != fitted.path and other.tokenizer.to_json() == wider.to_json()


def resident_file_pages() -> int:
    """This process's resident file-backed memory (bytes)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssFile:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no RssFile in /proc/self/status")


def test_reading_a_mapped_file_keeps_its_pages_bounded(tmp_path: Path) -> None:
    path = tmp_path / "ids.bin"
    size = 4 * READ_BACK
    np.arange(size, dtype=np.uint8).tofile(path)  # real pages, in the page cache
    tokens = TokenFile(path, np.dtype(np.uint8), size)
    before = resident_file_pages()
    step = 1 << 20
    assert all(tokens.read(i, i + 8)[0] == i % 256 for i in range(0, size, step))
    total = sum(int(tokens.read(i, i + step).sum() > 0) for i in range(0, size, step))
    assert total == size // step
    assert resident_file_pages() - before < 1.5 * READ_BACK  # not the whole file (4 × READ_BACK)


def test_corpus_prepare_verb(abstracts_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["corpus", "prepare", str(abstracts_file), "--documents", "lines"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "documents" in out and "MB/s" in out
    assert main(args) == 0
    assert "already prepared (reused)" in capsys.readouterr().out
