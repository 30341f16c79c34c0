"""Sampling: temperature divides the logits, T→0 is greedy, T=1 is the model's distribution,
top-k / top-p, <unk> never sampled, and the prime goes through the network in one call."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rnnlm.config import ModelConfig
from rnnlm.errors import RnnlmError
from rnnlm.inference.sampling import (
    Draw,
    Sampling,
    filter_logits,
    generate_ids,
)
from rnnlm.models.rnn import RNNLanguageModel


def test_temperature_divides_logits() -> None:
    logits = torch.randn(4, 10)
    torch.testing.assert_close(filter_logits(logits, Sampling(temperature=2.0)), logits / 2)
    torch.testing.assert_close(torch.softmax(filter_logits(logits, Sampling()), -1),
                               torch.softmax(logits, -1))


def test_low_temperature_equals_greedy() -> None:
    torch.manual_seed(0)
    logits = torch.randn(500, 30) * 3
    draw = lambda s: Draw(s, [], 500, 30, torch.device("cpu"))(logits)  # noqa: E731
    greedy, cold = draw(Sampling(greedy=True)), draw(Sampling(temperature=1e-4))
    assert torch.equal(greedy, cold) and torch.equal(greedy, logits.argmax(-1))


def test_temperature_one_samples_the_model_distribution() -> None:
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0, 0.5]])
    gen = torch.Generator().manual_seed(0)
    draws = Draw(Sampling(), [], 40_000, 5, torch.device("cpu"), gen)(logits.expand(40_000, -1))
    freq = torch.bincount(draws, minlength=5).float() / len(draws)
    assert (freq - torch.softmax(logits[0], -1)).abs().max() < 0.01


def test_top_k_and_top_p() -> None:
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    kept = lambda s: torch.isfinite(filter_logits(logits, s))[0].tolist()  # noqa: E731
    assert kept(Sampling(top_k=2)) == [True, True, False, False]
    assert kept(Sampling(top_p=0.5)) == [True, False, False, False]
    assert kept(Sampling(top_p=0.8)) == [True, True, False, False]
    assert kept(Sampling(top_p=0.81)) == [True, True, True, False]
    assert kept(Sampling(top_p=1.0)) == [True] * 4


@pytest.mark.parametrize("s,flag", [(Sampling(top_p=0.0), "--top-p"),
                                    (Sampling(top_p=1.5), "--top-p"),
                                    (Sampling(top_k=0), "--top-k"),
                                    (Sampling(temperature=0.0), "--temperature"),
                                    (Sampling(temperature=-1.0), "--temperature")])
def test_bad_sampling_values(s: Sampling, flag: str) -> None:
    with pytest.raises(RnnlmError, match=flag):
        s.validate()


def tiny_model() -> RNNLanguageModel:
    torch.manual_seed(0)
    return RNNLanguageModel(ModelConfig(layers=2, hidden=16, embedding=8, vocab_size=12,
                                        dropout=0.0)).eval()


def test_prime_is_one_forward_call_and_sets_the_state() -> None:
    model = tiny_model()
    calls: list[tuple[int, ...]] = []
    model.register_forward_hook(lambda m, args, out: calls.append(tuple(args[0].shape)))
    prime = torch.randint(1, 12, (1, 100))
    ids = list(generate_ids(model, prime, 5, Sampling(greedy=True), banned=[0]))
    assert calls == [(1, 100)]  # the prime in one call, then the Stepper: no model calls
    # Same first token as feeding the prime one character at a time.
    state = None
    for t in range(100):
        logits, state = model(prime[:, t: t + 1], state)
    logits[:, -1, 0] = float("-inf")
    assert ids[0].item() == logits[0, -1].argmax().item()


def test_unknown_is_never_sampled() -> None:
    model = tiny_model()
    with torch.no_grad():
        model.head.bias[0] = 100.0  # the model loves <unk>
    ids = torch.stack(list(generate_ids(model, torch.ones(64, 1, dtype=torch.long), 20,
                                        Sampling(), banned=[0])))
    assert (ids != 0).all()


class Wrapped(nn.Module):
    """A model the Stepper does not know: generation falls back to one model call per step."""

    def __init__(self, inner: RNNLanguageModel) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, ids: torch.Tensor, state: object = None) -> tuple[torch.Tensor, object]:
        """The inner model's logits and state."""
        return self.inner(ids, state)


def test_other_models_are_called_once_per_step_with_the_same_tokens() -> None:
    model = tiny_model()
    wrapped = Wrapped(model)
    calls: list[tuple[int, ...]] = []
    wrapped.register_forward_hook(lambda m, args, out: calls.append(tuple(args[0].shape)))
    prime = torch.randint(1, 12, (1, 30))
    run = lambda m: torch.stack(list(generate_ids(  # noqa: E731
        m, prime, 6, Sampling(), [0], torch.Generator().manual_seed(3), streams=3)))
    fallback, stepped = run(wrapped), run(model)
    assert calls == [(3, 30)] + [(3, 1)] * 5
    assert torch.equal(fallback, stepped)  # same logits, same noise: same tokens


def test_seeded_sampling_is_reproducible() -> None:
    model = tiny_model()
    prime = torch.randint(1, 12, (1, 10))
    run = lambda seed: torch.stack(list(generate_ids(  # noqa: E731
        model, prime, 30, Sampling(temperature=0.9, top_k=8), [0],
        torch.Generator().manual_seed(seed), streams=4)))
    first = run(1)
    assert first.shape == (30, 4) and torch.equal(first, run(1)) and not torch.equal(first,
                                                                                      run(2))


def test_draw_samples_the_filtered_distribution() -> None:
    logits = torch.log(torch.tensor([[0.4, 0.3, 0.15, 0.1, 0.05]])).expand(40_000, -1)
    gen = torch.Generator().manual_seed(0)
    freq = lambda s, banned: torch.bincount(  # noqa: E731
        Draw(s, banned, 40_000, 5, torch.device("cpu"), gen)(logits), minlength=5) / 40_000
    assert (freq(Sampling(), []) - logits[0].exp()).abs().max() < 0.01
    hot = torch.softmax(logits[0] / 2, -1)
    assert (freq(Sampling(temperature=2.0), []) - hot).abs().max() < 0.01
    no_first = torch.tensor([0, 0.3, 0.15, 0.1, 0.05]) / 0.6
    assert (freq(Sampling(), [0]) - no_first).abs().max() < 0.01
    top2 = torch.tensor([0.4, 0.3, 0, 0, 0]) / 0.7
    assert (freq(Sampling(top_k=2), []) - top2).abs().max() < 0.01
    assert (freq(Sampling(top_p=0.6), []) - top2).abs().max() < 0.01
    banned_top = torch.tensor([0, 0.3, 0.15, 0, 0]) / 0.45  # top-p over what is left
    assert (freq(Sampling(top_p=0.6), [0]) - banned_top).abs().max() < 0.01
    greedy = Draw(Sampling(greedy=True), [0], 2, 5, torch.device("cpu"))(logits[:2])
    assert greedy.tolist() == [1, 1]

