"""Per-token interpolation of a run with an n-gram model or another run: EM finds the best
λ, the ends of λ give each model back, documents line up, mismatched models are refused."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from rnnlm.cli import main
from rnnlm.config import DataConfig
from rnnlm.errors import RnnlmError
from rnnlm.inference.mixture import load_other, mix, mixed_nats, tune_weight
from rnnlm.inference.splits import held_out
from rnnlm.language_model import LanguageModel
from rnnlm.ngram.lm import train
from rnnlm.verbs.evaluate import evaluate
from tests.test_cli import fails


def total(nats: torch.Tensor) -> float:
    """Σ nats."""
    return math.fsum(nats.tolist())


def test_em_finds_the_most_likely_weight() -> None:
    gen = torch.Generator().manual_seed(0)
    run = torch.rand(5000, generator=gen, dtype=torch.float64) * 4
    other = run + torch.randn(5000, generator=gen, dtype=torch.float64)  # sometimes better
    weight = tune_weight(run, other)
    best = total(mixed_nats(run, other, weight))
    assert 0.05 < weight < 0.95
    for nearby in (0.0, weight - 0.01, weight + 0.01, 1.0):
        assert best < total(mixed_nats(run, other, nearby))
    assert tune_weight(run, run + 5) > 0.99  # the other model is far worse everywhere


def test_the_ends_of_the_weight_are_the_models() -> None:
    run = torch.tensor([0.5, 2.0, 7.0], dtype=torch.float64)
    other = torch.tensor([1.5, 0.1, 3.0], dtype=torch.float64)
    assert torch.equal(mixed_nats(run, other, 1.0), run)
    assert torch.equal(mixed_nats(run, other, 0.0), other)
    half = -torch.log(0.5 * torch.exp(-run) + 0.5 * torch.exp(-other))
    assert torch.allclose(mixed_nats(run, other, 0.5), half, rtol=1e-12)


@pytest.fixture(scope="module")
def bigram(tiny_run: Path, shakespeare_100k: Path, tmp_path_factory: pytest.TempPathFactory
           ) -> Path:
    """A character bigram on the run's corpus and splits (weaker than the run in places)."""
    path = tmp_path_factory.mktemp("ngram") / "char2.arpa"
    train([str(shakespeare_100k)], 2, path)
    return path


def test_mixture_with_an_ngram_beats_both(tiny_run: Path, bigram: Path) -> None:
    result = evaluate(tiny_run, mix=str(bigram))  # the run's val split, λ tuned on it
    assert result.tuning == "EM on shakespeare100k:val" and 0 < result.weight < 1
    assert result.run.tokens == result.other.tokens == result.mixture.tokens == 9_999
    assert result.run.total_nats == evaluate(tiny_run).total_nats
    assert result.mixture.bits_per_char < min(result.run.bits_per_char,
                                              result.other.bits_per_char)
    lm = LanguageModel.load(tiny_run)
    other = load_other(bigram, lm, "cpu")
    body, source = held_out(lm.config.data)
    ends = [mix(lm, other, ("run", "bigram"), body, source, w).mixture for w in (1.0, 0.0)]
    assert ends[0].total_nats == pytest.approx(result.run.total_nats, rel=1e-6)  # float32 nats
    assert ends[1].total_nats == pytest.approx(result.other.total_nats, rel=1e-12)


def test_documents_line_up_with_the_ngram(doc_run: Path, abstracts_file: Path,
                                          tmp_path: Path) -> None:
    """A documents run and an n-gram with the same options score the same tokens: each
    document's characters and its EOD, which the n-gram scores as </s>."""
    arpa = tmp_path / "docs3.arpa"
    train([str(abstracts_file)], 3, arpa, DataConfig(documents="lines", val_fraction=0.05))
    result = evaluate(doc_run, mix=str(arpa), mix_weight=1.0)
    assert result.tuning == "given" and result.run.tokens == result.other.tokens
    assert result.mixture.characters == result.run.characters == result.other.characters
    assert result.mixture.total_nats == pytest.approx(result.run.total_nats, rel=1e-6)
    tuned = evaluate(doc_run, mix=str(arpa))
    assert tuned.mixture.total_nats <= min(tuned.run.total_nats, tuned.other.total_nats)


def test_models_that_predict_other_tokens_are_refused(tiny_run: Path, shakespeare_100k: Path,
                                                      tmp_path: Path) -> None:
    words = tmp_path / "word2.arpa"
    train([str(shakespeare_100k)], 2, words, DataConfig(tokenizer="word"))
    with pytest.raises(RnnlmError, match="character probabilities from both"):
        evaluate(tiny_run, mix=str(words))
    lines = tmp_path / "lines2.arpa"
    train([str(shakespeare_100k)], 2, lines, DataConfig(documents="lines"))
    with pytest.raises(RnnlmError, match="does not read a stream as the run does"):
        evaluate(tiny_run, mix=str(lines))


def test_eval_mix_command(tiny_run: Path, bigram: Path, tmp_path: Path,
                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "mix.tsv"
    text = tmp_path / "t.txt"
    text.write_text("ROMEO:\nWhat light through yonder window breaks?\n", encoding="utf-8")
    assert main(["eval", str(tiny_run), "--text", str(text), "--mix", str(bigram), "--json",
                 "--per-token", str(out)]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["tuning"] == "EM on shakespeare100k:val"  # not the text scored
    assert {"run_scores", "mix_scores", "mixture", "weight"} <= set(got)
    rows = [r.split("\t") for r in out.read_text(encoding="utf-8").splitlines()]
    assert rows[0] == ["offset", "token", "nats", "bits", "run_nats", "mix_nats"]
    assert len(rows) - 1 == got["mixture"]["tokens"] == len(text.read_text()) - 1
    nats = math.fsum(float(r[2]) for r in rows[1:])
    assert nats == pytest.approx(got["mixture"]["total_nats"], abs=1e-4)
    assert main(["eval", str(tiny_run), "--mix", str(bigram), "--mix-weight", "0.5"]) == 0
    table = capsys.readouterr().out
    assert "0.5000 (given)" in table and "mixture" in table
    fails(capsys, ["eval", str(tiny_run), "--mix", str(bigram), "--mix-weight", "1.5"],
          "--mix-weight must be in [0, 1]")
    fails(capsys, ["eval", str(tiny_run), "--mix", str(bigram), "--dynamic"],
          "give --mix or --dynamic, not both")
