"""The encoder–decoder's parts: the bidirectional encoder over packed lengths, attention
masks, the copy distribution, the bridge's shapes and the masked loss."""

from __future__ import annotations

import pytest
import torch

from rnnlm.config import ModelConfig, Seq2SeqConfig
from rnnlm.data.buckets import pad_batch
from rnnlm.data.pairs import pad_sources
from rnnlm.models.seq2seq import Seq2Seq
from rnnlm.models.seq2seq.encoder import Encoder
from rnnlm.models.state import lm_loss


def tiny_model(cell: str = "lstm", layers: int = 2, **s2s: object) -> Seq2Seq:
    """A float64 model of 11 source and 9 target ids, dropout off."""
    torch.manual_seed(0)
    cfg = ModelConfig(cell=cell, layers=layers, hidden=8, embedding=6, dropout=0.0,
                      vocab_size=9)
    return Seq2Seq(cfg, Seq2SeqConfig(pairs="tsv", source_ids=11, **s2s)).double().eval()


def sources(seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(0, 11, (n,), generator=g) for n in (5, 2, 7, 1)]


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_packed_bidirectional_encoder_equals_each_sequence_alone(cell: str) -> None:
    torch.manual_seed(0)
    enc = Encoder(11, 6, 8, 2, cell, 0.0).double().eval()
    seqs = sources()
    src, lengths = pad_sources([s.numpy() for s in seqs])  # (B, S), padded with 0
    out, final = enc(src, lengths)  # (B, S, H), (L, B, H)
    h_final = final[0] if cell == "lstm" else final
    for i, s in enumerate(seqs):
        alone, alone_final = enc(s[None], torch.tensor([len(s)]))
        n = len(s)
        # both directions: forward units are out[..., :4], backward units out[..., 4:]
        assert torch.allclose(out[i, :n], alone[0], atol=1e-6)
        assert torch.allclose(out[i, n:], torch.zeros_like(out[i, n:]))  # padding never read
        a = alone_final[0] if cell == "lstm" else alone_final
        assert torch.allclose(h_final[:, i], a[:, 0], atol=1e-6)


def test_backward_direction_of_a_one_layer_encoder() -> None:
    """Each direction equals a one-way LSTM with its weights over the row alone: the
    backward one starts at the row's last real token, not at padding."""
    torch.manual_seed(1)
    enc = Encoder(11, 6, 8, 1, "lstm", 0.0).double().eval()
    seqs = sources(1)
    src, lengths = pad_sources([s.numpy() for s in seqs])
    out, _ = enc(src, lengths)
    for i, s in enumerate(seqs):
        x = enc.embed(s)[None]  # (1, n, E)
        fwd = torch.nn.LSTM(6, 4, 1, batch_first=True).double()
        bwd = torch.nn.LSTM(6, 4, 1, batch_first=True).double()
        params = dict(enc.rnn.named_parameters())
        fwd.load_state_dict({k: params[k] for k in fwd.state_dict()})
        bwd.load_state_dict({k: params[k + "_reverse"] for k in bwd.state_dict()})
        f, _ = fwd(x)
        b, _ = bwd(x.flip(1))
        assert torch.allclose(out[i, : len(s), :4], f[0], atol=1e-6)
        assert torch.allclose(out[i, : len(s), 4:], b[0].flip(0), atol=1e-6)


@pytest.mark.parametrize("kind", ["bahdanau", "dot", "general"])
def test_attention_sums_to_one_and_skips_padding(kind: str) -> None:
    model = tiny_model(attention=kind)
    src, lengths = pad_sources([s.numpy() for s in sources()])
    tgt_in = torch.randint(0, 9, (4, 3))
    out = model(src, lengths, tgt_in)  # weights (B, T, S)
    assert torch.allclose(out.weights.sum(-1), torch.ones(4, 3, dtype=torch.float64), atol=1e-12)
    for i, n in enumerate(lengths.tolist()):
        assert (out.weights[i, :, n:] == 0).all()
        assert (out.weights[i, :, :n] > 0).all()


