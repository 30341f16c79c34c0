"""The Stepper computes the model's own logits, step by step, for every cell it handles."""

from __future__ import annotations

import pytest
import torch

from rnnlm.config import ModelConfig
from rnnlm.inference import stepper as stepper_module
from rnnlm.inference.stepper import Stepper, supports
from rnnlm.models.rnn import RNNLanguageModel

CASES = [("lstm", "tanh"), ("gru", "tanh"), ("rnn", "tanh"), ("rnn", "softsign"), ("rnn", "crelu")]


def model(cell: str, activation: str, layers: int, embedding: int, tie: bool = False
          ) -> RNNLanguageModel:
    torch.manual_seed(0)
    cfg = ModelConfig(cell=cell, activation=activation, layers=layers, hidden=24,
                      embedding=embedding, vocab_size=13, dropout=0.0, tie_weights=tie)
    return RNNLanguageModel(cfg).eval()


def check_steps(m: RNNLanguageModel, batch: int = 3, steps: int = 12) -> None:
    """The stepper's logits and final state equal the model's over a random sequence."""
    ids = torch.randint(0, m.cfg.vocab_size, (batch, steps))
    with torch.no_grad():
        expected, state = m(ids)  # (B, T, V)
    st = Stepper(m, batch)
    st.load_state(None)
    for t in range(steps):
        torch.testing.assert_close(st.step(ids[:, t]), expected[:, t], atol=1e-5, rtol=1e-5)
    for got, want in zip(st.state() if m.cfg.cell == "lstm" else [st.state()],
                         state if m.cfg.cell == "lstm" else [state], strict=True):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("cell,activation", CASES)
@pytest.mark.parametrize("layers", [1, 3])
@pytest.mark.parametrize("embedding", [0, 8])
def test_stepper_logits_equal_the_model(cell: str, activation: str, layers: int,
                                        embedding: int) -> None:
    assert supports(model(cell, activation, layers, embedding))
    check_steps(model(cell, activation, layers, embedding))


@pytest.mark.parametrize("cell,activation", CASES)
def test_tied_weights(cell: str, activation: str) -> None:
    check_steps(model(cell, activation, 2, 24, tie=True))


@pytest.mark.parametrize("cell,activation", [("lstm", "tanh"), ("gru", "tanh"),
                                             ("rnn", "tanh"), ("rnn", "crelu")])
def test_embedding_without_table(cell: str, activation: str,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A vocabulary too large for a first-layer table: embedding row, then the GEMM."""
    monkeypatch.setattr(stepper_module, "TABLE_LIMIT", -(10**9))
    m = model(cell, activation, 2, 8)
    assert Stepper(m, 1).table is None
    check_steps(m)


def test_one_primed_state_serves_every_stream() -> None:
    m = model("lstm", "tanh", 2, 8)
    ids = torch.randint(0, 13, (1, 20))
    with torch.no_grad():
        expected, _ = m(ids)  # (1, 20, V)
        _, primed = m(ids[:, :15])  # (L, 1, H) each
    st = Stepper(m, 4)
    st.load_state(primed)
    for t in range(15, 20):
        got = st.step(ids[0, t].repeat(4))  # (4, V)
        torch.testing.assert_close(got, expected[0, t].expand(4, -1), atol=1e-5, rtol=1e-5)


def test_bf16_is_close() -> None:
    m = model("lstm", "tanh", 2, 8)
    ids = torch.randint(0, 13, (2, 10))
    with torch.no_grad():
        expected, _ = m(ids)
    st = Stepper(m, 2, "bf16")
    st.load_state(None)
    for t in range(10):
        torch.testing.assert_close(st.step(ids[:, t]), expected[:, t], atol=0.05, rtol=0.05)


@pytest.mark.parametrize("cell,activation", CASES)
def test_a_shared_stepper_reuses_the_weights(cell: str, activation: str) -> None:
    """A Stepper of another batch size built with share= computes the same logits, on the
    same weight tensors."""
    m = model(cell, activation, 2, 8)
    first = Stepper(m, 1)
    st = Stepper(m, 5, share=first)
    assert st.weights is first.weights and st.w_head is first.w_head
    ids = torch.randint(0, 13, (5, 6))
    with torch.no_grad():
        expected, _ = m(ids)
    st.load_state(None)
    for t in range(6):
        torch.testing.assert_close(st.step(ids[:, t]), expected[:, t], atol=1e-5, rtol=1e-5)
