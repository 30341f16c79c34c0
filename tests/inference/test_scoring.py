"""Full-pass scoring and `rnnlm eval`: every token once, parallel columns agree with one
sequential pass, the validation split is the one the run validated on, per-token output."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import pytest
import torch

from rnnlm.data.documents import Boundaries, encode_documents
from rnnlm.data.tokens import DocumentIds, TokenArray
from rnnlm.inference.scoring import (
    WHOLE,
    column_totals,
    document_nats,
    document_totals,
    token_nats,
)
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


def test_totals_read_in_windows_equal_the_full_vectors(tiny_run: Path, shakespeare: str) -> None:
    """The constant-memory totals that validation uses equal the per-token scores summed,
    for a stream and for documents spread over many batches."""
    lm = LanguageModel.load(tiny_run)
    ids = lm.tokenizer.encode(shakespeare[-30_001:])
    nats = WHOLE.total(column_totals(lm.model, TokenArray(ids), lm.device))
    full = token_nats(lm.model, torch.as_tensor(ids))
    assert len(full) == len(ids) - 1
    assert nats == pytest.approx(float(full.double().sum()), rel=1e-9)
    docs = [line for line in shakespeare[:20_000].split("\n") if line]
    # A stream model has no boundary ids: ids 1 and 2 stand in for BOD and EOD.
    seqs = encode_documents(lm.tokenizer, docs, Boundaries(1, 2))
    per_doc = document_nats(lm.model, seqs, lm.device)
    totals = document_totals(lm.model, DocumentIds.from_seqs(seqs), lm.device,
                             budget=5000 * lm.model.cfg.vocab_size)  # many batches
    assert len(totals) == len(per_doc)
    # float32 forwards over batches of other shapes: equal to float32 rounding
    assert torch.allclose(totals, torch.stack([n.double().sum() for n in per_doc]), rtol=1e-5)


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




