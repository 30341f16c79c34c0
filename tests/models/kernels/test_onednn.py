"""fp32 GEMMs through oneDNN equal PyTorch's: the linear layer (values and all three
gradients) and the recurrences' per-step GEMM."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rnnlm.models.kernels import onednn
from rnnlm.models.kernels.hoisted import ElmanRNN

needs_onednn = pytest.mark.skipif(not onednn.ONEDNN, reason="this torch has no oneDNN")


@needs_onednn
@pytest.mark.parametrize("bias", [True, False])
def test_linear_equals_f_linear(bias: bool) -> None:
    torch.manual_seed(0)
    x = torch.randn(3, 7, 48, requires_grad=True)
    w = torch.randn(40, 48, requires_grad=True)
    b = torch.randn(40, requires_grad=True) if bias else None
    results = []
    for fn in (F.linear, onednn.linear):
        for t in (x, w, b):
            if t is not None:
                t.grad = None
        y = fn(x, w, b)
        y.sin().sum().backward()
        results.append([y, x.grad, w.grad] + ([b.grad] if bias else []))
    for a, c in zip(*results, strict=True):
        torch.testing.assert_close(c, a, atol=1e-4, rtol=1e-4)


def test_linear_leaves_other_dtypes_and_autocast_to_pytorch() -> None:
    x, w = torch.randn(5, 8, dtype=torch.double), torch.randn(3, 8, dtype=torch.double)
    assert onednn.linear(x, w).grad_fn is None  # plain F.linear, no custom node
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert onednn.linear(x.float(), w.float()).dtype == torch.bfloat16


@needs_onednn
def test_recurrence_steps_through_onednn_equal_addmm(monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    rnn = ElmanRNN(16, onednn.STEP_FROM, 1, "softsign")
    x = torch.randn(2, 6, 16)
    results = []
    for available in (False, True):
        monkeypatch.setattr(onednn, "ONEDNN", available)
        rnn.zero_grad()
        out, _ = rnn(x)
        out.sum().backward()
        results.append([out, rnn.weight_hh_l0.grad, rnn.weight_ih_l0.grad])
    for a, c in zip(*results, strict=True):
        torch.testing.assert_close(c, a, atol=1e-4, rtol=1e-4)
