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
        s.observe(loss, 0)
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


def test_a_validation_no_better_than_the_best_starts_the_final_decay() -> None:
    s = schedule(lr_schedule="cosine", min_lr_ratio=0.1, max_steps=1000, overfit_decay=0.25)
    assert not s.observe(2.0, 100) and not s.observe(1.9, 200)
    start = s.factor(400, 0.0)
    assert s.observe(1.95, 400)  # worse than 1.9: overfitting at this learning rate
    assert s.early == (400, start, 100)  # a quarter of the 400 steps taken so far
    assert s.factor(400, 0.0) == pytest.approx(start)
    assert s.factor(450, 0.0) == pytest.approx(0.1 + (start - 0.1) / 2)
    assert s.factor(500, 0.0) == pytest.approx(0.1) and s.factor(900, 0.0) == pytest.approx(0.1)
    assert not s.done(499) and s.done(500)
    assert not s.observe(1.99, 450)  # once only
    late = schedule(lr_schedule="cosine", min_lr_ratio=0.1, max_steps=1000, overfit_decay=1.0)
    assert not late.observe(2.0, 800) and late.observe(2.1, 900)  # a 900-step decay from 900
    assert late.factor(950, 0.0) == pytest.approx(schedule(
        lr_schedule="cosine", min_lr_ratio=0.1, max_steps=1000).factor(950, 0.0))
    again = schedule(lr_schedule="cosine", min_lr_ratio=0.1, max_steps=1000, overfit_decay=0.25)
    again.load_state_dict(s.state_dict())
    assert again.factor(450, 0.0) == s.factor(450, 0.0) and again.done(500)
    s.restart(500, 0.0, TrainConfig(max_steps=2000))  # a new cycle: its own best, no end
    assert s.early is None and not s.done(500) and not s.observe(3.0, 600)


def test_the_final_decay_is_cosines_alone_and_can_be_turned_off() -> None:
    for kw in (dict(lr_schedule="cosine", overfit_decay=0.0),
               dict(lr_schedule="constant"), dict(lr_schedule="plateau")):
        s = schedule(max_steps=1000, **kw)
        assert not s.observe(2.0, 100) and not s.observe(2.5, 200) and s.early is None
    ended = schedule(lr_schedule="cosine", min_lr_ratio=0.1, max_steps=100)
    assert not ended.observe(2.0, 50) and not ended.observe(2.5, 100)  # already at the floor
