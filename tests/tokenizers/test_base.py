"""Every tokenizer but word is lossless: random Unicode and every shared corpus round-trip."""

from __future__ import annotations

import functools
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnlm.config import TOKENIZER_KINDS
from rnnlm.tokenizers import TOKENIZERS, Tokenizer, build_tokenizer, load_tokenizer, save_tokenizer
from tests.conftest import DATA

OPEN = ("byte", "bpe", "unigram", "mikolov", "hybrid")  # lossless on any text
CORPORA = ["tiny-shakespeare/input.txt", "penn-treebank/ptb.train.txt",
           "penn-treebank/ptb.char.train.txt", "wikitext-2/wiki.test.raw",
           "enwik8-prefix/enwik5", "arxiv-abstracts/abstracts.txt", "c-code-mt76/mt76_concat.c",
           "latex-stacks-project/algebra.tex", "tatoeba-eng-fra/fra.txt",
           "dialogsum/dialogsum.dev.jsonl"]
TRICKY = "héllo  wörld\n\n\t🙂 e\u0301 日本語\r\n  +x+ _y_ \u200b\x00 Ω≈ç√ ﷽ 👩‍👩‍👧\u0300"


@functools.cache
def fitted(kind: str) -> Tokenizer:
    """A tokenizer of each kind fitted on 100 kB of Shakespeare (small vocabularies)."""
    text = (DATA / "tiny-shakespeare" / "input.txt").read_text(encoding="utf-8")[:100_000]
    return build_tokenizer(kind, text, vocab_size=None if kind in ("char", "byte") else 800,
                           syllables=300)


def test_registry_matches_the_config_choices() -> None:
    assert tuple(TOKENIZERS) == TOKENIZER_KINDS


@pytest.mark.parametrize("kind", OPEN)
@settings(max_examples=150, deadline=None)
@given(text=st.text())
def test_any_unicode_round_trips(kind: str, text: str) -> None:
    tok = fitted(kind)
    ids = tok.encode(text)
    assert ids.dtype == np.int64 and tok.decode(ids) == text
    assert not set(ids.tolist()) & set(tok.special_ids())


@pytest.mark.parametrize("kind", OPEN)
def test_tricky_text_round_trips_and_nothing_is_unknown(kind: str) -> None:
    tok = fitted(kind)
    assert tok.unk_id is None and tok.unknown(TRICKY) == []
    assert tok.decode(tok.encode(TRICKY)) == TRICKY


@pytest.mark.parametrize("kind", OPEN)
def test_streaming_decoder_joins_bytes_split_over_ids(kind: str) -> None:
    tok = fitted(kind)
    decode = tok.decoder()
    pieces = [decode(i) for i in tok.encode(TRICKY).tolist()]
    assert "".join(pieces) == TRICKY and "\ufffd" not in "".join(pieces)


@pytest.mark.parametrize("kind", ("char", *OPEN))
@pytest.mark.parametrize("corpus", CORPORA)
def test_corpora_round_trip(kind: str, corpus: str) -> None:
    """Fit on the first 30 kB of a 300 kB sample from the middle of the file; round-trip all."""
    raw = (DATA / corpus).read_text(encoding="utf-8")
    mid = max(0, len(raw) // 2 - 150_000)
    sample = raw[mid: mid + 300_000]
    fit_on = sample if kind == "char" else sample[:30_000]  # char: lossless on seen characters
    tok = build_tokenizer(kind, fit_on, vocab_size=None if kind in ("char", "byte") else 600,
                          syllables=200)
    assert tok.decode(tok.encode(sample)) == sample


@pytest.mark.parametrize("kind", TOKENIZER_KINDS)
def test_save_and_load_keep_every_id(kind: str, tmp_path: Path) -> None:
    tok = fitted(kind)
    save_tokenizer(tok, tmp_path / "tokenizer.json")
    again = load_tokenizer(tmp_path / "tokenizer.json")
    text = (DATA / "tiny-shakespeare" / "input.txt").read_text(encoding="utf-8")[-5000:]
    assert type(again) is type(tok) and again.vocab_size == tok.vocab_size
    assert again.encode(text).tolist() == tok.encode(text).tolist()
    assert [again.token_bytes(i) for i in range(tok.vocab_size)] == \
        [tok.token_bytes(i) for i in range(tok.vocab_size)]


@pytest.mark.parametrize("kind", TOKENIZER_KINDS)
def test_encoding_is_fast(kind: str, shakespeare: str) -> None:
    tok = fitted(kind)
    start = time.perf_counter()
    ids = tok.encode(shakespeare)
    assert time.perf_counter() - start < 5.0 and 0 < len(ids) <= 2 * len(shakespeare)
