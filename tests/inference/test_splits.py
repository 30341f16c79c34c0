"""The held-out selector: every verb cuts a corpus the same way, and says how."""

from __future__ import annotations

from pathlib import Path

import pytest

from rnnlm.config import DataConfig, RunConfig
from rnnlm.data.corpora import Corpus, load_corpus
from rnnlm.errors import RnnlmError
from rnnlm.inference.splits import as_body, describe, held_out, reading, select


def data(**fields: object) -> DataConfig:
    """Data options resolved as a run resolves them."""
    return RunConfig(data=DataConfig(**fields)).resolve().data


def test_stream_splits_by_position_and_says_so() -> None:
    corpus = Corpus("t", {"all": "abcdefghij" * 10}, "test")
    d = data(val_fraction=0.2, test_fraction=0.1)
    parts = [select(corpus, d, s) for s in ("train", "val", "test")]
    assert [len(p) for p in parts] == [70, 20, 10] and "".join(parts) == corpus.texts["all"]
    assert select(corpus, d, "all") == corpus.texts["all"]
    assert describe(corpus, d) == ("first 70% for train, last 20% of the text for val "
                                   "(--val-fraction), then 10% for test (--test-fraction)")
    with pytest.raises(RnnlmError, match=r"t has no test split here \(first 90%.*--split"):
        select(corpus, data(), "test")


def test_documents_split_by_count_and_official_files_stay() -> None:
    corpus = Corpus("d", {"all": "".join(f"doc {i}\n" for i in range(20))}, "test")
    d = data(documents="lines", val_fraction=0.1)
    assert select(corpus, d, "val") == ["doc 18", "doc 19"]
    assert len(select(corpus, d, "all")) == 20
    assert as_body("a\nb\n", d, "x") == ["a", "b"] and as_body("a\nb\n", data(), "x") == "a\nb\n"
    official = Corpus("o", {"train": "one\n", "val": "two\n"}, "test")
    assert select(official, d, "val") == ["two"]
    assert describe(official, d) == "official train/val files"


def test_held_out_of_a_run(shakespeare_100k: Path, tmp_path: Path) -> None:
    own = data(corpus=[str(shakespeare_100k)])
    body, source = held_out(own)
    assert source == "shakespeare100k:val" and len(body) == 10_000
    assert held_out(own, text=str(shakespeare_100k))[1] == "shakespeare100k:all"
    with pytest.raises(RnnlmError, match="not both"):
        held_out(own, text=str(shakespeare_100k), corpus="shakespeare")
    with pytest.raises(RnnlmError, match="give the text to score"):
        held_out(data())
    changed = data(corpus=[str(shakespeare_100k)], corpus_sha256="0" * 64)
    with pytest.raises(RnnlmError, match="changed since the run was trained"):
        held_out(changed)
    assert load_corpus(str(shakespeare_100k)).sha256() != "0" * 64


def test_reading_another_document_format() -> None:
    assert reading(data(documents="lines"), "blank", "run").documents == "blank"
    with pytest.raises(RnnlmError, match="run was trained in stream mode"):
        reading(data(), "lines", "run")
    with pytest.raises(RnnlmError, match="--documents must be"):
        reading(data(documents="lines"), "paragraphs", "run")
