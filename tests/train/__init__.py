"""Tests of training; `resume_gap` checks that stopping and resuming changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from safetensors.torch import load_file

from rnnlm.config import RunConfig
from rnnlm.configfile import load_json
from rnnlm.train.trainer import train


def resume_gap(config: Callable[[int], RunConfig], steps: int, stop: int, tmp_path: Path
               ) -> float:
    """The largest weight difference between a run of `steps` steps and one stopped after
    `stop` and resumed to `steps` (config(n): the run's config for a budget of n steps)."""
    whole = train(config(steps), out=tmp_path / "whole")
    half = train(config(stop), out=tmp_path / "half")
    resumed = load_json(half / "config.json")
    resumed.train.max_steps = steps
    train(resumed, resume=half)
    a, b = (load_file(str(run / "last" / "model.safetensors")) for run in (whole, half))
    return max((a[k] - b[k]).abs().max().item() for k in a)
