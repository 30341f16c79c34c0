"""`rnnlm compare`: runs and ARPA files on one text, one scale, non-comparable rows flagged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rnnlm.cli import main
from rnnlm.config import DataConfig
from rnnlm.data.text import split_text
from rnnlm.errors import RnnlmError
from rnnlm.ngram.lm import train
from rnnlm.verbs.compare import compare, show
from rnnlm.verbs.evaluate import evaluate


def test_compare_runs_and_ngrams(tiny_run: Path, shakespeare_100k: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture) -> None:
    char5 = tmp_path / "char5.arpa"
    word3 = tmp_path / "word3.arpa"
    train([str(shakespeare_100k)], 5, char5)
    train([str(shakespeare_100k)], 3, word3, DataConfig(tokenizer="word"))
    text = tmp_path / "held.txt"
    text.write_text(shakespeare_100k.read_text(encoding="utf-8")[-20_000:], encoding="utf-8")
    rows = compare([str(tiny_run), str(char5), str(word3)], text=text)
    assert [r.level for r in rows] == ["char 1×128 lstm (stream)", "char 5-gram KN (stream)",
                                       "word 3-gram KN (stream)"]
    assert rows[0].result.bits_per_char == evaluate(tiny_run, text=text).bits_per_char
    assert all(r.result.characters == 20_000 - 1 for r in rows[:2])
    assert rows[2].result.oov_rate > 0 and not rows[2].result.comparable
    assert 1.5 < rows[1].result.bits_per_char < 4 and rows[0].parameters > 10_000
    capsys.readouterr()
    show(rows)
    table = capsys.readouterr().out
    assert "*" in table and "not comparable" in table
    assert main(["compare", str(tiny_run), str(char5), "--text", str(text), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["level"] for r in out][1] == "char 5-gram KN (stream)"
    assert {"bits_per_char", "perplexity", "eval_seconds", "parameters"} <= set(out[0])


def test_compare_needs_a_text(tiny_run: Path, tmp_path: Path) -> None:
    with pytest.raises(RnnlmError, match="no such file"):
        compare([str(tiny_run)], text=tmp_path / "missing.txt")
    with pytest.raises(RnnlmError, match="give the text to score"):
        compare([str(tiny_run)])


def test_compare_scores_a_corpus_split(tiny_run: Path, shakespeare_100k: Path,
                                       tmp_path: Path) -> None:
    """--corpus/--split scores exactly the text of that split, for every model alike."""
    char3 = tmp_path / "char3.arpa"
    train([str(shakespeare_100k)], 3, char3)
    rows = compare([str(tiny_run), str(char3)], corpus=str(shakespeare_100k), split="val")
    val = split_text(shakespeare_100k.read_text(encoding="utf-8"), 0.1)["val"]
    assert rows[0].result.bits_per_char == pytest.approx(
        evaluate(tiny_run, text=_write(tmp_path / "val.txt", val)).bits_per_char, rel=1e-6)
    assert rows[1].result.characters == rows[0].result.characters


def test_ptb_char_reads_as_plain_text() -> None:
    """Mikolov's spaced symbols become text: one character per published symbol."""
    from rnnlm.data.registry import ptb_char_text

    assert ptb_char_text("a b _ c d\n e _ f \n") == "ab cd\ne f\n"


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_compare_adds_mixture_and_dynamic_rows(tiny_run: Path, shakespeare_100k: Path,
                                               tmp_path: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    """--dynamic adds a row after each run, --mix the first model mixed with the second, λ
    tuned on the run's validation split; both on the text every row scores."""
    char2 = tmp_path / "char2.arpa"
    train([str(shakespeare_100k)], 2, char2)
    text = _write(tmp_path / "held.txt", "ROMEO:\nWhat light through yonder window breaks?\n")
    rows = compare([str(tiny_run), str(char2)], text=text, mix=True, dynamic=True)
    run, dynamic, ngram, mixture = rows
    assert dynamic.model == f"{tiny_run} (dynamic)" and dynamic.level.startswith("dynamic eval")
    assert mixture.model.startswith(f"{tiny_run} + {char2} (λ=")
    assert {r.result.tokens for r in rows} == {len(text.read_text()) - 1}
    weight = float(mixture.model.split("λ=")[1].rstrip(")"))
    # -ln is convex: the mixture is never worse than the same mixture of the models' nats
    assert mixture.result.total_nats <= (weight * run.result.total_nats
                                         + (1 - weight) * ngram.result.total_nats)
    assert main(["compare", str(tiny_run), str(char2), "--text", str(text), "--mix",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[-1]["level"] == "per-token mixture"
    with pytest.raises(RnnlmError, match="--mix interpolates the first model"):
        compare([str(char2), str(tiny_run)], text=text, mix=True)
