"""Generation speed: each rate counts every stream's characters over the timed call only."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import pytest
import torch

from rnnlm.bench import generation
from rnnlm.bench.generation import (
    PerToken,
    char_model,
    generation_speed,
    measure_generation,
    prime_speed,
    sample_speed,
    stepper_speed,
)
from rnnlm.bench.machine import CPU
from rnnlm.inference import stepper
from rnnlm.language_model import LanguageModel

T = TypeVar("T")


@pytest.fixture
def lm() -> LanguageModel:
    """A tiny untrained character model."""
    return char_model("lstm", 1, 8, "abc\n", CPU, "fp32")


@pytest.fixture
def two_seconds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every timed call takes 2 s; the list records the calls."""
    calls: list[int] = []

    def timed(fn: Callable[[], T], device: torch.device = CPU) -> tuple[T, float]:
        calls.append(1)
        return fn(), 2.0

    monkeypatch.setattr(generation, "timed", timed)
    return calls


def test_char_model_is_untrained_but_seeded(lm: LanguageModel) -> None:
    """The vocabulary is the text's characters and <unk>; the same weights at every call, so
    precisions compare on one model; ready for generation (eval mode)."""
    again = char_model("lstm", 1, 8, "abc\n", CPU, "bf16")
    assert lm.tokenizer.vocab_size == 5 and not lm.model.training
    for ours, theirs in zip(lm.model.parameters(), again.model.parameters(), strict=True):
        assert torch.equal(ours, theirs)


def test_sample_speed_sums_the_streams(lm: LanguageModel, two_seconds: list[int]) -> None:
    """3 streams × 5 characters in 2 s."""
    assert sample_speed(lm, streams=3, length=5) == pytest.approx(3 * 5 / 2)


def test_generation_speed_is_the_best_of_three_samples(lm: LanguageModel,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Three timed runs of the same streams and length; the fastest counts."""
    runs = iter([10.0, 30.0, 20.0])
    asked: list[tuple[int, int]] = []

    def speed(model: LanguageModel, streams: int, length: int) -> float:
        asked.append((streams, length))
        return next(runs)

    monkeypatch.setattr(generation, "sample_speed", speed)
    rate, mib = generation_speed(lm, streams=2, length=7)
    assert (rate, asked) == (30.0, [(2, 7)] * 3)
    assert mib > 0  # the untimed run's state and logits


def test_prime_speed_counts_the_primes_characters(lm: LanguageModel,
                                                  two_seconds: list[int]) -> None:
    """A 6-character prime absorbed in 2 s, best of two timed runs."""
    assert prime_speed(lm, "abcabc")[0] == pytest.approx(6 / 2)
    assert len(two_seconds) == 2


def test_measure_generation_times_steps_times_streams(lm: LanguageModel,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """`steps` tokens of 3 streams in 2 s: 3 × steps / 2, the prime and the first draw made
    before the clock starts."""
    drawn: list[int] = []
    real = generation.generate_ids

    def counting(*args: object, **kwargs: object):  # the rows each step yields
        for ids in real(*args, **kwargs):
            drawn.append(len(ids))
            yield ids

    def timed(fn: Callable[[], T], device: torch.device = CPU) -> tuple[T, float]:
        assert drawn == [3]  # untimed: prime, stepper, first draw
        return fn(), 2.0

    monkeypatch.setattr(generation, "generate_ids", counting)
    monkeypatch.setattr(generation, "timed", timed)
    assert measure_generation(lm.model, streams=3, steps=5) == pytest.approx(3 * 5 / 2)
    assert drawn == [3] * 6


def test_stepper_speed_times_steps_after_the_first(lm: LanguageModel, two_seconds: list[int],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """5 timed steps of 4 streams in 2 s, after one untimed step."""
    batches: list[int] = []
    real = stepper.Stepper.step
    monkeypatch.setattr(stepper.Stepper, "step",
                        lambda self, ids: batches.append(len(ids)) or real(self, ids))
    assert stepper_speed(lm.model, streams=4, steps=5, precision="fp32") == pytest.approx(4 * 5 / 2)
    assert batches == [4] * 6


def test_per_token_hides_the_model_from_the_stepper(lm: LanguageModel) -> None:
    """The wrapper gives the inner model's logits, but generation calls it once per token."""
    wrapped = PerToken(lm.model)
    calls: list[int] = []
    wrapped.register_forward_hook(lambda m, args, out: calls.append(args[0].shape[1]))
    ids = torch.tensor([[1, 2, 3]])
    with torch.no_grad():
        assert torch.equal(wrapped(ids)[0], lm.model(ids)[0])
    calls.clear()
    measure_generation(wrapped, streams=1, steps=4)
    assert calls == [1] * 5  # the one-token prime, then one call per drawn token
