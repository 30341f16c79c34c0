"""What a run writes as it trains: metrics.jsonl, TensorBoard events and samples.txt.

A resumed run (or one killed and resumed) redoes the steps after its checkpoint, so on resume
each log drops what lies past the checkpoint's step: metrics.jsonl lines and samples.txt
entries are cut, TensorBoard purges the later events when read (SummaryWriter's purge_step).
The trainer flushes the log before each checkpoint, so a checkpoint never gets ahead of it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from torch.utils.tensorboard import SummaryWriter

from rnnlm.fileio import write_text_atomic

SAMPLE_HEADER = re.compile(r"^=== step (\d+) ===$", re.MULTILINE)


class RunLog:
    """Appends one JSON object per logged step and mirrors numbers to TensorBoard."""

    def __init__(self, run_dir: Path, resume_step: int | None = None) -> None:
        self.metrics = run_dir / "metrics.jsonl"
        self.samples = run_dir / "samples.txt"
        if resume_step is not None:  # drop what the resumed run redoes
            drop_metrics_after(self.metrics, resume_step)
            drop_samples_after(self.samples, resume_step)
        self._file = open(self.metrics, "a", encoding="utf-8")  # noqa: SIM115 (closed in close)
        self.tb = SummaryWriter(log_dir=str(run_dir / "tensorboard"),
                                purge_step=resume_step + 1 if resume_step is not None else None)

    def log(self, step: int, **values: Any) -> None:
        """One metrics.jsonl line; numeric values also go to TensorBoard."""
        self._file.write(json.dumps({"step": step, **values}) + "\n")
        self._file.flush()
        for key, value in values.items():
            if isinstance(value, int | float):
                self.tb.add_scalar(key.replace("_", "/", 1), value, step)

    def sample(self, step: int, text: str) -> None:
        """Append a sample made at `step` to samples.txt."""
        with open(self.samples, "a", encoding="utf-8") as f:
            f.write(f"=== step {step} ===\n{text}\n")

    def flush(self) -> None:
        """Hand everything logged so far to the OS (TensorBoard queues events in memory)."""
        self._file.flush()
        self.tb.flush()

    def close(self) -> None:
        """Flush and close everything."""
        self._file.close()
        self.tb.close()


def line_step(line: str) -> int | None:
    """The step of a metrics.jsonl line; None for a blank or torn one (a crash mid-write)."""
    try:
        return json.loads(line)["step"]
    except (ValueError, KeyError, TypeError):
        return None


def drop_metrics_after(path: Path, step: int) -> None:
    """Keep the metrics.jsonl lines of steps up to `step` (and no torn ones)."""
    if path.exists():
        lines = path.read_text(encoding="utf-8").splitlines()
        kept = [ln for ln in lines if (s := line_step(ln)) is not None and s <= step]
        write_text_atomic(path, "".join(ln + "\n" for ln in kept))


def drop_samples_after(path: Path, step: int) -> None:
    """Keep the samples.txt entries made at steps up to `step`."""
    if path.exists():
        text = path.read_text(encoding="utf-8")
        cut = next((m.start() for m in SAMPLE_HEADER.finditer(text) if int(m[1]) > step),
                   len(text))
        write_text_atomic(path, text[:cut])
