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
import time
from dataclasses import dataclass
from pathlib import Path

from safetensors.torch import load_file

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


def wait_for(condition: object, proc: subprocess.Popen, timeout: float) -> bool:
    """Poll `condition()` until it holds (True) or the process ends or time runs out (False)."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
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
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
    if code != -signal.SIGKILL:
        if code:
            raise RuntimeError(f"{' '.join(cmd)} failed with exit status {code}")
        return None
    step = checkpoint_step(run)
    return Kill(aim, writing(run), step < 0, max(step, 0), round(time.monotonic() - start, 3))


def killed_run(cmd: list[str], run: Path, aims: list[str], rng: random.Random,
               write_tries: int = 1) -> list[Kill]:
    """Run `cmd` (a `rnnlm train ... --out run` command), killed once per aim (a `write` aim
    up to `write_tries` times, until one lands inside a write) and resumed after each, then
    resumed to its end; the kills, in order."""
    resume = [*cmd[:4], "--resume", str(run)]
    kills: list[Kill] = []
    for aim in aims:
        for _ in range(write_tries if aim == "write" else 1):
            kill = kill_once(resume if (run / "config.json").exists() else cmd, run, aim, rng)
            if kill is None:
                raise RuntimeError(f"{run} finished before kill {len(kills) + 1}; train it "
                                   f"for more steps")
            kills.append(kill)
            if kill.in_write or aim != "write":
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
