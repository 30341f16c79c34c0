"""`rnnlm demo` (what `make demo` runs): train the default model on the default corpus for a
few minutes, then print samples. Works offline: tiny-shakespeare when a mirror, the cache or
the network has it, else the Python standard library's own sources."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from rnnlm.config import DataConfig, RunConfig, TrainConfig
from rnnlm.data.corpora import fetch_file
from rnnlm.data.registry import REGISTRY
from rnnlm.errors import RnnlmError
from rnnlm.options import Arg, parse_duration
from rnnlm.train.rundir import new_run_dir
from rnnlm.train.trainer import train
from rnnlm.verbs.sample import sample


def pick_corpus() -> tuple[str, str]:
    """(corpus name, why it was chosen)."""
    try:
        path = fetch_file(REGISTRY["shakespeare"].files["all"], "shakespeare")
    except RnnlmError as e:
        return "python-stdlib", f"tiny-shakespeare is not available ({e})"
    return "shakespeare", f"tiny-shakespeare found at {path}"


def demo(*, max_time: Annotated[float, Arg("training time", parse=parse_duration)] = 210.0
         ) -> Path:
    """Train on the default corpus and print samples."""
    name, why = pick_corpus()
    print(f"demo corpus: {name} — {why}")
    config = RunConfig(data=DataConfig(corpus=[name]), train=TrainConfig(max_time=max_time))
    run = train(config, out=new_run_dir(f"demo-{name}"))
    print(f"\nthree samples from {run} (temperature 0.8):")
    prime = "ROMEO:\n" if name == "shakespeare" else "def "
    sample(run, prime=prime, length=400, num=3, seed=0)
    return run
