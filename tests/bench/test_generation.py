"""Generation speed: measure_generation counts every stream's tokens over the timed steps only."""

from __future__ import annotations

import itertools

import pytest
import torch

from rnnlm.bench import generation
from rnnlm.config import ModelConfig
from rnnlm.models.rnn import RNNLanguageModel


def test_measure_generation_times_steps_times_streams(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a clock that reads 10 s, then 12 s, `steps` tokens of 3 streams took 2 s: the rate
    is 3 × steps / 2, whatever the prime and setup cost before the clock starts."""
    torch.manual_seed(0)
    model = RNNLanguageModel(ModelConfig(layers=1, hidden=8, embedding=4, vocab_size=7)).eval()
    ticks = itertools.count(10.0, 2.0)
    monkeypatch.setattr(generation.time, "perf_counter", lambda: next(ticks))
    drawn: list[int] = []
    real = generation.generate_ids

    def counting(*args: object, **kwargs: object):  # the rows each step yields
        for ids in real(*args, **kwargs):
            drawn.append(len(ids))
            yield ids

    monkeypatch.setattr(generation, "generate_ids", counting)
    assert generation.measure_generation(model, streams=3, steps=5) == pytest.approx(3 * 5 / 2)
    assert drawn == [3] * 6  # one untimed first draw after the prime, then the 5 timed ones
