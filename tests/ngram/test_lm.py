"""`rnnlm ngram train | eval | sample` end to end, Penn Treebank perplexities, bad input."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from rnnlm.cli import main
from rnnlm.inference.scoring import EvalResult
from rnnlm.ngram.lm import NgramLM, sidecar
from tests.conftest import DATA
from tests.ngram import body, build
from tests.test_cli import fails


def test_train_eval_sample(tmp_path: Path, shakespeare_100k: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "m.arpa"
    assert main(["ngram", "train", str(shakespeare_100k), "--order", "4", "--out",
                 str(model)]) == 0
    report = capsys.readouterr().out
    assert "4-grams" in report and "first 90% for train, last 10% of the text for val" in report
    assert (tmp_path / "m.arpa.tokenizer.json").is_file()
    held_out = tmp_path / "held_out.txt"
    held_out.write_text("ROMEO:\nWhat light through yonder window breaks?\n", encoding="utf-8")
    assert main(["ngram", "eval", str(model), "--text", str(held_out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == set(EvalResult(1.0, 1, 1, 1, 0).to_dict())
    assert result["characters"] == len(held_out.read_text()) - 1  # the first is context
    assert result["tokens"] == result["characters"] and 1.5 < result["bits_per_char"] < 4
    assert main(["ngram", "eval", str(model), "--corpus", str(shakespeare_100k)]) == 0
    table = capsys.readouterr().out
    assert "bits per character" in table and "shakespeare100k:val" in table
    assert main(["ngram", "sample", str(model), "--prime", "ROMEO:", "--seed", "3",
                 "--length", "80"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("ROMEO:") and len(text) == len("ROMEO:") + 80 + 1
    lm = NgramLM.load(model)
    assert lm.sample("ROMEO:", 80, seed=3) == text[:-1]
    assert lm.sample("ROMEO:", 80, seed=4) != text[:-1]
    assert main(["ngram", "eval", str(model), "--json"]) == 0  # its own corpus's val split
    own = json.loads(capsys.readouterr().out)
    assert own["source"] == "shakespeare100k:val" and own["characters"] == 10_000 - 1


def test_lines_sample_and_score(tmp_path: Path, shakespeare: str) -> None:
    corpus = tmp_path / "c.txt"
    corpus.write_text(shakespeare[:50_000], encoding="utf-8")
    model = tmp_path / "w.arpa"
    assert main(["ngram", "train", str(corpus), "--order", "3", "--tokenizer", "word",
                 "--documents", "lines", "--out", str(model)]) == 0
    text = NgramLM.load(model).sample("First Citizen:\nBefore", 200, seed=1)
    assert text.startswith("First Citizen:\nBefore ") and text.count("\n") >= 3
    lm, _ = build(shakespeare[:50_000], 3, "word", "lines")
    held_out = "Speak, speak.\n\nYou are all resolved rather to die than to famish?\n"
    result = lm.score(body(held_out, "lines"))
    assert result.tokens == 2 + 1 + 10 + 1  # words and one </s> per document
    assert result.characters == len(held_out) - 1  # an empty line is no document


@pytest.mark.parametrize("order,low,high", [(3, 146, 150), (5, 140, 142.5)])
def test_penn_treebank_perplexity(order: int, low: float, high: float) -> None:
    """KN3 ≈ 148, KN5 ≈ 141.2 on the test set (Mikolov et al. 2011), built in seconds."""
    folder = DATA / "penn-treebank"
    train = (folder / "ptb.train.txt").read_text(encoding="utf-8")
    start = time.perf_counter()
    lm, discounts = build(train, order, "word", "lines")
    assert time.perf_counter() - start < 30
    assert all(d.source == "modified KN" for d in discounts)
    result = lm.score(body((folder / "ptb.test.txt").read_text(encoding="utf-8"), "lines"))
    assert result.tokens == 82_430 and low < result.perplexity < high


def test_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                   shakespeare_100k: Path) -> None:
    out = str(tmp_path / "m.arpa")
    fails(capsys, ["ngram", "train", str(shakespeare_100k), "--order", "0", "--out", out],
          "--order must be 1 or more")
    (tmp_path / "newlines.txt").write_text("\n\n\n", encoding="utf-8")
    fails(capsys, ["ngram", "train", str(tmp_path / "newlines.txt"), "--out", out],
          "the training text is empty")
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    fails(capsys, ["ngram", "train", str(tmp_path / "empty.txt"), "--out", out], "is empty")
    fails(capsys, ["ngram", "eval", out, "--text", str(shakespeare_100k)],
          "no such n-gram model")
    assert main(["ngram", "train", str(shakespeare_100k), "--order", "2", "--out", out]) == 0
    capsys.readouterr()
    sidecar(out, "config").unlink()  # as a model written before config files: no own corpus
    fails(capsys, ["ngram", "eval", out], "give the text to score: --text FILE or --corpus")
    fails(capsys, ["ngram", "sample", out, "--prime", "Zebra ¶"], "outside the model's vocab")
    fails(capsys, ["ngram", "sample", out, "--temperature", "0"], "--temperature must be")
    (tmp_path / "one.txt").write_text("a", encoding="utf-8")
    fails(capsys, ["ngram", "eval", out, "--text", str(tmp_path / "one.txt")], "too short")
