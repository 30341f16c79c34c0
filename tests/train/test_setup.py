"""Every tokenizer end to end: train a tiny model, sample from it, score it; fine-tuning and
mismatched files with non-char tokenizers."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from rnnlm.cli import main
from rnnlm.config import TOKENIZER_KINDS
from rnnlm.data.corpora import load_corpus
from rnnlm.errors import RnnlmError
from rnnlm.language_model import LanguageModel
from rnnlm.tokenizers import ByteTokenizer, save_tokenizer
from rnnlm.train.trainer import train
from rnnlm.verbs.evaluate import evaluate
from tests.conftest import tiny_config

VOCAB = {"word": 400, "bpe": 400, "unigram": 400, "mikolov": 300, "hybrid": 300}


def tiny_run(corpus: Path, out: Path, kind: str, **train_options: object) -> Path:
    """Train a 1×64 LSTM with the tokenizer `kind` and small vocabularies."""
    config = tiny_config(corpus, **{"max_steps": 60, "eval_every": 30, "lr": 5e-3,
                                    **train_options})
    config.data.tokenizer, config.data.vocab_size = kind, VOCAB.get(kind)
    config.data.syllables = 200
    return train(config, out=out)


@pytest.mark.parametrize("kind", TOKENIZER_KINDS)
def test_every_tokenizer_trains_samples_and_scores(kind: str, shakespeare_100k: Path,
                                                   tmp_path: Path) -> None:
    run = tiny_run(shakespeare_100k, tmp_path / "run", kind)
    lm = LanguageModel.load(run)
    assert lm.tokenizer.kind == kind == lm.config.data.tokenizer
    prime = "ROMEO: a zebra 🙂 said" if kind not in ("char", "word") else "ROMEO: a zebra said"
    texts = lm.sample(prime=prime, length=40, num=2, seed=1)
    assert len(texts) == 2 and all(texts)
    result = evaluate(run)
    val = load_corpus([str(shakespeare_100k)]).splits(0.1, 0.0)["val"]
    assert len(val) - 20 < result.characters < len(val)  # the original text's characters
    assert result.nats_per_token < math.log(lm.tokenizer.vocab_size)  # it learned something
    assert result.comparable == (kind != "word")
    assert (result.oov_rate is not None) == (kind == "word")
    if kind == "word":
        assert 0 < result.oov_rate < 0.5 and result.unknown_tokens > 0


def test_word_eval_table_and_options(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                     shakespeare_100k: Path) -> None:
    run = tmp_path / "run"
    assert main(["train", str(shakespeare_100k), "--out", str(run), "--max-steps", "10",
                 "--eval-every", "10", "--layers", "1", "--hidden", "32", "--embedding", "16",
                 "--batch-size", "8", "--seq-len", "16", "--device", "cpu",
                 "--tokenizer", "word", "--vocab-size", "300", "--sample-length", "5"]) == 0
    assert "vocab 302" in capsys.readouterr().out  # <unk> + 300 words + ' '
    assert main(["eval", str(run)]) == 0
    out = capsys.readouterr().out
    assert "OOV rate (words)" in out and "not comparable" in out
    assert main(["sample", str(run), "--prime", "ROMEO: Zyzzyva", "--length", "5"]) == 0
    assert main(["train", str(shakespeare_100k), "--tokenizer", "bpe", "--split",
                 "whitespace"]) == 2  # --split: the old spelling of --word-split
    assert "--word-split whitespace applies to --tokenizer word only" in capsys.readouterr().err
    assert main(["train", str(shakespeare_100k), "--init-from", str(run), "--tokenizer",
                 "bpe"]) == 2
    assert "keeps the checkpoint's architecture and tokenizer" in capsys.readouterr().err


def test_fine_tuning_keeps_the_tokenizer_and_reports_coverage(
        shakespeare: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text(shakespeare[:50_000])
    second.write_text(shakespeare[-50_000:])
    run = tiny_run(first, tmp_path / "run", "hybrid", max_steps=10, eval_every=10)
    config = tiny_config(second, max_steps=10, eval_every=10, sample_length=0)
    config.init_from = str(run)
    tuned = train(config, out=tmp_path / "ft")
    out = capsys.readouterr().out
    assert "hybrid vocabulary;" in out and "of the new text is outside it" in out
    lm, old = LanguageModel.load(tuned), LanguageModel.load(run)
    assert lm.tokenizer.to_json() == old.tokenizer.to_json()
    assert lm.config.data.tokenizer == "hybrid" and lm.config.data.vocab_size == 300


def test_tokenizer_of_another_type_is_refused(shakespeare_100k: Path, tmp_path: Path) -> None:
    run = tiny_run(shakespeare_100k, tmp_path / "run", "word", max_steps=5, eval_every=5,
                   sample_length=0)
    broken = Path(shutil.copytree(run, tmp_path / "broken"))
    save_tokenizer(ByteTokenizer(), broken / "best" / "tokenizer.json")
    with pytest.raises(RnnlmError, match="is a byte tokenizer but config.json says word"):
        LanguageModel.load(broken)
    (broken / "best" / "tokenizer.json").write_text(json.dumps({"type": "word", "words": 3}))
    with pytest.raises(RnnlmError, match="no valid 'words' list"):
        LanguageModel.load(broken)
