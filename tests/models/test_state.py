"""The masked loss (state.lm_loss): padding never changes it. Padded + masked equals each
document alone, packed equals padded + masked (loss, gradients, final states), and the
lecture's unmasked loss is wrong."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnlm.config import ModelConfig
from rnnlm.data.buckets import pad_batch
from rnnlm.data.documents import Boundaries, encode_documents
from rnnlm.models.rnn import RNNLanguageModel
from rnnlm.models.state import lm_loss
from rnnlm.tokenizers import CharTokenizer
from tests.conftest import DATA

CELLS = [("lstm", "tanh"), ("gru", "tanh"), ("rnn", "tanh"), ("rnn", "softsign")]


@pytest.fixture(scope="module")
def abstracts() -> list[str]:
    """Real abstracts of very different lengths: the shortest, ~150, ~600 and ~1500 chars."""
    lines = (DATA / "arxiv-abstracts" / "abstracts.txt").read_text(encoding="utf-8").split("\n")
    lines = sorted((x for x in lines if x), key=len)
    picks = [lines[0]] + [next(x for x in lines if len(x) >= n) for n in (150, 600, 1500)]
    assert len(picks[0]) < 20 and len(picks[-1]) >= 1500
    return picks


def setup(abstracts: list[str], cell: str, activation: str
          ) -> tuple[RNNLanguageModel, list[np.ndarray]]:
    """A small float64 model (no dropout) and the documents as BOD .. EOD ids."""
    tok = CharTokenizer.fit("".join(abstracts))
    torch.manual_seed(0)
    cfg = ModelConfig(cell=cell, activation=activation, layers=2, hidden=16, embedding=8,
                      dropout=0.0, vocab_size=tok.vocab_size + 2)
    model = RNNLanguageModel(cfg).double()
    return model, encode_documents(tok, abstracts, Boundaries.after(tok))


def alone(model: RNNLanguageModel, seq: np.ndarray) -> tuple[torch.Tensor, object]:
    """Summed nats of one document run by itself (no padding), and its final state."""
    ids = torch.from_numpy(seq)[None]  # (1, n + 1)
    logits, state = model(ids[:, :-1])
    return lm_loss(logits, ids[:, 1:]) * (len(seq) - 1), state


def grads(model: RNNLanguageModel) -> list[torch.Tensor]:
    """A copy of every gradient, then cleared."""
    out = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    return out


def states(state: object) -> tuple[torch.Tensor, ...]:
    """A state as a tuple of tensors."""
    return state if isinstance(state, tuple) else (state,)


@pytest.mark.parametrize(("cell", "activation"), CELLS)
def test_masked_loss_equals_documents_alone(abstracts: list[str], cell: str,
                                            activation: str) -> None:
    model, seqs = setup(abstracts, cell, activation)
    x, y, lengths = pad_batch(seqs)
    masked = lm_loss(model(x)[0], y)
    total = sum(alone(model, s)[0] for s in seqs) / lengths.sum()
    assert abs(masked.item() - total.item()) < 1e-5


@pytest.mark.parametrize(("cell", "activation"), CELLS)
def test_packed_equals_padded_and_final_states_are_true(abstracts: list[str], cell: str,
                                                        activation: str) -> None:
    model, seqs = setup(abstracts, cell, activation)
    x, y, lengths = pad_batch(seqs)
    padded = lm_loss(model(x)[0], y)
    padded.backward()
    padded_grads = grads(model)
    logits, final = model(x, None, lengths)
    packed = lm_loss(logits, y)
    packed.backward()
    assert abs(padded.item() - packed.item()) < 1e-5
    for a, b in zip(padded_grads, grads(model), strict=True):
        assert torch.allclose(a, b, atol=1e-5, rtol=0)
    for row, seq in enumerate(seqs):  # the state after each document's last real token
        _, own = alone(model, seq)
        for part, own_part in zip(states(final), states(own), strict=True):
            assert torch.allclose(part[:, row], own_part[:, 0], atol=1e-6, rtol=0)


def test_the_unmasked_loss_of_the_lecture_is_wrong(abstracts: list[str]) -> None:
    model, seqs = setup(abstracts, "lstm", "tanh")
    x, y, _ = pad_batch(seqs)
    logits = model(x)[0]
    right = lm_loss(logits, y)
    naive = lm_loss(logits, y.clamp_min(0))  # the pad id scored as if it were a character
    assert y.lt(0).float().mean() > 0.3  # these documents really are padded a lot
    assert abs(naive.item() - right.item()) / right.item() > 0.01  # even untrained: >1%


@pytest.mark.parametrize("pack", [False, True])
def test_batch_composition_never_changes_a_documents_loss(abstracts: list[str],
                                                           pack: bool) -> None:
    model, seqs = setup(abstracts, "lstm", "tanh")
    reference = [alone(model, s)[0].item() for s in seqs]
    for batch in ([0, 3], [1, 2, 3], [0, 1], [3, 2, 1, 0]):  # different padding amounts
        x, y, lengths = pad_batch([seqs[i] for i in batch])
        logits, _ = model(x, None, lengths if pack else None)
        nats = torch.nn.functional.cross_entropy(logits.transpose(1, 2), y, ignore_index=-100,
                                                 reduction="none").sum(1)  # (B,)
        for row, i in enumerate(batch):
            assert abs(nats[row].item() - reference[i]) < 1e-6 * max(1.0, reference[i])
