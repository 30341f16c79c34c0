"""Mikolov subword tokenizer: frequent words whole, syllables with a visible mark, characters."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rnnlm.errors import RnnlmError
from rnnlm.tokenizers import MikolovTokenizer
from rnnlm.tokenizers.mikolov import syllabify


@pytest.mark.parametrize("word,parts", [
    ("dreamworks", ["dream", "works"]), ("language", ["lan", "gua", "ge"]),
    ("nth", ["nth"]), ("a", ["a"]), ("Strengths", ["Strengths"]), ("Zürich", ["Zü", "rich"]),
    ("banana", ["ba", "na", "na"]),
])
def test_syllables(word: str, parts: list[str]) -> None:
    assert syllabify(word) == parts


@given(st.text())
def test_syllables_cover_the_word(word: str) -> None:
    assert "".join(syllabify(word)) == word


def test_pieces_show_the_continuation_mark() -> None:
    tok = MikolovTokenizer([" ", "the"], ["dream+", "works"], sorted("abdekmorsw"))
    ids = tok.encode("the dreamworks kid")
    assert [tok.pieces[i] for i in ids] == ["the", " ", "dream+", "works", " ", "k+",
                                            "<0x69>", "d"]  # 'i' was never seen: a byte
    assert tok.decode(ids) == "the dreamworks kid" and tok.unk_id is None


def test_fit_keeps_the_top_words_and_syllables() -> None:
    text = "the cat " * 50 + "banana bandana " * 5 + "panama"
    tok = MikolovTokenizer.fit(text, vocab_size=2, syllables=3)
    assert tok.words == [" cat", " the", " "]
    assert tok.syllables == ["na", "na+", "ba+"]  # counted over the other words, marks included
    assert tok.fallback_rate("the cat banana") == pytest.approx(2 / 3)


def test_malformed_syllable_is_refused() -> None:
    with pytest.raises(RnnlmError, match="syllable"):
        MikolovTokenizer.from_json({"type": "mikolov", "words": [" "], "syllables": ["+"],
                                    "alphabet": []})
