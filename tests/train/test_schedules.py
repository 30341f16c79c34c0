"""Learning-rate schedules: warmup, exponential and staircase, cosine, plateau."""

from __future__ import annotations

import math

import pytest

from rnnlm.config import TrainConfig
from rnnlm.train.schedules import Schedule


def schedule(**kw: object) -> Schedule:
    return Schedule(TrainConfig(warmup_steps=0, **kw))


def test_exponential_and_staircase() -> None:
    smooth = schedule(lr_schedule="exponential", decay_rate=0.5, decay_steps=100)
    assert smooth.factor(150, 0.0) == pytest.approx(0.5 ** 1.5)
    stairs = schedule(lr_schedule="exponential", decay_rate=0.5, decay_steps=100, staircase=True)
    assert [stairs.factor(s, 0.0) for s in (0, 99, 100, 250)] == [1, 1, 0.5, 0.25]


def test_cosine_follows_the_budget() -> None:
    s = schedule(lr_schedule="cosine", min_lr_ratio=0.1, max_time=1.0)  # elapsed = progress
    assert s.factor(0, 0.0) == 1.0
    assert s.factor(10, 0.5) == pytest.approx(0.55)
    assert s.factor(10, 1.0) == pytest.approx(0.1)
    assert s.factor(10, 1.7) == pytest.approx(0.1)  # stays at the floor
    fixed = schedule(lr_schedule="cosine", min_lr_ratio=0.0, decay_steps=200, max_time=1.0)
    assert fixed.factor(100, 0.99) == pytest.approx(0.5)  # --decay-steps wins over the budget


def test_linear_warmup() -> None:
    s = Schedule(TrainConfig(warmup_steps=10, lr_schedule="constant"))
    assert [s.factor(i, 0.0) for i in (0, 4, 9, 50)] == [0.1, 0.5, 1.0, 1.0]


def test_plateau_reduces_after_patience_and_round_trips() -> None:
    s = schedule(lr_schedule="plateau", decay_rate=0.5, patience=2)
    for loss in (3.0, 2.0, 2.1, 2.05):
        s.observe(loss)
    assert s.factor(0, 0.0) == 0.5
    again = schedule(lr_schedule="plateau", decay_rate=0.5, patience=2)
    again.load_state_dict(s.state_dict())
    assert again.factor(0, 0.0) == 0.5 and again.best == 2.0 and not math.isinf(again.best)


def test_a_resumed_schedule_keeps_its_horizon() -> None:
    """Resumed with a budget twice as long, cosine stays at its floor past the first budget
    instead of climbing back to the middle of the curve."""
    first = schedule(lr_schedule="cosine", min_lr_ratio=0.1, max_steps=30)
    longer = schedule(lr_schedule="cosine", min_lr_ratio=0.1, max_steps=60)
    longer.load_state_dict(first.state_dict())
    assert longer.factor(15, 0.0) == pytest.approx(first.factor(15, 0.0))
    assert longer.factor(45, 0.0) == pytest.approx(0.1)
    old = {k: v for k, v in first.state_dict().items() if k in ("plateau_scale", "best",
                                                                "bad_evals")}
    older = schedule(lr_schedule="cosine", min_lr_ratio=0.1, max_steps=60)
    older.load_state_dict(old, TrainConfig(max_steps=30))  # a checkpoint without horizons
    assert older.factor(45, 0.0) == pytest.approx(0.1)


def test_restart_is_a_new_cycle_over_the_budget_ahead() -> None:
    s = Schedule(TrainConfig(warmup_steps=5, lr_schedule="cosine", min_lr_ratio=0.0,
                             max_steps=30))
    s.restart(30, 100.0, TrainConfig(max_steps=70))
    assert s.factor(30, 100.0) == pytest.approx(0.2)  # warmup again: 1 of 5 steps
    assert s.factor(50, 100.0) == pytest.approx(0.5)  # halfway through the 40 steps left
    again = Schedule(s.cfg)
    again.load_state_dict(s.state_dict())
    assert again.factor(50, 100.0) == s.factor(50, 100.0)
    assert "from step 30 over 40 steps" in s.describe()
