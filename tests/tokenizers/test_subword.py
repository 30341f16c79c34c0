"""BPE and unigram (HuggingFace tokenizers): sizes, notes, and the embedded JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rnnlm.errors import RnnlmError
from rnnlm.tokenizers import BPETokenizer, build_tokenizer, load_tokenizer, save_tokenizer


@pytest.mark.parametrize("kind", ["bpe", "unigram"])
def test_too_small_a_vocabulary_is_refused(kind: str, shakespeare: str) -> None:
    with pytest.raises(RnnlmError, match="at least 256"):
        build_tokenizer(kind, shakespeare[:1000], vocab_size=100)


def test_a_vocabulary_the_text_cannot_fill_is_reported(shakespeare: str,
                                                       capsys: pytest.CaptureFixture) -> None:
    tok = build_tokenizer("bpe", shakespeare[:10_000], vocab_size=50_000)
    note = capsys.readouterr().out
    assert tok.vocab_size < 50_000 and f"reached {tok.vocab_size:,} tokens" in note
    assert tok.decode(tok.encode(shakespeare[:20_000])) == shakespeare[:20_000]


def test_words_reached_are_reported(capsys: pytest.CaptureFixture) -> None:
    build_tokenizer("word", "a b c", vocab_size=100)
    assert "reached 4 words of the 100" in capsys.readouterr().out


def test_subwords_merge_frequent_text(shakespeare: str) -> None:
    tok = build_tokenizer("bpe", shakespeare[:100_000], vocab_size=1000)
    assert len(tok.encode(shakespeare[100_000:150_000])) < 50_000 * 0.45
    assert tok.fallback_rate("héllo wörld") > 0 and tok.fallback_rate("hello world") == 0


def test_json_embeds_the_huggingface_tokenizer(tmp_path: Path, shakespeare: str) -> None:
    tok = build_tokenizer("unigram", shakespeare[:20_000], vocab_size=400)
    save_tokenizer(tok, tmp_path / "tokenizer.json")
    data = json.loads((tmp_path / "tokenizer.json").read_text())
    assert data["type"] == "unigram" and json.loads(data["huggingface"])["model"]["type"] \
        == "Unigram"
    (tmp_path / "hf.json").write_text(data["huggingface"])
    with pytest.raises(RnnlmError, match="HuggingFace tokenizer.json, not an rnnlm one"):
        load_tokenizer(tmp_path / "hf.json")
    with pytest.raises(RnnlmError, match="embeds a Unigram model"):
        BPETokenizer.from_json({**data, "type": "bpe"})
    with pytest.raises(RnnlmError, match="no valid HuggingFace"):
        BPETokenizer.from_json({"type": "bpe", "huggingface": "{not json"})
