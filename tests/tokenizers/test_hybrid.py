"""Hybrid tokenizer: word vocabulary, unknown words spelled out between <w> and </w>."""

from __future__ import annotations

from rnnlm.tokenizers import ByteTokenizer, HybridTokenizer


def test_unknown_words_are_spelled_between_markers() -> None:
    tok = HybridTokenizer.fit("the cat sat on the mat; a bear grazes\n", vocab_size=0)
    ids = tok.encode("the zebra sat")
    assert [tok.pieces[i] for i in ids] == ["the", " ", "<w>", "z", "e", "b", "r", "a", "</w>",
                                            " sat"]
    assert tok.decode(ids) == "the zebra sat" and tok.special_ids() == []
    assert tok.fallback_rate("the zebra sat") == 1 / 3


def test_the_model_can_write_a_new_word() -> None:
    tok = HybridTokenizer.fit("the cat sat on the mat\n", vocab_size=0)
    marks = {p: i for i, p in enumerate(tok.pieces)}
    ids = [marks["the"], marks[" "], marks["<w>"], marks["m"], marks["a"], marks["t"],
           marks["h"], marks["</w>"]]
    assert tok.decode(ids) == "the math"


def test_unseen_characters_fall_back_to_bytes() -> None:
    tok = HybridTokenizer.fit("abc abc\n", vocab_size=0)
    ids = tok.encode(" é")
    assert [tok.pieces[i] for i in ids] == [" ", "<w>", "<0xC3>", "<0xA9>", "</w>"]


def test_byte_tokenizer_is_the_utf8_bytes() -> None:
    tok = ByteTokenizer.fit("")
    assert tok.encode("aé").tolist() == [97, 0xC3, 0xA9] and tok.vocab_size == 256
    assert tok.unk_id is None and tok.special_ids() == []
