"""Documents mode end to end on real abstracts: trains, validates the way eval scores,
resumes exactly with chunks, samples whole documents, and refuses what makes no sense."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from safetensors.torch import load_file

from rnnlm.config import load_json
from rnnlm.errors import RnnlmError
from rnnlm.language_model import LanguageModel
from rnnlm.train.trainer import train
from rnnlm.verbs.evaluate import evaluate
from rnnlm.verbs.sample import sample
from tests.conftest import DATA, tiny_config


@pytest.fixture(scope="module")
def abstracts_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 300 real abstracts, one per line."""
    lines = (DATA / "arxiv-abstracts" / "abstracts.txt").read_text(encoding="utf-8")
    path = tmp_path_factory.mktemp("docs") / "abstracts300.txt"
    path.write_text("\n".join(lines.split("\n")[:300]) + "\n", encoding="utf-8")
    return path


def doc_config(corpus: Path, steps: int, **data: object):
    """A tiny documents-mode config."""
    config = tiny_config(corpus, max_steps=steps, eval_every=steps, sample_length=30, lr=5e-3)
    config.data.documents, config.data.val_fraction, config.data.batch_size = "lines", 0.05, 8
    for key, value in data.items():
        setattr(config.data, key, value)
    return config


@pytest.fixture(scope="module")
def doc_run(abstracts_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A documents-mode run trained for 40 steps."""
    return train(doc_config(abstracts_file, 40, chunk=256),
                 out=tmp_path_factory.mktemp("runs") / "docs")


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


def test_sample_whole_documents(doc_run: Path) -> None:
    out = io.StringIO()
    texts = sample(doc_run, documents=3, seed=0, length=300, out=out)
    assert len(texts) == 3 and out.getvalue().count("--- document") == 3
    lm = LanguageModel.load(doc_run)
    # "\n" is in the vocabulary and the 40-step model gives it mass, but a line document
    # never holds one: generation bans it (EOD ends the line)
    assert "\n" in lm.tokenizer.decode(lm.line_break_ids)
    for seed in range(1, 5):
        assert all(t and "\n" not in t for t in lm.sample(length=2000, num=4, seed=seed))


def test_documents_options_need_a_documents_run(tiny_run: Path, tmp_path: Path) -> None:
    with pytest.raises(RnnlmError, match="stream mode"):
        sample(tiny_run, documents=2, out=io.StringIO())
    with pytest.raises(RnnlmError, match="stream mode"):
        evaluate(tiny_run, documents="lines")
    config = tiny_config(tmp_path / "x.txt")
    config.data.mode, config.data.chunk = "stream", 64
    with pytest.raises(RnnlmError, match="belong to documents mode"):
        config.validate()


def test_resume_with_chunks_is_exact(abstracts_file: Path, tmp_path: Path) -> None:
    def config(steps: int):
        c = doc_config(abstracts_file, steps, chunk=64)
        c.train.decay_steps, c.train.eval_every, c.model.dropout = 30, 15, 0.2
        return c

    whole = train(config(30), out=tmp_path / "whole")
    half = train(config(15), out=tmp_path / "half")
    resumed = load_json(half / "config.json")
    resumed.train.max_steps = 30
    train(resumed, resume=half)
    a = load_file(str(whole / "last" / "model.safetensors"))
    b = load_file(str(half / "last" / "model.safetensors"))
    assert max((a[k] - b[k]).abs().max().item() for k in a) <= 1e-6


def test_bits_per_char_count_the_same_characters_in_both_modes(doc_run: Path, tiny_run: Path,
                                                               tmp_path: Path) -> None:
    """The EOD of a document counts as one character, like the newline ending its line in
    the plain text that a stream model reads (which scores all but the first character)."""
    text = tmp_path / "val.txt"
    text.write_text("A first abstract.\nAnd a second, longer abstract.\n", encoding="utf-8")
    documents = evaluate(doc_run, text=text)  # the run's own format: lines
    stream = evaluate(tiny_run, text=text)
    assert documents.characters == len(text.read_text()) == stream.characters + 1
