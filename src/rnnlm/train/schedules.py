"""Learning-rate schedules as a multiplier of the peak rate: linear warmup, then constant,
exponential (optionally staircase), cosine or reduce-on-plateau.

A schedule reads progress as a fraction of the budget (steps or wall-clock time), so cosine
works with --max-time as well as --max-steps.
"""

from __future__ import annotations

import math
from typing import Any

from rnnlm.config import TrainConfig


class Schedule:
    """lr(step) = lr × warmup(step) × decay(progress); plateau adds state fed by observe()."""

    def __init__(self, cfg: TrainConfig) -> None:
        self.cfg = cfg
        self.plateau_scale, self.best, self.bad_evals = 1.0, math.inf, 0

    def decay_progress(self, step: int, budget_progress: float) -> float:
        """Fraction of the decay done: step / --decay-steps when given, else of the budget."""
        if self.cfg.decay_steps:
            return step / self.cfg.decay_steps
        return budget_progress

    def factor(self, step: int, budget_progress: float) -> float:
        """The multiplier of --lr for the optimizer step numbered `step` (0-based)."""
        c = self.cfg
        warm = min(1.0, (step + 1) / c.warmup_steps) if c.warmup_steps else 1.0
        p = self.decay_progress(step, budget_progress)
        if c.lr_schedule == "exponential":
            p = math.floor(p) if c.staircase else p
            decay = c.decay_rate ** p
        elif c.lr_schedule == "cosine":
            p = min(max(p, 0.0), 1.0)
            decay = c.min_lr_ratio + (1 - c.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * p))
        elif c.lr_schedule == "plateau":
            decay = self.plateau_scale
        else:
            decay = 1.0
        return warm * decay

    def observe(self, val_loss: float) -> None:
        """Plateau: multiply by --decay-rate after --patience evaluations without improvement."""
        if val_loss < self.best:
            self.best, self.bad_evals = val_loss, 0
            return
        self.bad_evals += 1
        if self.cfg.lr_schedule == "plateau" and self.bad_evals >= self.cfg.patience:
            self.plateau_scale *= self.cfg.decay_rate
            self.bad_evals = 0

    def state_dict(self) -> dict[str, Any]:
        """Saved in checkpoints."""
        return {"plateau_scale": self.plateau_scale, "best": self.best, "bad_evals": self.bad_evals}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from a checkpoint."""
        self.plateau_scale = state["plateau_scale"]
        self.best = state["best"]
        self.bad_evals = state["bad_evals"]
