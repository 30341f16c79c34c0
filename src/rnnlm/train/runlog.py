"""What a run writes as it trains: metrics.jsonl, TensorBoard events and samples.txt."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from torch.utils.tensorboard import SummaryWriter

from rnnlm.fileio import write_text_atomic


class RunLog:
    """Appends one JSON object per logged step and mirrors numbers to TensorBoard."""

    def __init__(self, run_dir: Path, resume_step: int | None = None) -> None:
        self.metrics = run_dir / "metrics.jsonl"
        if resume_step is not None and self.metrics.exists():  # drop what the resumed run redoes
            lines = self.metrics.read_text(encoding="utf-8").splitlines()
            kept = [ln for ln in lines if ln.strip() and json.loads(ln)["step"] <= resume_step]
            write_text_atomic(self.metrics, "".join(ln + "\n" for ln in kept))
        self._file = open(self.metrics, "a", encoding="utf-8")  # noqa: SIM115 (closed in close)
        self.samples = run_dir / "samples.txt"
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

    def close(self) -> None:
        """Flush and close everything."""
        self._file.close()
        self.tb.close()
