"""Learning-rate schedules as a multiplier of the peak rate: linear warmup, then constant,
exponential (optionally staircase), cosine or reduce-on-plateau.

The decay runs over a horizon fixed when the run starts: --decay-steps when given, else the
run's budget (--max-steps or --max-time, whichever ends first), so cosine works with a time
budget too. A resumed run keeps that horizon whatever budget it is given now, so resuming
never sends the learning rate back up the curve; past the horizon cosine stays at its floor
and exponential keeps decaying. `restart` starts a new cycle (warmup, then the decay) over
the budget still ahead, for a finished run trained on.
"""

from __future__ import annotations

import math
from typing import Any

from rnnlm.config import TrainConfig
from rnnlm.train.progress import fmt_duration


class Schedule:
    """lr(step) = lr × warmup(step) × decay(progress); plateau adds state fed by observe()."""

    def __init__(self, cfg: TrainConfig) -> None:
        self.cfg = cfg
        self.plateau_scale, self.best, self.bad_evals = 1.0, math.inf, 0
        self.start_step, self.start_time = 0, 0.0  # where the current cycle began
        self.steps, self.seconds = cfg.max_steps, cfg.max_time  # the horizon of the decay
        self.early: tuple[int, float, int] | None = None  # the early decay: from, factor, steps

    def progress(self, step: int, elapsed: float) -> float:
        """Fraction of the decay done: over --decay-steps when given, else over the horizon
        in steps or seconds, whichever is nearer its end."""
        steps = step - self.start_step
        if self.cfg.decay_steps:
            return steps / self.cfg.decay_steps
        by_steps = steps / self.steps if self.steps else 0.0
        by_time = (elapsed - self.start_time) / self.seconds if self.seconds else 0.0
        return max(by_steps, by_time)

    def factor(self, step: int, elapsed: float) -> float:
        """The multiplier of --lr for the optimizer step numbered `step` (0-based) taken after
        `elapsed` seconds of training."""
        c = self.cfg
        steps = step - self.start_step
        warm = min(1.0, (steps + 1) / c.warmup_steps) if c.warmup_steps else 1.0
        p = self.progress(step, elapsed)
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
        if self.early is None:
            return warm * decay
        begin, start, span = self.early  # never above the planned curve, which may end sooner
        q = min(max((step - begin) / span, 0.0), 1.0)
        return min(warm * decay,
                   c.min_lr_ratio + (start - c.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * q)))

    def restart(self, step: int, elapsed: float, cfg: TrainConfig) -> None:
        """A new cycle from here over what is left of cfg's budget."""
        self.start_step, self.start_time = step, elapsed
        self.steps = cfg.max_steps - step if cfg.max_steps else None
        self.seconds = cfg.max_time - elapsed if cfg.max_time else None
        self.early, self.best, self.bad_evals = None, math.inf, 0  # the new cycle's own best

    def describe(self) -> str:
        """The decay and its horizon, in a few words."""
        c = self.cfg
        if c.lr_schedule in ("constant", "plateau"):
            return f"{c.lr_schedule} lr after {c.warmup_steps} warmup steps"
        if c.decay_steps:
            spans = [f"{c.decay_steps:,} steps (--decay-steps)"]
        else:
            spans = ([f"{self.steps:,} steps"] if self.steps else []) \
                + ([fmt_duration(self.seconds)] if self.seconds else [])
        origin = f"from step {self.start_step:,}" if self.start_step else "from the start"
        early = (f", ended sooner once validation stops improving (--overfit-decay "
                 f"{c.overfit_decay:g})") if self.can_end_early() else ""
        return f"{c.lr_schedule} decay {origin} over {' or '.join(spans)}{early}"

    def can_end_early(self) -> bool:
        """Whether a validation no better than the cycle's best starts the final decay."""
        return self.cfg.lr_schedule == "cosine" and self.cfg.overfit_decay > 0 \
            and self.early is None

    def observe(self, val_loss: float, step: int, elapsed: float = 0.0) -> bool:
        """Take a validation loss (lower is better) at `step`; True when it starts the early
        decay. Plateau: multiply by --decay-rate after --patience evaluations without
        improvement."""
        if val_loss < self.best:
            self.best, self.bad_evals = val_loss, 0
            return False
        self.bad_evals += 1
        if self.cfg.lr_schedule == "plateau" and self.bad_evals >= self.cfg.patience:
            self.plateau_scale *= self.cfg.decay_rate
            self.bad_evals = 0
        start = self.factor(step, elapsed)
        if not self.can_end_early() or start <= self.cfg.min_lr_ratio:
            return False
        span = max(1, round(self.cfg.overfit_decay * (step - self.start_step)))
        self.early = (step, start, span)
        return True

    def done(self, step: int) -> bool:
        """Whether the early decay has reached its floor: training on would only overfit."""
        return self.early is not None and step >= self.early[0] + self.early[2]

    def news(self) -> str:
        """The line the progress output prints when the early decay begins."""
        begin, _, span = self.early
        return (f"validation is no better than its best: the learning rate decays to its "
                f"floor over the next {span:,} steps (--overfit-decay "
                f"{self.cfg.overfit_decay:g} × {begin - self.start_step:,}) and the run ends "
                f"at step {begin + span:,}")

    def state_dict(self) -> dict[str, Any]:
        """Saved in checkpoints."""
        return {"plateau_scale": self.plateau_scale, "best": self.best,
                "bad_evals": self.bad_evals, "start_step": self.start_step,
                "start_time": self.start_time, "steps": self.steps, "seconds": self.seconds,
                "early": list(self.early) if self.early else None}

    def load_state_dict(self, state: dict[str, Any], first: TrainConfig | None = None) -> None:
        """Restore from a checkpoint; one written before horizons were saved takes its
        horizon from `first`, the budget the checkpoint was trained with."""
        self.plateau_scale, self.best = state["plateau_scale"], state["best"]
        self.bad_evals = state["bad_evals"]
        self.start_step, self.start_time = state.get("start_step", 0), state.get("start_time", 0.0)
        self.early = tuple(state["early"]) if state.get("early") else None
        if "steps" in state:
            self.steps, self.seconds = state["steps"], state["seconds"]
        elif first is not None:
            self.steps, self.seconds = first.max_steps, first.max_time
