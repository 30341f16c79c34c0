"""The run's logs on resume: what lies past the checkpoint is dropped, torn lines too."""

from __future__ import annotations

import json
from pathlib import Path

from rnnlm.train.runlog import RunLog


def test_resume_drops_what_lies_past_the_checkpoint(tmp_path: Path) -> None:
    metrics = "".join(json.dumps({"step": s, "lr": 0.1}) + "\n" for s in range(1, 6))
    (tmp_path / "metrics.jsonl").write_text(metrics + '{"step": 6, "l')  # torn by a crash
    (tmp_path / "samples.txt").write_text("".join(f"=== step {s} ===\nto be\n\n"
                                                  for s in (2, 4)))
    log = RunLog(tmp_path, resume_step=3)
    log.log(4, lr=0.2)
    log.sample(4, "or not")
    log.close()
    rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [(r["step"], r["lr"]) for r in rows] == [(1, 0.1), (2, 0.1), (3, 0.1), (4, 0.2)]
    assert (tmp_path / "samples.txt").read_text() == ("=== step 2 ===\nto be\n\n"
                                                      "=== step 4 ===\nor not\n")
