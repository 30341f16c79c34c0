"""Where a run lives: a new run directory's name, a run directory's config, and the
directory a `rnnlm train` call writes to (new, or resumed after finishing an interrupted
checkpoint write)."""

from __future__ import annotations

from pathlib import Path

from rnnlm.checkpoint import is_complete, recover
from rnnlm.config import RunConfig
from rnnlm.configfile import load_json
from rnnlm.errors import RnnlmError


def new_run_dir(name: str) -> Path:
    """runs/NAME, or runs/NAME-2, -3, ... if taken."""
    base = Path("runs") / name
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{name}-{n}")
    return path


def run_config(run_dir: Path) -> RunConfig:
    """The config.json of a run directory, or a one-line error naming what to give."""
    if not (Path(run_dir) / "config.json").is_file():
        raise RnnlmError(f"{run_dir} is not a run directory (no config.json); give the "
                         f"folder that `rnnlm train` created")
    return load_json(Path(run_dir) / "config.json")


def place_run(config: RunConfig, out: str | Path | None, resume: str | Path | None,
              restart_schedule: bool) -> tuple[Path, bool]:
    """The run directory and whether the run resumes (no checkpoint yet: it starts over)."""
    if resume:
        run_dir = Path(resume)
        for which in ("last", "best"):  # finish or roll back a write cut short by a crash
            recover(run_dir / which)
        if not is_complete(run_dir / "last"):  # stopped before its first checkpoint
            print(f"{run_dir} has no checkpoint yet; starting it over from step 0")
            return run_dir, False
        return run_dir, True
    if restart_schedule:
        raise RnnlmError("--restart-schedule applies to a resumed run; give --resume RUN")
    corpus_name = Path(config.data.corpus[0]).stem if config.data.corpus else "run"
    run_dir = Path(out) if out else new_run_dir(corpus_name)
    if (run_dir / "config.json").exists():
        raise RnnlmError(f"{run_dir} already holds a run; continue it with --resume "
                         f"{run_dir}, or choose another --out")
    return run_dir, False
