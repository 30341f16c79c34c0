"""The GRU with hand-written BPTT (rnnlm's GRU on a CPU): exact gradients, and outputs,
states and gradients equal to nn.GRU with the same weights, with and without lengths."""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnlm.models.kernels.gru import GRURecurrence
from rnnlm.models.kernels.hoisted import GRU
from tests.models.kernels.test_elman import LENGTHS, live_mask


@pytest.mark.parametrize("lengths", LENGTHS)
@pytest.mark.parametrize("compiled", [False, True])
def test_gradcheck(compiled: bool, lengths: torch.Tensor | None) -> None:
    torch.manual_seed(0)
    steps, batch, hidden = 5, 3, 4
    xw = torch.randn(steps, batch, 3 * hidden, dtype=torch.double)
    h0 = torch.randn(batch, hidden, dtype=torch.double)
    w_hh = torch.randn(3 * hidden, hidden, dtype=torch.double) * 0.3
    b_hh = torch.randn(3 * hidden, dtype=torch.double)
    inputs = tuple(t.requires_grad_() for t in (xw, h0, w_hh, b_hh))
    live = live_mask(lengths, steps)
    assert torch.autograd.gradcheck(lambda *a: GRURecurrence.apply(*a, live, compiled), inputs)


def run(rnn: torch.nn.Module, x: torch.Tensor, h0: torch.Tensor,
        lengths: torch.Tensor | None) -> list[torch.Tensor]:
    """Outputs at real positions, final state, and every parameter's gradient."""
    rnn.zero_grad()
    if lengths is None:
        out, h_n = rnn(x, h0)
    elif isinstance(rnn, GRU):
        out, h_n = rnn(x, h0, lengths)
    else:  # nn.GRU skips padding through a packed sequence
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, h_n = rnn(packed, h0)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
    if lengths is not None:
        out = out * (torch.arange(x.shape[1])[None, :] < lengths[:, None])[:, :, None]
    (out.sin().sum() + h_n.pow(2).sum()).backward()
    return [out, h_n] + [p.grad for p in rnn.parameters()]


@pytest.mark.parametrize("lengths", LENGTHS)
@pytest.mark.parametrize("recurrence_kind", ["custom", "compiled"])
def test_equals_nn_gru(recurrence_kind: str, lengths: torch.Tensor | None) -> None:
    torch.manual_seed(0)
    reference = torch.nn.GRU(4, 6, 2, batch_first=True).double()
    ours = GRU(4, 6, 2, recurrence=recurrence_kind).double()
    ours.load_state_dict(reference.state_dict())
    x, h0 = torch.randn(3, 5, 4, dtype=torch.double), torch.randn(2, 3, 6, dtype=torch.double)
    for a, b in zip(run(reference, x, h0, lengths), run(ours, x, h0, lengths), strict=True):
        torch.testing.assert_close(b, a, atol=1e-10, rtol=0)


def test_fp32_through_onednn_equals_nn_gru() -> None:
    """At hidden 256 the per-step GEMMs of fp32 on a CPU take oneDNN."""
    torch.manual_seed(0)
    reference = torch.nn.GRU(32, 256, 2, batch_first=True)
    ours = GRU(32, 256, 2)
    ours.load_state_dict(reference.state_dict())
    x, h0 = torch.randn(4, 9, 32), torch.randn(2, 4, 256)
    for a, b in zip(run(reference, x, h0, None), run(ours, x, h0, None), strict=True):
        torch.testing.assert_close(b, a, atol=2e-4, rtol=1e-3)


def test_same_parameter_names_as_nn_gru() -> None:
    assert GRU(5, 8, 2).state_dict().keys() == torch.nn.GRU(5, 8, 2).state_dict().keys()
    with pytest.raises(ValueError, match="reference loop is nn.GRU"):
        GRU(5, 8, 2, recurrence="autograd")
