"""Parallel pairs: the two formats, their one-line errors, the source-disjoint split, the
registered corpora (mirror, zip download with both checksums)."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from rnnlm.data import corpora
from rnnlm.data.corpora import load_corpus
from rnnlm.data.pairs import (
    PairBatches,
    Pairs,
    corpus_pairs,
    encode_sources,
    parse_pairs,
    split_pairs,
)
from rnnlm.data.registry import RemoteFile
from rnnlm.errors import RnnlmError
from rnnlm.tokenizers import build_tokenizer
from tests.conftest import DATA


def test_tsv_ignores_extra_columns_and_blank_lines() -> None:
    pairs = parse_pairs("Go.\tVa !\tCC-BY\n\nHi.\tSalut !\n", "tsv", "t.tsv")
    assert pairs.sources == ["Go.", "Hi."] and pairs.targets == ["Va !", "Salut !"]


def test_jsonl_fields_and_numbered_references() -> None:
    text = ('{"dialogue": "A: hi", "summary1": "x", "summary2": "y", "summary10": "z"}\n'
            '{"dialogue": "B: yo", "summary": "w"}\n')
    pairs = parse_pairs(text, "jsonl:dialogue,summary", "d.jsonl")
    assert pairs.references == [["x", "y", "z"], ["w"]] and pairs.targets == ["x", "w"]


@pytest.mark.parametrize(("text", "fmt", "message"), [
    ("Go.\tVa !\nHi.\n", "tsv", r"t line 2 has one column; a tsv pairs file needs source TAB"),
    ("Go.\tVa !\n\t Salut\n", "tsv", r"t line 2 has an empty source side"),
    ("Go.\t  \n", "tsv", r"t line 1 has an empty target side"),
    ('{"src": "a", "tgt": "b"}\n{"src": "c"}\n', "jsonl:src,tgt", r"t line 2 has no field 'tgt'"),
    ('{"tgt": "b"}\n', "jsonl:src,tgt", r"t line 1 has no field 'src'"),
    ('{"src": 3, "tgt": "b"}\n', "jsonl:src,tgt", r"field 'src' is int, not text"),
    ("not json\n", "jsonl:src,tgt", r"t line 1 is not JSON"),
    ("a\tb\n", "csv", r"--pairs must be tsv \(source TAB target\) or jsonl:SRC,TGT"),
    ("\n\n", "tsv", r"t holds no pairs"),
])
def test_bad_pairs_are_one_line_errors(text: str, fmt: str, message: str) -> None:
    with pytest.raises(RnnlmError, match=message) as err:
        parse_pairs(text, fmt, "t")
    assert "\n" not in str(err.value)


def many_translations(n: int = 500) -> Pairs:
    """n sources, many with several targets (as in Tatoeba)."""
    pairs = Pairs()
    rng = np.random.default_rng(0)
    for i in range(n):
        for k in range(int(rng.integers(1, 4))):
            pairs.add(f"sentence {i}", [f"phrase {i}.{k}"])
    return pairs


def test_split_never_puts_one_source_in_two_splits() -> None:
    pairs = many_translations()
    parts = split_pairs(pairs, 0.1, 100)
    seen = [set(p.sources) for p in parts.values()]
    assert not (seen[0] & seen[1]) and not (seen[0] & seen[2]) and not (seen[1] & seen[2])
    assert sum(len(p) for p in parts.values()) == len(pairs)
    assert len(parts["test"]) == 100 and len(parts["val"]) == round(0.1 * len(pairs))
    again = split_pairs(pairs, 0.1, 100)
    assert all(again[s].sources == parts[s].sources for s in parts)  # deterministic


def test_split_that_holds_out_everything_is_refused() -> None:
    with pytest.raises(RnnlmError, match="too few to hold out"):
        split_pairs(many_translations(10), 0.5, 15)


def test_tatoeba_from_the_mirror() -> None:
    corpus = load_corpus("tatoeba-eng-fra")
    parts = corpus_pairs(corpus, "tsv", 0.02, 2000)
    assert len(parts["test"]) == 2000
    assert sum(len(p) for p in parts.values()) == 142_787
    train = set(parts["train"].sources)
    assert not train & set(parts["test"].sources) and not train & set(parts["val"].sources)


def test_dialogsum_without_its_train_file_is_refused_by_name() -> None:
    with pytest.raises(RnnlmError, match="dialogsum"):
        load_corpus("dialogsum")


def test_dialogsum_files_by_path() -> None:
    test = parse_pairs((DATA / "dialogsum" / "dialogsum.test.jsonl").read_text(),
                       "jsonl:dialogue,summary", "test")
    assert len(test) == 500 and all(len(r) == 3 for r in test.references)


def test_zip_member_download_checks_archive_and_file(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    body = b"Go.\tVa !\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("fra.txt", body)
    archive = tmp_path / "fra-eng.zip"
    archive.write_bytes(buffer.getvalue())
    monkeypatch.delenv("RNNLM_OFFLINE")
    monkeypatch.setenv("RNNLM_HOME", str(tmp_path / "home"))
    sha = hashlib.sha256
    rf = RemoteFile("t/fra.txt", archive.as_uri(), sha(body).hexdigest(), len(buffer.getvalue()),
                    member="fra.txt", archive_sha256=sha(buffer.getvalue()).hexdigest())
    assert corpora.fetch_file(rf, "t").read_bytes() == body
    wrong = RemoteFile("u/fra.txt", rf.url, rf.sha256, rf.size, member="fra.txt",
                       archive_sha256="0" * 64)
    with pytest.raises(RnnlmError, match="sha256 .* expected 000000000000"):
        corpora.fetch_file(wrong, "u")
    blob = RemoteFile("v/fra.txt", (tmp_path / "plain.txt").as_uri(), "", 0,
                      blob=hashlib.sha1(b"blob %d\0" % len(body) + body).hexdigest())
    (tmp_path / "plain.txt").write_bytes(body)
    assert corpora.fetch_file(blob, "v").read_bytes() == body


def test_long_sources_are_truncated_with_a_count(capsys: pytest.CaptureFixture[str]) -> None:
    tok = build_tokenizer("char", "abcdef ")
    ids = encode_sources(tok, ["abc", "abcdef abcdef", "a"], 4)
    assert [len(s) for s in ids] == [3, 4, 1]
    assert "1 of 3 sources are longer than --max-source-length 4 tokens and were truncated" \
        in capsys.readouterr().err


def test_pair_batches_hold_each_pairs_source() -> None:
    sources = [np.arange(n) + 1 for n in (3, 1, 4, 2)]
    targets = [np.array([9, *range(n), 10]) for n in (2, 5, 1, 3)]
    batches = PairBatches(sources, targets, 2, seed=0)
    seen = 0
    for _ in range(2):
        batch, _ = batches.next()
        for row in range(batch.src.shape[0]):
            n = int(batch.src_lengths[row])
            d = int(batch.src[row, n - 1])  # source d is 1 .. len
            matching = [i for i, s in enumerate(sources) if len(s) == n and s[-1] == d]
            (i,) = matching
            real = batch.targets[row][batch.targets[row] != -100].tolist()
            assert real == targets[i][1:].tolist()
            seen += 1
    assert seen == 4
