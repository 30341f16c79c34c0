"""kill -9 a `rnnlm train` process at random moments, resuming it after each, and compare its
final weights with an uninterrupted run's: the harness behind the crash test and
benchmarks/crash.py.

A kill is aimed at one of three moments: `early` (just after the run directory's config.json
appears, before any checkpoint), `write` (while a checkpoint is being written: a NAME.partial/
or NAME.old/ folder exists) or `between` (a random time within the interval between two
checkpoints). Where it landed is read off the run directory afterwards: a kill aimed at a write
may land just after it ends, and one aimed between may land in one.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from safetensors.torch import load_file
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from rnnlm.train.runlog import SAMPLE_HEADER

AIMS = ("early", "write", "between")
WRITES = ("last.partial", "last.old", "best.partial", "best.old")  # there only mid-write
POLL_S = 0.0005


@dataclass
class Kill:
    """One kill -9: what it was aimed at, where it landed, and the step it set the run back to."""

    aim: str  # one of AIMS
    in_write: bool  # a checkpoint write was under way (its .partial/ or .old/ left behind)
    before_first: bool  # no complete checkpoint yet: the resume starts over
    checkpoint_step: int  # the step of the checkpoint the resume continues from
    seconds: float  # after the process started

    @property
    def landed(self) -> str:
        """Where it landed, as one of AIMS."""
        return "early" if self.before_first else "write" if self.in_write else "between"


def checkpoint_step(run: Path) -> int:
    """The step of the run's complete last/ checkpoint (of a left-over copy mid-swap), or -1."""
    for name in ("last", "last.partial", "last.old"):
        try:
            return json.loads((run / name / "state.json").read_text(encoding="utf-8"))["step"]
        except (OSError, ValueError):
            continue
    return -1


def writing(run: Path) -> bool:
    """Whether a checkpoint write is under way (or was, when the writer died)."""
    return any((run / name).exists() for name in WRITES)


def wait_for(condition: Callable[[], bool], proc: subprocess.Popen, timeout: float) -> bool:
    """Poll `condition()` until it holds (True) or the process ends or time runs out (False)."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(POLL_S)
    return False


def kill_once(cmd: list[str], run: Path, aim: str, rng: random.Random, timeout: float = 300.0
              ) -> Kill | None:
    """Start `cmd` and kill -9 it at a random moment of kind `aim`; None when it finished
    first. `write` and `between` wait until this process has written a checkpoint (so its
    recovery of the last crash is behind it); `between` then times the next interval between
    checkpoints and sleeps a random fraction of another."""
    before = checkpoint_step(run)
    start = time.monotonic()
    errors = tempfile.TemporaryFile()  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=errors)
    try:
        if aim == "early":
            ready = wait_for(lambda: (run / "config.json").exists(), proc, timeout)
            pause = rng.uniform(0, 0.05)
        else:
            ready = wait_for(lambda: checkpoint_step(run) > before, proc, timeout)
            pause = rng.uniform(0, POLL_S)
        if ready and aim == "write":
            ready = wait_for(lambda: writing(run), proc, timeout)
        elif ready and aim == "between":
            seen, mark = checkpoint_step(run), time.monotonic()
            ready = wait_for(lambda: checkpoint_step(run) > seen, proc, timeout)
            pause = rng.uniform(0, time.monotonic() - mark)
        if ready:
            time.sleep(pause)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        code = proc.wait()
        errors.seek(0)
        tail = errors.read().decode(errors="replace").strip().splitlines()[-1:]
        errors.close()
    if code != -signal.SIGKILL:
        if code:
            raise RuntimeError(f"{' '.join(cmd)} failed (exit status {code}): {tail}")
        return None
    step = checkpoint_step(run)
    return Kill(aim, writing(run), step < 0, max(step, 0), round(time.monotonic() - start, 3))


def killed_run(cmd: list[str], run: Path, aims: list[str], rng: random.Random,
               tries: int = 1) -> list[Kill]:
    """Run `cmd` (`python -m rnnlm train CORPUS --out run --max-steps N ...`), killed once
    per aim (up to `tries` times, until a kill lands where it was aimed) and resumed after
    each, then resumed to its end; the kills, in order."""
    if unknown := set(aims) - set(AIMS):
        raise ValueError(f"unknown aims {sorted(unknown)}; choose from {AIMS}")
    resume = [*cmd[:4], "--resume", str(run)]
    kills: list[Kill] = []
    for aim in aims:
        for _ in range(tries):
            kill = kill_once(resume if (run / "config.json").exists() else cmd, run, aim, rng)
            if kill is None:
                raise RuntimeError(f"{run} finished before kill {len(kills) + 1}; train it "
                                   f"for more steps")
            kills.append(kill)
            if kill.landed == aim:
                break
    if not finished(run, cmd):  # a kill after the last checkpoint leaves nothing to do
        subprocess.run(resume, check=True, stdout=subprocess.DEVNULL)
    return kills


def finished(run: Path, cmd: list[str]) -> bool:
    """Whether the run's last/ checkpoint is at its --max-steps."""
    return checkpoint_step(run) == int(cmd[cmd.index("--max-steps") + 1])


def max_difference(a: Path, b: Path) -> float:
    """The largest absolute difference between two runs' final weights (last/)."""
    x, y = (load_file(str(run / "last" / "model.safetensors")) for run in (a, b))
    if x.keys() != y.keys():
        raise ValueError(f"{a} and {b} hold different models")
    return max((x[k] - y[k]).abs().max().item() for k in x)


def logged_steps(run: Path) -> dict[str, list[int]]:
    """The steps of the validation records in each of a run's logs: metrics.jsonl,
    samples.txt and TensorBoard (as TensorBoard reads it: without the events a resume purged)."""
    rows = [json.loads(line) for line in
            (run / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
    samples = (run / "samples.txt").read_text(encoding="utf-8")
    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    return {"metrics": [r["step"] for r in rows if "val_bits_per_char" in r],
            "samples": [int(m[1]) for m in SAMPLE_HEADER.finditer(samples)],
            "tensorboard": [e.step for e in events.Scalars("val/bits_per_char")]}
