"""Word tokenizer: top-W words, <unk> for the rest, spacing kept, OOV rate, PTB's <unk>."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rnnlm.errors import RnnlmError
from rnnlm.tokenizers import WordTokenizer
from rnnlm.tokenizers.wordlevel import WORD_RE
from tests.conftest import DATA


@given(st.text())
def test_the_word_split_covers_the_text(text: str) -> None:
    assert "".join(WORD_RE.findall(text)) == text


@given(st.text())
def test_known_words_decode_exactly(text: str) -> None:
    tok = WordTokenizer.fit(text, vocab_size=0)
    assert tok.decode(tok.encode(text)) == text and tok.fallback_rate(text) == 0


def test_words_and_punctuation_carry_their_space() -> None:
    tok = WordTokenizer.fit("the cat sat. the cat ran, the end\n", vocab_size=0)
    ids = tok.encode("the cat sat.")
    assert [tok.pieces[i] for i in ids] == ["the", " cat", " sat", "."]


def test_unknown_words_are_unk_and_keep_spacing() -> None:
    tok = WordTokenizer.fit("the cat sat on the mat\n", vocab_size=0)
    ids = tok.encode("the dog sat on the zebra!")
    assert tok.decode(ids) == "the <unk> sat on the <unk><unk>"
    assert (ids == tok.unk_id).sum() == 3 and tok.special_ids() == [0]
    assert tok.unknown("the dog sat!") == [" dog", "!"]
    assert tok.fallback_rate("the dog sat on the zebra!") == pytest.approx(3 / 7)


def test_vocab_size_keeps_the_most_frequent() -> None:
    tok = WordTokenizer.fit("a a a b b c d d d d\n", vocab_size=2)
    assert tok.words == [" d", " a", " "]  # ' ' is always kept: unknown words need it
    assert tok.decode(tok.encode("a b d")) == "<unk> <unk> d"


def test_ptb_whitespace_split_uses_the_corpus_unk() -> None:
    train = (DATA / "penn-treebank" / "ptb.train.txt").read_text(encoding="utf-8")
    valid = (DATA / "penn-treebank" / "ptb.valid.txt").read_text(encoding="utf-8")
    tok = WordTokenizer.fit(train, vocab_size=0, split="whitespace")
    assert tok.vocab_size == 10_000  # Mikolov's 10k: 9,999 words + line end, with <unk>
    ids = tok.encode(valid)
    assert (ids == 0).sum() == valid.split().count("<unk>")
    assert tok.fallback_rate(valid) == pytest.approx(valid.split().count("<unk>")
                                                     / len(valid.split()))
    line = " pierre <unk> N years old \n"
    assert tok.decode(tok.encode(line)) == " pierre <unk> N years old\n"
    assert "<unk>" not in tok.words


def test_bad_json_is_one_line() -> None:
    with pytest.raises(RnnlmError, match="split"):
        WordTokenizer.from_json({"type": "word", "words": [" "], "split": "lines"})
    with pytest.raises(RnnlmError, match="'words'"):
        WordTokenizer.from_json({"type": "word", "words": [1, 2], "split": "words"})
