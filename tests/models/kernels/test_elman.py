"""The Elman recurrence with hand-written BPTT: exact gradients (gradcheck), outputs, states
and gradients equal to the plain autograd loop, bf16 autocast (also the GRU's), and the eager
fallback."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from rnnlm.models.kernels import elman, torchscript
from rnnlm.models.kernels.elman import ACTIVATIONS, ElmanRecurrence
from rnnlm.models.kernels.hoisted import GRU, ElmanRNN, HoistedRNN

LENGTHS = [None, torch.tensor([5, 1, 3])]  # without, and with rows that stop early
ELEMENTWISE = [a for a in ACTIVATIONS if a != "crelu"]  # crelu has its own loops (test_crelu)


def live_mask(lengths: torch.Tensor | None, steps: int) -> torch.Tensor | None:
    """(T, B, 1) bool: where a row still has real input."""
    if lengths is None:
        return None
    return (torch.arange(steps)[:, None] < lengths[None, :])[:, :, None]


@pytest.mark.parametrize("lengths", LENGTHS)
@pytest.mark.parametrize("compiled", [False, True])
@pytest.mark.parametrize("activation", ELEMENTWISE)
def test_gradcheck(activation: str, compiled: bool, lengths: torch.Tensor | None) -> None:
    torch.manual_seed(0)
    steps, batch, hidden = 5, 3, 4
    xw = torch.randn(steps, batch, hidden, dtype=torch.double) * 2
    if activation in ("relu", "relu6"):  # keep clear of the kinks, where no slope exists
        xw = xw + 0.3 * xw.sign()
    h0 = torch.randn(batch, hidden, dtype=torch.double) * 0.1
    w_hh = torch.randn(hidden, hidden, dtype=torch.double) * 0.1
    inputs = tuple(t.requires_grad_() for t in (xw, h0, w_hh))
    live = live_mask(lengths, steps)
    assert torch.autograd.gradcheck(
        lambda *a: ElmanRecurrence.apply(*a, live, activation, compiled), inputs)


@pytest.mark.parametrize("lengths", LENGTHS)
@pytest.mark.parametrize("recurrence_kind", ["custom", "compiled"])
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_equals_plain_loop(activation: str, recurrence_kind: str,
                           lengths: torch.Tensor | None) -> None:
    torch.manual_seed(0)
    plain = ElmanRNN(4, 6, 2, activation, recurrence="autograd").double()
    fast = ElmanRNN(4, 6, 2, activation, recurrence=recurrence_kind).double()
    fast.load_state_dict(plain.state_dict())
    x = torch.randn(3, 5, 4, dtype=torch.double) * 2
    h0 = torch.randn(2, 3, 6, dtype=torch.double)
    results = []
    for rnn in (plain, fast):
        out, h_n = rnn(x, h0, lengths)
        (out.sin().sum() + h_n.pow(2).sum()).backward()
        results.append([out, h_n] + [p.grad for p in rnn.parameters()])
    for a, b in zip(*results, strict=True):
        torch.testing.assert_close(b, a, atol=1e-6, rtol=0)


def test_same_parameter_names_as_nn_rnn() -> None:
    fused = torch.nn.RNN(5, 8, num_layers=2, batch_first=True)
    assert ElmanRNN(5, 8, 2, "elu").state_dict().keys() == fused.state_dict().keys()


def test_dropout_between_layers_only_in_training() -> None:
    torch.manual_seed(0)
    rnn = ElmanRNN(4, 16, 2, "softsign", dropout=0.5)
    x = torch.randn(2, 6, 4)
    assert not torch.equal(rnn(x)[0], rnn(x)[0])  # a new mask each call
    rnn.eval()
    torch.testing.assert_close(rnn(x)[0], rnn(x)[0])


@pytest.mark.parametrize("make", [lambda: ElmanRNN(8, 16, 2, "sigmoid"), lambda: GRU(8, 16, 2)],
                         ids=["elman", "gru"])
def test_bf16_autocast_is_close_to_fp32(make: Callable[[], HoistedRNN]) -> None:
    torch.manual_seed(0)
    rnn = make()
    x = torch.randn(4, 7, 8)
    reference, _ = rnn(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, h_n = rnn(x)
    assert out.dtype == torch.bfloat16 and h_n.dtype == torch.bfloat16
    assert (out.float() - reference).abs().max() < 0.05
    out.float().sum().backward()
    assert rnn.weight_hh_l0.grad.dtype == rnn.bias_hh_l0.grad.dtype == torch.float32


def test_fallback_when_compilation_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(fn: object) -> object:
        raise RuntimeError("no compiler here\nsecond line")

    monkeypatch.setattr(torch.jit, "script", broken)
    torchscript.reset_compiled()
    try:
        rnn = ElmanRNN(4, 6, 1, "elu", recurrence="compiled").double()
        x = torch.randn(2, 3, 4, dtype=torch.double)
        with pytest.warns(RuntimeWarning, match=r"not compiled \(no compiler here\)") as seen:
            out, _ = rnn(x)
            out.sum().backward()
            rnn(x)  # the warning comes once
        assert len(seen) == 1 and "second line" not in str(seen[0].message)
        assert torchscript._compiled["Elman"][0] is elman.forward_loop
        eager = ElmanRNN(4, 6, 1, "elu", recurrence="autograd").double()
        eager.load_state_dict(rnn.state_dict())
        torch.testing.assert_close(eager(x)[0], out)
    finally:
        torchscript.reset_compiled()


def test_unknown_recurrence_is_refused() -> None:
    with pytest.raises(ValueError, match="recurrence must be one of"):
        ElmanRNN(4, 6, 1, "elu", recurrence="cuda")


def test_one_list_of_activations() -> None:
    """The names --activation takes, the functions, and the kernel's in-place versions agree."""
    from rnnlm import config
    from rnnlm.models.kernels.elman import activate_

    assert tuple(ACTIVATIONS) == config.ACTIVATIONS
    x = torch.linspace(-8, 8, 101, dtype=torch.double)
    for name in ELEMENTWISE:
        fn, y = ACTIVATIONS[name], x.clone()
        activate_(y, name)
        torch.testing.assert_close(y, fn(x), rtol=0, atol=1e-12, msg=name)
