"""Reading a corpus in pieces gives the same documents, lines and ids as reading it whole."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rnnlm.data.documents import parse_documents
from rnnlm.data.reading import (
    between,
    document_cut,
    documents,
    file_blocks,
    recut,
    safe_cut,
    string_blocks,
)
from rnnlm.data.text import lines
from rnnlm.errors import RnnlmError
from rnnlm.tokenizers import TOKENIZERS, build_tokenizer

from ..conftest import DATA


@pytest.fixture(scope="module")
def mixed() -> str:
    """Prose, abstracts, space-led lines and whitespace oddities: runs of newlines, CRLF,
    tabs, indentation."""
    text = (DATA / "tiny-shakespeare" / "input.txt").read_text()[:60_000]
    text += (DATA / "arxiv-abstracts" / "abstracts.txt").read_text()[:60_000]
    text += (DATA / "penn-treebank" / "ptb.train.txt").read_text()[:30_000]  # lines: " word"
    text += (DATA / "wikitext-2" / "wiki.valid.tokens").read_text()[:30_000]
    return text + "\n\n\n  indented\r\nline\t\n\nx\n\n"


@pytest.mark.parametrize("kind", list(TOKENIZERS))
def test_pieces_encode_to_the_ids_of_the_whole_text(kind: str, mixed: str) -> None:
    """Every tokenizer, fitted on pieces and encoding pieces cut at safe places, gives what it
    gives for the whole text."""
    vocab = 500 if kind in ("bpe", "unigram") else 2000
    whole = build_tokenizer(kind, mixed, vocab)
    pieces = list(recut(string_blocks(mixed), safe_cut, size=3000))
    assert len(pieces) > 30 and "".join(pieces) == mixed
    if kind != "unigram":  # the library's unigram trainer differs run to run, even whole
        assert build_tokenizer(kind, iter(pieces), vocab).to_json() == whole.to_json()
    joined = np.concatenate(whole.encode_batch(pieces))
    assert np.array_equal(joined, whole.encode(mixed))


def test_lines_across_pieces_are_the_lines_of_the_whole() -> None:
    text = "a\r\nb\rc\n\nd\u2028e\x0cf"
    for size in range(1, 5):
        pieces = [text[i: i + size] for i in range(0, len(text), size)]
        assert list(lines(pieces)) == text.splitlines(keepends=True)


@pytest.mark.parametrize("fmt", ["lines", "blank"])
def test_documents_in_pieces_are_the_documents_of_the_whole(fmt: str, mixed: str) -> None:
    blocks = [mixed[i: i + 777] for i in range(0, len(mixed), 777)]
    got = [d for docs in documents(iter(blocks), fmt, "mixed") for d in docs]
    assert got == parse_documents(mixed, fmt, "mixed")
    assert document_cut(fmt)("no boundary") == 0


def test_jsonl_errors_name_the_line_of_the_file(tmp_path: Path) -> None:
    text = '{"text": "a"}\n' * 5000 + "not json\n"
    with pytest.raises(RnnlmError, match="line 5001 is not JSON"):
        for _ in documents(string_blocks(text), "jsonl:text", "f.jsonl"):
            pass


def test_files_decode_in_blocks_with_the_strict_errors(tmp_path: Path) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_bytes("\ufeffé".encode() * 3)  # utf-8-sig drops the first BOM only
    b.write_bytes(b"ok\xff")
    assert "".join(file_blocks([a])) == "é\ufeffé\ufeffé"
    with pytest.raises(RnnlmError, match="not UTF-8 text: byte 0xff at byte offset 2"):
        "".join(file_blocks([b]))
    assert "".join(between(iter(["abc", "def", "gh"]), 2, 7)) == "cdefg"


def test_pieces_end_at_the_nearest_place_to_cut() -> None:
    """Where safe places are rare (indented code), a piece ends at the next one, not at the
    last one of everything read so far."""
    unit = "  code line\n" * 400 + "word\nnext "  # one safe place per 4,810 characters
    text = unit * 20
    pieces = list(recut(iter([text]), safe_cut, size=1000))
    assert "".join(pieces) == text and len(pieces) >= 19
    assert max(map(len, pieces)) <= 2 * len(unit)
