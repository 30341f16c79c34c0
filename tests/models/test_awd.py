"""AWD-LSTM's regularizers: weight drop on the fused and hoisted kernels (gradients reach the
raw weight, off at eval, names kept), locked and word dropout masks, AR and TAR."""

from __future__ import annotations

import pytest
import torch
from torch.profiler import profile

from rnnlm.config import ModelConfig
from rnnlm.models import awd
from rnnlm.models.awd import activation_penalty, forward_with_penalty, locked_dropout, word_dropout
from rnnlm.models.kernels.hoisted import GRU, ElmanRNN
from rnnlm.models.rnn import RNNLanguageModel
from rnnlm.models.state import IGNORE
from tests.inference.test_stepper import check_steps

AWD = dict(weight_drop=0.5, dropout_input=0.3, dropout_hidden=0.3, dropout_output=0.3,
           dropout_embedding=0.2)


def kept_or_dropped(mask: torch.Tensor, p: float) -> bool:
    """Whether every entry of mask is 0 (dropped) or 1/(1 − p) (kept, rescaled)."""
    return bool((torch.isclose(mask, torch.zeros(())) | torch.isclose(
        mask, torch.tensor(1 / (1 - p)))).all())


def model(cell: str = "lstm", device: str = "cpu", **kw: object) -> RNNLanguageModel:
    torch.manual_seed(0)
    cfg = ModelConfig(cell=cell, layers=2, hidden=16, embedding=8, dropout=0.0, vocab_size=11)
    for k, v in kw.items():
        setattr(cfg, k, v)
    return RNNLanguageModel(cfg, device)


def ids(batch: int = 3, steps: int = 7) -> torch.Tensor:
    return torch.randint(0, 11, (batch, steps), generator=torch.Generator().manual_seed(1))


def test_weight_drop_runs_the_fused_lstm_kernel() -> None:
    m = model(weight_drop=0.5)
    with profile() as prof:
        m(ids())
    ops = {e.name for e in prof.events()}
    assert "aten::lstm" in ops
    if torch.backends.mkldnn.is_available():
        assert "aten::mkldnn_rnn_layer" in ops  # oneDNN's fused layer, not a loop of cells


@pytest.mark.parametrize("cell,device,kind", [("lstm", "cpu", "LSTM"), ("gru", "cuda", "GRU"),
                                              ("rnn", "cuda", "RNN"), ("gru", "cpu", "GRU"),
                                              ("rnn", "cpu", "ElmanRNN")])
@pytest.mark.parametrize("hidden_drop", [0.0, 0.3])
def test_weight_drop_reaches_the_raw_weight_and_is_off_at_eval(cell: str, device: str,
                                                               kind: str, hidden_drop: float
                                                               ) -> None:
    m = model(cell, device, weight_drop=0.5, dropout_hidden=hidden_drop)
    assert type(m.rnn).__name__ == kind  # cuda: nn.GRU / nn.RNN, built here on the CPU
    m(ids())[0].square().sum().backward()
    for k in range(2):  # DropConnect: dropped entries get no gradient, about half of them
        grad = getattr(m.rnn, f"weight_hh_l{k}").grad
        assert grad.abs().sum() > 0 and 0.35 < (grad == 0).float().mean() < 0.65
    plain = model(cell, device)
    assert m.state_dict().keys() == plain.state_dict().keys()
    m.eval()
    plain.load_state_dict(m.state_dict())
    plain.eval()
    assert torch.equal(m(ids())[0], plain(ids())[0])  # bit for bit: nothing dropped at eval


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_a_regularized_model_steps_like_the_stepper_reads_it(cell: str) -> None:
    m = model(cell, **AWD)
    m(ids())[0].sum().backward()  # a training step's forward leaves the parameters as they are
    check_steps(m.eval())


