"""Documents: formats, clear errors, splits by count, truncation and chunks, length buckets,
and state carried across chunks exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnlm.config import ModelConfig
from rnnlm.data import buckets
from rnnlm.data.buckets import DocumentBatches, pad_batch
from rnnlm.data.documents import (
    Boundaries,
    DocumentPieces,
    cut_documents,
    document_characters,
    encode_documents,
    parse_documents,
    split_documents,
)
from rnnlm.errors import RnnlmError
from rnnlm.models.rnn import RNNLanguageModel
from rnnlm.tokenizers import CharTokenizer
from tests.conftest import DATA


@pytest.fixture(scope="module")
def abstracts() -> list[str]:
    """The first 400 real abstracts."""
    text = (DATA / "arxiv-abstracts" / "abstracts.txt").read_text(encoding="utf-8")
    return parse_documents(text, "lines", "abstracts")[:400]


def test_formats() -> None:
    assert parse_documents("a b\n\nc\r\n  \nd", "lines", "t") == ["a b", "c", "d"]
    assert parse_documents("p1 l1\np1 l2\n\n \n\np2\n", "blank", "t") == ["p1 l1\np1 l2", "p2"]
    jsonl = '{"text": "one", "id": 1}\n\n{"text": "two\\nlines"}\n'
    assert parse_documents(jsonl, "jsonl:text", "t") == ["one", "two\nlines"]


@pytest.mark.parametrize(("text", "fmt", "message"), [
    ("\n \n\n", "lines", "no non-empty documents"),
    ('{"text": ""}\n{"text": "  "}', "jsonl:text", "no non-empty documents"),
    ('{"text": "a"}\n{"text": "b"\n', "jsonl:text", "line 2 is not JSON"),
    ('{"text": "a"}\n\n{"body": "b"}\n', "jsonl:text", "line 3 has no field 'text'"),
    ('{"text": 3}', "jsonl:text", "line 1: field 'text' is int"),
    ("a", "paragraphs", "--documents must be"),
])
def test_bad_documents(text: str, fmt: str, message: str) -> None:
    with pytest.raises(RnnlmError, match=message):
        parse_documents(text, fmt, "corpus.txt")


def test_split_holds_out_the_last_documents_by_count() -> None:
    text = "\n".join(f"doc {i}" for i in range(100))
    splits = split_documents({"all": text}, "lines", "t", 0.05)
    assert splits["val"] == [f"doc {i}" for i in range(95, 100)]
    assert len(splits["train"]) == 95 and splits["test"] == []
    with pytest.raises(RnnlmError, match="too few"):
        split_documents({"all": "just one document"}, "lines", "t", 0.05)


def test_eod_counts_as_one_character() -> None:
    assert document_characters(["ab", "é"]) == (5, 6)  # 2 + 1 + 1 + 1 chars; é is 2 bytes


def test_truncation_is_counted_and_chunks_overlap_by_one(capsys: pytest.CaptureFixture) -> None:
    bod, eod = 100, 101
    seqs = [np.array([bod, *range(1, 11), eod]), np.array([bod, 1, 2, eod])]  # 11 and 3 predicted
    seq = seqs[0].tolist()

    def pieces(cut: DocumentPieces, d: int) -> list[list[int]]:
        return [cut.piece(d, r).tolist() for r in range(cut.count(d))]

    cut = cut_documents(seqs, max_length=5, chunk=None)
    assert [cut.length(d, 0) for d in range(2)] == [6, 4]
    assert pieces(cut, 0) == [seq[:6]]  # truncated: no EOD
    assert "1 of 2 documents are longer than --max-length 5" in capsys.readouterr().err
    assert pieces(cut_documents(seqs, None, chunk=5), 0) == [seq[:6], seq[5:11], seq[10:]]
    both = cut_documents(seqs, max_length=7, chunk=5)  # truncated first, then cut
    assert pieces(both, 0) == [seq[:6], seq[5:8]]
    assert pieces(cut_documents(seqs, None, chunk=0), 0) == [seq]
    assert pieces(cut_documents(seqs, None, chunk=5), 1) == [seqs[1].tolist()]


def test_buckets_pad_less_than_random_batches(abstracts: list[str]) -> None:
    tok = CharTokenizer.fit("".join(abstracts))
    pieces = cut_documents(encode_documents(tok, abstracts, Boundaries.after(tok)), None, None)
    bucketed = DocumentBatches(pieces, 16, seed=0).padding_fraction()
    shuffled = DocumentBatches(pieces, 16, seed=0, bucketed=False).padding_fraction()
    assert bucketed < 0.1 < 0.3 < shuffled
    batches = DocumentBatches(pieces, 16, seed=0)
    seen = []
    for _ in batches.plan(0):
        batch, _ = batches.next()
        seen += [d for d, _ in batch.keys]
    assert sorted(seen) == list(range(len(abstracts)))  # an epoch is every document once
    assert batches.next()[1]  # and then the next epoch starts


def test_buckets_sort_a_pool_at_a_time(abstracts: list[str], monkeypatch) -> None:
    """Pools of 192 documents (each sorted by length, no corpus-wide sort) still pad far less
    than random batches and give every document once an epoch, in whole batches but the last."""
    tok = CharTokenizer.fit("".join(abstracts))
    pieces = cut_documents(encode_documents(tok, abstracts, Boundaries.after(tok)), None, None)
    whole_sort = DocumentBatches(pieces, 16, seed=0).padding_fraction()  # one pool of 400
    monkeypatch.setattr(buckets, "POOL", 200)
    pooled = DocumentBatches(pieces, 16, seed=0)
    plan = list(pooled.plan(0))
    assert sorted(d for keys in plan for d, _ in keys) == list(range(len(abstracts)))
    assert [len(keys) for keys in plan[:-1]] == [16] * (len(plan) - 1)
    random = DocumentBatches(pieces, 16, seed=0, bucketed=False).padding_fraction()
    assert whole_sort < pooled.padding_fraction() < 0.5 * random


def test_chunks_carry_the_state_exactly(abstracts: list[str]) -> None:
    """Scoring chunked documents batch by batch, carrying state, equals scoring them whole."""
    docs = abstracts[:24]
    tok = CharTokenizer.fit("".join(docs))
    seqs = encode_documents(tok, docs, Boundaries.after(tok))
    torch.manual_seed(0)
    model = RNNLanguageModel(ModelConfig(layers=2, hidden=16, embedding=8, dropout=0.0,
                                         vocab_size=tok.vocab_size + 2)).double().eval()
    whole = []
    for s in seqs:
        x, y, _ = pad_batch([s])
        whole.append(torch.nn.functional.cross_entropy(model(x)[0][0], y[0], reduction="sum"))
    batches = DocumentBatches(cut_documents(seqs, None, chunk=100), 5, seed=3)
    assert batches.max_pieces > 3
    total = torch.zeros(len(docs), dtype=torch.float64)
    for _ in batches.plan(0):
        batch, _ = batches.next()
        logits, final = model(batch.inputs, batches.initial_state(batch), batch.lengths)
        batches.keep(batch, final)
        nats = torch.nn.functional.cross_entropy(logits.transpose(1, 2), batch.targets,
                                                 reduction="none").sum(1)  # (B,)
        for row, (d, _) in enumerate(batch.keys):
            total[d] += nats[row]
    assert torch.allclose(total, torch.stack(whole), rtol=1e-9)
    assert not batches.carried  # every carried state was used