@pytest.mark.parametrize("coverage", [0.0, 1.0])
def test_copy_distribution_sums_to_one(coverage: float) -> None:
    model = tiny_model(copy=True, coverage=coverage)
    model.s2s.source_ids = 9
    src, lengths = pad_sources([s.clamp_max(8).numpy() for s in sources()])
    memory, state = model.encode(src, lengths)
    embedded = model.decoder.embed(torch.tensor([1, 2, 3, 4]))
    step, _ = model.decoder.step(embedded, state, memory)
    logits = model.head(step.attentional)
    p = model.copy.mix(logits, step.weights, memory.src, step.context, step.hidden, embedded)
    assert torch.allclose(p.sum(-1), torch.ones(4, dtype=torch.float64), atol=1e-6)
    assert (p >= 0).all()
    # copying moves mass onto the source's own ids: with the gate shut, p is the attention
    model.copy.gate.bias.data.fill_(-1e4)
    p = model.copy.mix(logits, step.weights, memory.src, step.context, step.hidden, embedded)
    for i, n in enumerate(lengths.tolist()):
        expect = torch.zeros(9, dtype=torch.float64).index_add_(0, src[i, :n], step.weights[i, :n])
        assert torch.allclose(p[i], expect, atol=1e-9)
    out = model(src, lengths, torch.randint(0, 9, (4, 3)))
    total = out.logits.log_softmax(-1).exp().sum(-1)  # the mix is normalized already
    assert torch.allclose(total, torch.ones(4, 3, dtype=torch.float64), atol=1e-6)
    assert torch.allclose(out.logits.exp().sum(-1), total, atol=1e-6)
    assert (out.coverage > 0).any() == bool(coverage)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_masked_loss_is_the_sum_of_per_pair_losses_over_real_tokens(cell: str) -> None:
    model = tiny_model(cell)
    seqs = sources()
    targets = [torch.cat([torch.tensor([7]), torch.randint(0, 7, (n,)), torch.tensor([8])])
               for n in (3, 6, 1, 4)]
    src, lengths = pad_sources([s.numpy() for s in seqs])
    inputs, tgt, _ = pad_batch([t.numpy() for t in targets])
    batch = lm_loss(model(src, lengths, inputs).logits, tgt, reduction="sum").item()
    real = sum(len(t) - 1 for t in targets)
    alone = 0.0
    for s, t in zip(seqs, targets, strict=True):
        logp = model(s[None], torch.tensor([len(s)]), t[None, :-1]).logits  # (1, n, V)
        alone += lm_loss(logp, t[None, 1:], reduction="sum").item()
    assert batch / real == pytest.approx(alone / real, abs=1e-6)
    assert real == int((tgt != -100).sum())


def test_tied_decoder_embeddings() -> None:
    cfg = ModelConfig(layers=1, hidden=8, embedding=8, dropout=0.0, vocab_size=9,
                      tie_weights=True)
    model = Seq2Seq(cfg, Seq2SeqConfig(pairs="tsv", source_ids=11))
    assert model.head.weight is model.decoder.embed.weight


def test_smoothed_loss_is_cross_entropys() -> None:
    from rnnlm.train.pairs import smoothed_loss

    logits = torch.randn(3, 4, 7)
    targets = torch.tensor([[1, 2, -100, -100], [0, 6, 5, 4], [3, -100, -100, -100]])
    nats, loss = smoothed_loss(logits, targets, 0.1)
    assert float(nats) == pytest.approx(float(lm_loss(logits, targets, "sum")), rel=1e-6)
    assert float(loss) == pytest.approx(float(lm_loss(logits, targets, "sum", 0.1)), rel=1e-6)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_step_rnn_equals_torchs(cell: str) -> None:
    from rnnlm.models.seq2seq.steprnn import StepRNN

    torch.manual_seed(0)
    ours = StepRNN(cell, 7, 5, 2, 0.0, projected=4).double()
    theirs = (torch.nn.LSTM if cell == "lstm" else torch.nn.GRU)(7, 5, 2, batch_first=True)
    theirs.load_state_dict(ours.state_dict())
    theirs.double()
    x = torch.randn(3, 6, 7, dtype=torch.float64)
    expect, final = theirs(x)
    state = tuple(torch.zeros(2, 3, 5, dtype=torch.float64) for _ in range(2 if cell == "lstm"
                                                                           else 1))
    state = state if cell == "lstm" else state[0]
    for t in range(6):
        out, state = ours(ours.project(x[:, t, :4]), x[:, t, 4:], state)
        assert torch.allclose(out, expect[:, t], atol=1e-12)
    h = state[0] if cell == "lstm" else state
    assert torch.allclose(h, final[0] if cell == "lstm" else final, atol=1e-12)