@pytest.mark.parametrize("pack", [False, True])
@pytest.mark.parametrize("cell,device", [("lstm", "cpu"), ("gru", "cuda")])
def test_layer_by_layer_equals_the_one_call(cell: str, device: str, pack: bool,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """With masks that keep everything, the per-layer runs are the module's own forward."""
    monkeypatch.setattr(awd, "locked_mask", lambda rows, like, p: like.new_ones(rows,
                                                                            like.shape[-1]))
    m = model(cell, device, layers=3, dropout_hidden=0.5)
    lengths = torch.tensor([7, 3, 5]) if pack else None
    got, got_state = m(ids(), None, lengths)
    m.cfg.dropout_hidden = 0.0  # the module itself: nn.LSTM / nn.GRU, packed when lengths
    want, want_state = m(ids(), None, lengths)
    real = torch.arange(7)[None, :] < (lengths if pack else torch.full((3,), 7))[:, None]
    torch.testing.assert_close(got[real], want[real], rtol=1e-5, atol=1e-6)
    for a, b in zip(*(s if isinstance(s, tuple) else (s,) for s in (got_state, want_state)),
                    strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cell,device", [("lstm", "cpu"), ("gru", "cuda"), ("gru", "cpu")])
def test_packed_rows_get_their_own_masks(cell: str, device: str) -> None:
    """Packed, a row's real steps see the same weights and masks as padded: the same draws."""
    m = model(cell, device, **AWD)
    lengths = torch.tensor([7, 3, 5])
    torch.manual_seed(5)
    packed, _ = m(ids(), None, lengths)
    torch.manual_seed(5)
    padded, _ = m(ids())
    for row, n in enumerate(lengths.tolist()):
        torch.testing.assert_close(packed[row, :n], padded[row, :n], rtol=1e-5, atol=1e-6)


def between_layers(monkeypatch: pytest.MonkeyPatch, m: RNNLanguageModel
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Layer 1's output and layer 2's input (B, T, H) of one training forward of m."""
    seen: list[torch.Tensor] = []
    if isinstance(m.rnn, GRU | ElmanRNN):
        layer = m.rnn.layer

        def spy(k: int, x: torch.Tensor, *rest: object) -> torch.Tensor:
            out = layer(k, x, *rest)
            seen.extend([out.transpose(0, 1)] if k == 0 else [x.transpose(0, 1)])
            return out
        monkeypatch.setattr(m.rnn, "layer", spy)
    else:
        run = awd.RUNS[m.rnn.mode]

        def spy(x: torch.Tensor, *rest: object) -> tuple[torch.Tensor, ...]:
            out = run(x, *rest)
            seen.extend([x, out[0]])
            return out
        monkeypatch.setitem(awd.RUNS, m.rnn.mode, spy)
    m(ids(4, 9))
    if len(seen) == 4:  # fused: [in 1, out 1, in 2, out 2]
        return seen[1], seen[2]
    return seen[0], seen[1]


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_locked_dropout_between_layers_is_one_mask_per_row(cell: str,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    p = 0.5
    out, nxt = between_layers(monkeypatch, model(cell, dropout_hidden=p))
    mask = nxt / out  # (B, T, H)
    assert torch.allclose(mask, mask[:, :1].expand_as(mask))  # the same at every step
    assert kept_or_dropped(mask, p)
    assert not torch.equal(mask[0, 0], mask[1, 0])  # rows differ


def test_locked_dropout_mask() -> None:
    p, x = 0.4, torch.ones(64, 20, 32)
    y = locked_dropout(x, p, training=True)
    assert torch.equal(y, y[:, :1].expand_as(y))
    assert kept_or_dropped(y, p) and 0 < (y == 0).sum() < y.numel()
    assert len({tuple(row) for row in y[:, 0].tolist()}) == 64
    assert abs(y.mean().item() - 1.0) < 0.05  # expected scale kept
    assert locked_dropout(x, p, training=False) is x


def test_word_dropout_drops_every_occurrence_of_a_word() -> None:
    p = 0.5
    tokens = torch.randint(0, 11, (8, 50), generator=torch.Generator().manual_seed(2))
    y = word_dropout(torch.ones(8, 50, 4), tokens, 11, p, training=True)
    scale = y[..., 0]  # (B, T)
    for word in range(11):
        seen = scale[tokens == word].unique().tolist()
        assert len(seen) <= 1
    assert kept_or_dropped(scale, p)
    assert torch.equal(y, scale[..., None].expand_as(y))  # whole rows of the embedding
    assert 0 < (scale == 0).sum() < scale.numel()
    x = torch.randn(8, 50, 4)
    assert word_dropout(x, tokens, 11, p, training=False) is x


def test_one_hot_inputs_take_word_dropout() -> None:
    m = model(embedding=0, dropout_embedding=0.5)
    train_logits, _ = m(ids())
    assert not torch.equal(train_logits, m.eval()(ids())[0])


def test_ar_and_tar_are_the_masked_means() -> None:
    g = torch.Generator().manual_seed(3)
    dropped, raw = torch.randn(2, 5, 4, generator=g), torch.randn(2, 5, 4, generator=g)
    real = torch.tensor([[True] * 5, [True, True, True, False, False]])
    step = raw[:, 1:] - raw[:, :-1]
    pairs = real[:, 1:] & real[:, :-1]
    want = 2.0 * dropped[real].square().mean() + 3.0 * step[pairs].square().mean()
    torch.testing.assert_close(activation_penalty(dropped, raw, real, 2.0, 3.0), want)
    dropped[1, 4], raw[1, 4] = 1e6, -1e6  # padding changes nothing
    torch.testing.assert_close(activation_penalty(dropped, raw, real, 2.0, 3.0), want)
    one = torch.ones(2, 1, dtype=torch.bool)  # one step: no pair for TAR, no NaN
    assert activation_penalty(dropped[:, :1], raw[:, :1], one, 0.0, 1.0).item() == 0.0


def test_the_penalty_comes_from_the_last_layers_outputs() -> None:
    m = model(dropout_output=0.5, ar=2.0, tar=1.0)
    x, y = ids(), ids()
    y[1, 4:] = IGNORE
    torch.manual_seed(7)
    logits, _, penalty = forward_with_penalty(m, m.cfg, x, None, None, y)
    torch.manual_seed(7)
    again, _, (dropped, raw) = m(x, activations=True)
    assert torch.equal(logits, again)
    assert kept_or_dropped(dropped / raw, 0.5)  # dropped: raw through --dropout-output
    torch.testing.assert_close(penalty, activation_penalty(dropped, raw, y != IGNORE, 2.0, 1.0))
    off = model()
    assert forward_with_penalty(off, off.cfg, x, None, None, y)[2] == 0.0


@pytest.mark.parametrize("cell,pack", [("lstm", False), ("lstm", True), ("gru", False),
                                       ("rnn", True)])
def test_bf16_autocast_trains_with_every_regularizer(cell: str, pack: bool) -> None:
    m = model(cell, **AWD, ar=1.0, tar=1.0)
    y = ids()
    lengths = torch.tensor([7, 3, 5]) if pack else None
    with torch.autocast("cpu", dtype=torch.bfloat16):
        _, state, _ = forward_with_penalty(m, m.cfg, ids(), None, lengths, y)
        logits, _, penalty = forward_with_penalty(m, m.cfg, ids(), state, lengths, y)
    (logits.float().square().mean() + penalty).backward()  # the second window, state carried
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in m.parameters())
