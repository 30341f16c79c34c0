"""Full-pass scoring and `rnnlm eval`: every token once, parallel columns agree with one
sequential pass, the validation split is the one the run validated on, per-token output."""

from __future__ import annotations

import json
import math
import shutil
from collections import Counter
from pathlib import Path

import pytest
import torch

from rnnlm.errors import RnnlmError
from rnnlm.inference.scoring import token_nats
from rnnlm.language_model import LanguageModel
from rnnlm.verbs.evaluate import evaluate


def test_columns_agree_with_one_sequential_pass(tiny_run: Path, shakespeare: str) -> None:
    lm = LanguageModel.load(tiny_run)
    ids = torch.as_tensor(lm.tokenizer.encode(shakespeare[-20_001:]))
    parallel = token_nats(lm.model, ids, columns=8, burn_in=256)
    sequential = token_nats(lm.model, ids, columns=1)
    assert len(parallel) == len(sequential) == 20_000
    # Only the first few tokens of each column can differ (state built from 256 tokens).
    assert abs(parallel.mean() - sequential.mean()) / math.log(2) < 0.005
    assert torch.allclose(parallel[:2000], sequential[:2000], atol=1e-5)  # column 0 is exact


def test_eval_val_split_matches_training(tiny_run: Path) -> None:
    result = evaluate(tiny_run)
    best = json.loads((tiny_run / "best" / "state.json").read_text())["val"]
    assert result.bits_per_char == pytest.approx(best["val_bits_per_char"], abs=1e-6)
    assert result.tokens == result.characters == 9_999 and result.source.endswith(":val")


def test_per_token_scores_add_up(tiny_run: Path, tmp_path: Path, shakespeare: str) -> None:
    text = tmp_path / "t.txt"
    text.write_text(shakespeare[-3000:])
    out = tmp_path / "scores.tsv"
    result = evaluate(tiny_run, text=text, per_token=out)
    rows = out.read_text(encoding="utf-8").splitlines()
    assert rows[0] == "offset\ttoken\tnats\tbits" and len(rows) == 1 + result.tokens == 3000
    bits = sum(float(r.split("\t")[3]) for r in rows[1:])
    assert bits == pytest.approx(result.to_dict()["total_bits"], rel=1e-5)
    assert result.to_dict().keys() >= {"bits_per_char", "bits_per_byte", "nats_per_token",
                                       "perplexity", "tokens", "characters"}


def test_model_beats_unigram_entropy(tiny_run: Path, shakespeare: str) -> None:
    counts = Counter(shakespeare)
    n = len(shakespeare)
    unigram = -sum(c / n * math.log2(c / n) for c in counts.values())
    assert 4.7 < unigram < 4.9  # the famous ~4.8 bits of a context-free character model
    assert evaluate(tiny_run).bits_per_char < unigram - 1.0


def test_unknown_characters_are_counted(tiny_run: Path, tmp_path: Path) -> None:
    text = tmp_path / "t.txt"
    text.write_text("ROMEO: ¿qué? ¡sí!\n")
    result = LanguageModel.load(tiny_run).score(text.read_text())
    assert result.unknown_tokens == 4


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
