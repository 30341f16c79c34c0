"""The recurrent LM: every cell and activation, one-hot input, tying, the custom Elman cell."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rnnlm.config import ACTIVATIONS, ModelConfig
from rnnlm.models.kernels.hoisted import GRU, ElmanRNN
from rnnlm.models.rnn import RNNLanguageModel, grow_vocab


def model(**kw: object) -> RNNLanguageModel:
    cfg = ModelConfig(layers=2, hidden=32, embedding=8, dropout=0.0, vocab_size=11)
    for k, v in kw.items():
        setattr(cfg, k, v)
    return RNNLanguageModel(cfg)


@pytest.mark.parametrize("cell,activation", [("lstm", "tanh"), ("gru", "tanh")]
                         + [("rnn", a) for a in ACTIVATIONS])
def test_shapes_and_state(cell: str, activation: str) -> None:
    m = model(cell=cell, activation=activation)
    ids = torch.randint(0, 11, (3, 7))
    logits, state = m(ids)
    assert logits.shape == (3, 7, 11)
    h = state[0] if isinstance(state, tuple) else state
    assert h.shape == (2, 3, 32)
    # Carrying the state equals running the whole sequence at once.
    first, s1 = m(ids[:, :4])
    second, _ = m(ids[:, 4:], s1)
    torch.testing.assert_close(torch.cat([first, second], 1), logits)


def test_fastest_block_for_the_device() -> None:
    cfg = ModelConfig(layers=2, hidden=32, embedding=8, vocab_size=11)
    kinds = {(cell, act, device): type(RNNLanguageModel(
        ModelConfig(**{**vars(cfg), "cell": cell, "activation": act}), device).rnn)
        for cell, act in [("lstm", "tanh"), ("gru", "tanh"), ("rnn", "relu"), ("rnn", "elu")]
        for device in ("cpu", "cuda")}
    assert kinds[("lstm", "tanh", "cpu")] is kinds[("lstm", "tanh", "cuda")] is nn.LSTM
    assert kinds[("gru", "tanh", "cpu")] is GRU and kinds[("gru", "tanh", "cuda")] is nn.GRU
    assert kinds[("rnn", "relu", "cpu")] is ElmanRNN and kinds[("rnn", "relu", "cuda")] is nn.RNN
    assert kinds[("rnn", "elu", "cpu")] is kinds[("rnn", "elu", "cuda")] is ElmanRNN
    assert model(cell="lstm", dropout=0.3).rnn.dropout == 0.3  # between layers
    assert model(cell="gru", dropout=0.3).rnn.dropout == 0.3


def test_custom_elman_equals_fused_rnn() -> None:
    torch.manual_seed(0)
    fused = nn.RNN(5, 16, num_layers=2, batch_first=True)
    custom = ElmanRNN(5, 16, 2, "tanh")
    custom.load_state_dict(fused.state_dict())
    x, h0 = torch.randn(4, 9, 5), torch.randn(2, 4, 16)
    (out_f, h_f), (out_c, h_c) = fused(x, h0), custom(x, h0)
    torch.testing.assert_close(out_c, out_f)
    torch.testing.assert_close(h_c, h_f)
    out_f.sum().backward()
    out_c.sum().backward()
    torch.testing.assert_close(custom.weight_hh_l0.grad, fused.weight_hh_l0.grad)


@pytest.mark.parametrize("activation,low,high", [("relu6", 0, 6), ("sigmoid", 0, 1),
                                                 ("softsign", -1, 1), ("softplus", 0, None)])
def test_activation_ranges(activation: str, low: float, high: float | None) -> None:
    rnn = ElmanRNN(3, 8, 1, activation)
    out, _ = rnn(torch.randn(2, 5, 3) * 10)
    assert out.min() >= low and (high is None or out.max() <= high)


def test_one_hot_input_and_tied_weights() -> None:
    one_hot = model(embedding=0)
    assert one_hot.embed is None and one_hot.rnn.input_size == 11
    assert one_hot(torch.randint(0, 11, (2, 3)))[0].shape == (2, 3, 11)
    tied = model(embedding=32, tie_weights=True)
    assert tied.head.weight is tied.embed.weight


@pytest.mark.parametrize("embedding,tie", [(8, False), (0, False), (32, True)])
def test_grow_vocab_keeps_old_predictions(embedding: int, tie: bool) -> None:
    old = model(embedding=embedding, tie_weights=tie)
    weights = grow_vocab(old.state_dict(), old.cfg, 14)
    new = model(embedding=embedding, tie_weights=tie, vocab_size=14)
    new.load_state_dict(weights)
    ids = torch.randint(0, 11, (2, 6))
    torch.testing.assert_close(new(ids)[0][..., :11], old(ids)[0])
