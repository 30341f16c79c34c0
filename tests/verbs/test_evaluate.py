"""`rnnlm eval`: the split a run validated on, a named corpus or a file, documents from a zero
state, the same characters counted in both modes, and what it refuses."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

from rnnlm.configfile import load_json
from rnnlm.errors import RnnlmError
from rnnlm.verbs.evaluate import evaluate
from rnnlm.verbs.sample import sample
from tests.conftest import tiny_config


def test_eval_val_split_matches_training(tiny_run: Path) -> None:
    result = evaluate(tiny_run)
    best = json.loads((tiny_run / "best" / "state.json").read_text())["val"]
    assert result.bits_per_char == pytest.approx(best["val_bits_per_char"], abs=1e-6)
    assert result.tokens == result.characters == 9_999 and result.source.endswith(":val")


def test_no_test_split(tiny_run: Path) -> None:
    with pytest.raises(RnnlmError, match="no test split"):
        evaluate(tiny_run, split="test")


def test_changed_corpus_is_noticed(tiny_run: Path, tmp_path: Path) -> None:
    run = Path(shutil.copytree(tiny_run, tmp_path / "run"))
    for config_file in (run / "config.json", run / "best" / "config.json"):
        config = json.loads(config_file.read_text())
        config["data"]["corpus_sha256"] = "0" * 64
        config_file.write_text(json.dumps(config))
    with pytest.raises(RnnlmError, match="changed since the run was trained"):
        evaluate(run)


def test_validation_is_what_eval_scores(doc_run: Path) -> None:
    config = load_json(doc_run / "config.json")
    assert (config.data.mode, config.data.documents) == ("documents", "lines")
    best = json.loads((doc_run / "best" / "state.json").read_text())["val"]
    result = evaluate(doc_run, split="val")
    assert result.bits_per_char == pytest.approx(best["val_bits_per_char"], rel=1e-6)
    assert result.bits_per_char < 4.5  # it learned something in 40 steps
    lines = Path(config.data.corpus[0]).read_text(encoding="utf-8").split("\n")[:300]
    held_out = lines[285:]  # the last 5% of 300 documents
    assert result.characters == sum(len(d) + 1 for d in held_out)  # EOD = one character
    assert result.tokens == result.characters  # characters + one EOD per document


def test_eval_text_with_documents(doc_run: Path, tmp_path: Path) -> None:
    text = tmp_path / "two.jsonl"
    text.write_text('{"t": "We study graphs."}\n{"t": "A new bound."}\n', encoding="utf-8")
    result = evaluate(doc_run, text=text, documents="jsonl:t")
    assert result.tokens == len("We study graphs.") + len("A new bound.") + 2
    assert "2 documents" in result.source
    one = tmp_path / "one.txt"
    one.write_text("A single abstract is a text too.\n", encoding="utf-8")
    assert evaluate(doc_run, text=one).characters == len(one.read_text())


def test_documents_options_need_a_documents_run(tiny_run: Path, tmp_path: Path) -> None:
    with pytest.raises(RnnlmError, match="stream mode"):
        sample(tiny_run, documents=2, out=io.StringIO())
    with pytest.raises(RnnlmError, match="stream mode"):
        evaluate(tiny_run, documents="lines")
    config = tiny_config(tmp_path / "x.txt")
    config.data.mode, config.data.chunk = "stream", 64
    with pytest.raises(RnnlmError, match="belong to documents mode"):
        config.validate()


def test_bits_per_char_count_the_same_characters_in_both_modes(doc_run: Path, tiny_run: Path,
                                                               tmp_path: Path) -> None:
    """The EOD of a document counts as one character, like the newline ending its line in
    the plain text that a stream model reads (which scores all but the first character)."""
    text = tmp_path / "val.txt"
    text.write_text("A first abstract.\nAnd a second, longer abstract.\n", encoding="utf-8")
    documents = evaluate(doc_run, text=text)  # the run's own format: lines
    stream = evaluate(tiny_run, text=text)
    assert documents.characters == len(text.read_text()) == stream.characters + 1
