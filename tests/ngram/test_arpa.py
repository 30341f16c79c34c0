"""ARPA files: a model read back scores text like the one written; malformed files and
mismatched tokenizer files give one-line errors that name the line."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rnnlm.errors import RnnlmError
from rnnlm.ngram.lm import NgramLM, sidecar
from rnnlm.ngram.names import escape, token_names
from rnnlm.tokenizers import save_tokenizer
from tests.ngram import body, build


def save(lm: NgramLM, path: Path) -> Path:
    """Write a built model as the train command does."""
    lm.save(path)
    return path


def per_token(lm: NgramLM, text: str) -> np.ndarray:
    """log10 p of every scored token of text."""
    seq, positions = lm.encode(body(text, "lines" if lm.boundaries else "stream"))
    return lm.model.log10_probs(seq, positions)


@pytest.mark.parametrize("order,tokenizer,documents", [
    (4, "char", "stream"), (3, "char", "lines"), (1, "char", "stream"), (3, "word", "lines")])
def test_round_trip_scores_alike(tmp_path: Path, shakespeare: str, order: int, tokenizer: str,
                                 documents: str) -> None:
    train, held_out = shakespeare[:60_000], shakespeare[60_000:70_000] + "Zebra ¶\n"
    lm, _ = build(train, order, tokenizer, documents)
    back = NgramLM.load(save(lm, tmp_path / "m.arpa"))
    assert back.data == lm.data and back.model.order == order
    a, b = per_token(lm, held_out), per_token(back, held_out)
    assert np.abs(a - b).max() < 1e-6 / np.log(10)  # 1e-6 nats per token
    text = body(held_out, documents)
    assert back.score(text).to_dict() == pytest.approx(lm.score(text).to_dict())


def test_arpa_layout(tmp_path: Path) -> None:
    lm, _ = build("a b\nb a\n", 2, "word", "lines")
    text = save(lm, tmp_path / "m.arpa").read_text(encoding="utf-8").split("\n")
    assert text[:4] == ["\\data\\", "ngram 1=6", "ngram 2=6", ""]  # <unk> a b \\n <s> </s>
    assert text[4] == "\\1-grams:" and "-99.00000000\t<s>\t" in "\n".join(text)
    assert text[-2:] == ["\\end\\", ""]
    assert all(len(line.split("\t")) == 2 for line in text[text.index("\\2-grams:") + 1: -3])


def unescape(word: str) -> str:
    """The inverse of escape, read left to right."""
    return re.sub(r"\\(\\|x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8})",
                  lambda m: "\\" if m.group(1) == "\\" else chr(int(m.group(1)[1:], 16)), word)


@given(st.text(alphabet="\\xuU0a <s>\n\té\u2028", max_size=12))
def test_escape_is_one_to_one(text: str) -> None:
    word = escape(text)
    assert unescape(word) == text and (not word or word.split() == [word])


def test_escaped_names() -> None:
    assert escape(" ") == "\\x20" and escape("\n") == "\\x0a" and escape("\\x") == "\\\\x"
    assert escape("mgm\\/ua") == "mgm\\/ua"  # PTB's word, as KenLM looks it up
    assert escape("<s>") == "\\x3cs>" and escape("a<b") == "a<b" and escape("é") == "é"
    lm, _ = build("<s> a\n", 1, "char", "lines")
    names = token_names(lm.tokenizer, True)
    assert len(set(names)) == len(names) and names[0] == "<unk>" and names[-2:] == ["<s>", "</s>"]


@pytest.fixture
def arpa(tmp_path: Path) -> Path:
    """A small trigram model: 'a b c' lines."""
    lm, _ = build("a b c\na b\nc b a\n", 3, "word", "lines")
    return save(lm, tmp_path / "m.arpa")


def edit(path: Path, change) -> list[str]:
    """Rewrite the file's lines with change(lines)."""
    lines = path.read_text(encoding="utf-8").split("\n")
    change(lines)
    path.write_text("\n".join(lines), encoding="utf-8")
    return lines


def line_of(path: Path, start: str) -> int:
    """1-based number of the first line starting with `start`."""
    lines = path.read_text(encoding="utf-8").split("\n")
    return next(i for i, line in enumerate(lines, 1) if line.startswith(start))


def fails(path: Path, match: str) -> str:
    with pytest.raises(RnnlmError) as e:
        NgramLM.load(path)
    assert match in str(e.value) and "\n" not in str(e.value), str(e.value)
    return str(e.value)


def test_not_arpa(arpa: Path) -> None:
    edit(arpa, lambda lines: lines.insert(0, "hello"))
    fails(arpa, "line 1: an ARPA file starts with \\data\\")


def test_bad_probability(arpa: Path) -> None:
    n = line_of(arpa, "\\2-grams:") + 2
    edit(arpa, lambda lines: lines.__setitem__(n - 1, "x1.5\t" + lines[n - 1].split("\t", 1)[1]))
    fails(arpa, f"line {n}: 'x1.5' is not a valid log10 probability")


def test_wrong_count(arpa: Path) -> None:
    edit(arpa, lambda lines: lines.__setitem__(2, "ngram 2=999"))
    header = line_of(arpa, "\\2-grams:")
    fails(arpa, f"line {header}: \\data\\ says ngram 2=999")


def test_missing_prefix_and_duplicate(arpa: Path) -> None:
    lines = arpa.read_text(encoding="utf-8").split("\n")
    first_bigram = line_of(arpa, "\\2-grams:")
    trigram = next(i for i, line in enumerate(lines, 1)
                   if line.startswith("-") and len(line.split("\t")[1].split()) == 3
                   and line.split("\t")[1].split()[:2] == lines[first_bigram].split("\t")[1]
                   .split())
    edit(arpa, lambda ls: ls.__setitem__(first_bigram, ls[first_bigram + 1]))  # a duplicate
    fails(arpa, f"line {first_bigram + 2}: this 2-gram is listed twice")
    edit(arpa, lambda ls: ls.__setitem__(first_bigram, "-1.0\t</s> </s>"))  # prefix gone
    fails(arpa, f"line {trigram}: the 3-gram's first 2 words are not a 2-gram")


def test_bad_entry_and_end(arpa: Path) -> None:
    n = line_of(arpa, "\\3-grams:") + 1
    edit(arpa, lambda lines: lines.__setitem__(n - 1, lines[n - 1] + "\t-0.5"))
    fails(arpa, f"line {n}: a 3-gram entry is a log10 probability, 3 word(s);")
    edit(arpa, lambda lines: lines.__setitem__(n - 1, lines[n - 1].rsplit("\t", 1)[0]))
    edit(arpa, lambda lines: lines.remove("\\end\\"))
    fails(arpa, "expected \\end\\ after the last section")


def test_tokenizer_of_another_model(arpa: Path, tmp_path: Path) -> None:
    other, _ = build("x y z\n", 3, "word", "lines")
    save_tokenizer(other.tokenizer, sidecar(arpa, "tokenizer"))
    fails(arpa, "is not in the vocabulary of")  # names the line of the first unknown word
    bigger, _ = build("a b c d\nd\n", 3, "word", "lines")
    save_tokenizer(bigger.tokenizer, sidecar(arpa, "tokenizer"))
    fails(arpa, "has 1 token(s) that")
    sidecar(arpa, "tokenizer").unlink()
    fails(arpa, "no tokenizer file")
    sidecar(arpa, "tokenizer").write_text("{", encoding="utf-8")
    fails(arpa, "cannot read tokenizer")
