"""The CReLU Elman recurrence: exact gradients (gradcheck), half-width weights, and the whole
stacked layer equal to the plain autograd loop; --hidden must be even."""

from __future__ import annotations

import pytest
import torch

from rnnlm.config import ModelConfig, RunConfig
from rnnlm.errors import RnnlmError
from rnnlm.models.kernels.crelu import CReLURecurrence, crelu
from rnnlm.models.kernels.hoisted import ElmanRNN
from tests.models.kernels.test_elman import LENGTHS, live_mask


def test_crelu_is_the_concatenated_relu() -> None:
    x = torch.tensor([[-2.0, 0.0, 3.0]])
    assert torch.equal(crelu(x), torch.tensor([[0.0, 0.0, 3.0, 2.0, 0.0, 0.0]]))


@pytest.mark.parametrize("lengths", LENGTHS)
@pytest.mark.parametrize("compiled", [False, True])
def test_gradcheck(compiled: bool, lengths: torch.Tensor | None) -> None:
    torch.manual_seed(0)
    steps, batch, hidden = 5, 3, 6
    xw = torch.randn(steps, batch, hidden // 2, dtype=torch.double)
    xw = xw + 0.3 * xw.sign()  # keep clear of the kink at 0, where no slope exists
    h0 = torch.randn(batch, hidden, dtype=torch.double).relu() * 0.1
    w_hh = torch.randn(hidden // 2, hidden, dtype=torch.double) * 0.1
    inputs = tuple(t.requires_grad_() for t in (xw, h0, w_hh))
    live = live_mask(lengths, steps)
    assert torch.autograd.gradcheck(lambda *a: CReLURecurrence.apply(*a, live, compiled),
                                    inputs)


def test_a_layer_has_half_the_rows() -> None:
    rnn = ElmanRNN(5, 8, 2, "crelu")
    assert rnn.weight_ih_l0.shape == (4, 5) and rnn.weight_hh_l1.shape == (4, 8)
    assert rnn.weight_ih_l1.shape == (4, 8) and rnn.bias_hh_l0.shape == (4,)
    out, h_n = rnn(torch.randn(2, 3, 5))
    assert out.shape == (2, 3, 8) and h_n.shape == (2, 2, 8)
    assert (out >= 0).all() and ((out[..., :4] > 0) & (out[..., 4:] > 0)).sum() == 0


@pytest.mark.parametrize("lengths", LENGTHS)
@pytest.mark.parametrize("recurrence", ["custom", "compiled"])
def test_equals_plain_loop(recurrence: str, lengths: torch.Tensor | None) -> None:
    torch.manual_seed(0)
    plain = ElmanRNN(4, 6, 2, "crelu", recurrence="autograd").double()
    fast = ElmanRNN(4, 6, 2, "crelu", recurrence=recurrence).double()
    fast.load_state_dict(plain.state_dict())
    x = torch.randn(3, 5, 4, dtype=torch.double) * 2
    h0 = torch.randn(2, 3, 6, dtype=torch.double).relu()
    results = []
    for rnn in (plain, fast):
        out, h_n = rnn(x, h0, lengths)
        (out.sin().sum() + h_n.pow(2).sum()).backward()
        results.append([out, h_n] + [p.grad for p in rnn.parameters()])
    for a, b in zip(*results, strict=True):
        torch.testing.assert_close(b, a, atol=1e-6, rtol=0)


def test_odd_hidden_is_refused() -> None:
    cfg = RunConfig(model=ModelConfig(cell="rnn", activation="crelu", hidden=7))
    with pytest.raises(RnnlmError, match="crelu needs an even --hidden"):
        cfg.resolve()
