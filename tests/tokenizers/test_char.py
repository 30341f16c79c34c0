"""Character tokenizer: vocabulary from the training text only, <unk> is never a character."""

from __future__ import annotations

import json
import time
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from rnnlm.tokenizers import CharTokenizer, load_tokenizer, save_tokenizer

ALPHABET = "\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def test_vocabulary_is_the_training_text(shakespeare: str) -> None:
    tok = CharTokenizer.fit(shakespeare[:1000])
    assert tok.vocab_size == len(set(shakespeare[:1000])) + 1
    assert tok.unknown("Zebra") == sorted(set("Zebra") - set(shakespeare[:1000]))


def test_unknown_id_is_no_real_character() -> None:
    tok = CharTokenizer.fit("abc")
    ids = tok.encode("abxc")
    assert ids.tolist() == [1, 2, 0, 3] and tok.unk_id == 0
    assert tok.decode([0]) == "\ufffd" and "\ufffd" not in tok.symbols
    assert 0 not in tok.encode("abc").tolist()  # real characters never map to <unk>


@given(st.text(alphabet=ALPHABET, max_size=200))
def test_round_trip(text: str) -> None:
    tok = CharTokenizer(sorted(ALPHABET))
    assert tok.decode(tok.encode(text)) == text


@given(st.text(max_size=100))
def test_round_trip_any_unicode_seen(text: str) -> None:
    tok = CharTokenizer.fit(text)
    assert tok.decode(tok.encode(text)) == text


def test_save_load_and_extend(tmp_path: Path) -> None:
    tok = CharTokenizer.fit("hello world")
    save_tokenizer(tok, tmp_path / "tokenizer.json")
    assert json.loads((tmp_path / "tokenizer.json").read_text())["type"] == "char"
    again = load_tokenizer(tmp_path / "tokenizer.json")
    assert again.encode("low").tolist() == tok.encode("low").tolist()
    before = tok.encode("hello").tolist()
    assert tok.extend("héllo!") == 2
    assert tok.encode("hello").tolist() == before  # old ids keep their meaning
    assert tok.encode("é!").tolist() == [tok.vocab_size - 1, tok.vocab_size - 2]


def test_encoding_is_vectorized(shakespeare: str) -> None:
    tok = CharTokenizer.fit(shakespeare)
    start = time.perf_counter()
    ids = tok.encode(shakespeare)
    assert time.perf_counter() - start < 1.0 and len(ids) == len(shakespeare)
