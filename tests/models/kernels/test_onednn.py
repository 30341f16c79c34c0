"""fp32 GEMMs through oneDNN equal PyTorch's: the linear layer (values and all three
gradients) and the recurrences' per-step GEMM, and a private op that fails its probe leaves
the public ops in charge."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

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


@needs_onednn
@pytest.mark.parametrize("bias", [True, False])
def test_forced_public_linear_gives_the_private_ops_numbers(monkeypatch: pytest.MonkeyPatch,
                                                            bias: bool) -> None:
    """linear with ONEDNN forced off is plain F.linear, and its values and three gradients are
    the oneDNN path's."""
    torch.manual_seed(1)
    x = torch.randn(4, 5, 32, requires_grad=True)
    w = torch.randn(24, 32, requires_grad=True)
    b = torch.randn(24, requires_grad=True) if bias else None
    results = []
    for private in (True, False):
        monkeypatch.setattr(onednn, "ONEDNN", private)
        for t in (x, w, b):
            if t is not None:
                t.grad = None
        y = onednn.linear(x, w, b)
        assert ("DnnLinear" in type(y.grad_fn.next_functions[0][0]).__name__) is private
        y.cos().sum().backward()
        results.append([y, x.grad, w.grad] + ([b.grad] if bias else []))
    for a, c in zip(*results, strict=True):
        torch.testing.assert_close(c, a, atol=1e-4, rtol=1e-4)


@needs_onednn
def test_linear_add_public_path_gives_the_private_ops_numbers() -> None:
    """The recurrences' step GEMM: addmm into out equals oneDNN's fused linear + add."""
    torch.manual_seed(2)
    x, w, other = torch.randn(6, 40), torch.randn(40, 72), torch.randn(6, 72)
    private, public = torch.empty(6, 72), torch.empty(6, 72)
    onednn.linear_add(x, w, other, private, dnn=True)
    onednn.linear_add(x, w, other, public, dnn=False)
    torch.testing.assert_close(public, private, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(public, x @ w + other)


def raising(*args: object) -> None:
    """A private op that fails the way a changed schema does."""
    raise RuntimeError("mkldnn::_linear_pointwise() Expected at most 6 argument(s)")


BREAKAGES = {
    "missing": (lambda m: m.setattr(torch.ops, "mkldnn", SimpleNamespace()), "no such op"),
    "raises": (lambda m: m.setattr(torch.ops.mkldnn, "_linear_pointwise", raising),
               "raised RuntimeError"),
    "differs": (lambda m: m.setattr(torch.ops.mkldnn, "_linear_pointwise",
                                    lambda *args: torch.zeros(3, 4)), "numbers differ"),
}


@needs_onednn
@pytest.mark.parametrize("breakage", BREAKAGES)
def test_a_failing_private_op_leaves_the_public_path_with_one_warning(
        monkeypatch: pytest.MonkeyPatch, breakage: str) -> None:
    """_linear_pointwise missing, raising or wrong at probe time: the probe that sets ONEDNN
    says False, with one RuntimeWarning naming the op and why."""
    breaks, reason = BREAKAGES[breakage]
    breaks(monkeypatch)
    with pytest.warns(RuntimeWarning) as record:
        assert onednn.probe_onednn() is False
    assert len(record) == 1
    assert "torch.ops.mkldnn._linear_pointwise" in str(record[0].message)
    assert reason in str(record[0].message)


@needs_onednn
def test_a_working_private_op_passes_the_probe_without_a_warning() -> None:
    """Where the import chose oneDNN, probing again says yes, silently."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert onednn.probe_onednn() is True
