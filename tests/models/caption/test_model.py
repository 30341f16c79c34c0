"""Show, Attend and Tell: attention over the grid, the two searches, the doubly stochastic
loss."""

from __future__ import annotations

import torch

from rnnlm.config import CaptionConfig, ModelConfig
from rnnlm.inference.beam import beam_search, greedy
from rnnlm.models.caption.model import ShowAttendTell, doubly_stochastic


def model(cell: str = "lstm", layers: int = 1) -> ShowAttendTell:
    """A small random captioner over the scratch CNN's grid."""
    torch.manual_seed(0)
    cfg = ModelConfig(cell=cell, layers=layers, hidden=24, embedding=12, dropout=0.0,
                      vocab_size=30)
    return ShowAttendTell(cfg, CaptionConfig(captions="x", encoder="cnn", grid=4)).eval()


def test_attention_sums_to_one_over_the_grid() -> None:
    m = model(layers=2)
    images = torch.randint(0, 256, (3, 3, 96, 80), dtype=torch.uint8)
    features = m.features(images)  # (3, 16, C)
    out = m(features, torch.randint(0, 28, (3, 7)))
    assert out.logits.shape == (3, 7, 30) and out.weights.shape == (3, 7, 16)
    torch.testing.assert_close(out.weights.sum(-1), torch.ones(3, 7))
    assert (out.weights > 0).all()  # soft attention: every cell gets some weight


def test_step_equals_teacher_forcing() -> None:
    m = model(cell="gru")
    features = torch.randn(2, 16, m.encoder.channels)
    tokens = torch.randint(0, 28, (2, 5))
    forced = torch.log_softmax(m(features, tokens).logits, -1)  # (2, 5, V)
    memory, state = m.encode(features)
    for t in range(5):
        logp, state, _ = m.step(tokens[:, t], state, memory)
        torch.testing.assert_close(logp, forced[:, t], atol=1e-5, rtol=1e-5)


def test_beam_one_equals_greedy() -> None:
    m = model()
    features = torch.randn(4, 16, m.encoder.channels)
    memory, state = m.encode(features)
    g = greedy(m, memory, state, 28, 29, [12] * 4)
    b = beam_search(m, memory, state, 28, 29, 1, [12] * 4)
    assert [h.ids for h in g] == [h[0].ids for h in b]
    for x, y in zip(g, b, strict=True):
        assert abs(x.logp - y[0].logp) < 1e-6


def test_doubly_stochastic_counts_real_steps_only() -> None:
    weights = torch.tensor([[[0.5, 0.5], [0.5, 0.5], [0.0, 1.0]]])  # (1, T=3, S=2)
    # over the two real steps each cell got 1: no loss; the padded third step must not count
    assert float(doubly_stochastic(weights, torch.tensor([[True, True, False]]))) == 0.0
    # had it been real, the cells would have got 1 and 2: (1 − 1)² + (1 − 2)² = 1
    assert float(doubly_stochastic(weights, torch.tensor([[True, True, True]]))) == 1.0


def test_search_never_writes_forbidden_ids() -> None:
    m = model()
    features = torch.randn(6, 16, m.encoder.channels)
    memory, state = m.encode(features)
    common = [h.ids[0] for h in greedy(m, memory, state, 28, 29, [3] * 6)]
    m.forbid([*common, 28])  # every first word greedy chose, and BOD
    again = greedy(m, memory, state, 28, 29, [8] * 6)
    assert all(not set(h.ids) & {*common, 28} for h in again)
    assert "banned" not in m.state_dict()  # not a weight: loading a run sets it again
