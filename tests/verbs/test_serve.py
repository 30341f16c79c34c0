"""`rnnlm serve`: how runs are named, and what it refuses before serving."""

from __future__ import annotations

from pathlib import Path

import pytest

from rnnlm.cli import main
from rnnlm.errors import RnnlmError
from rnnlm.verbs.serve import load_schedulers, run_name


def test_serve_names_runs_and_refuses_twins(tiny_run: Path, tmp_path: Path) -> None:
    assert run_name(tiny_run) == run_name(tiny_run / "best") == tiny_run.name
    with pytest.raises(RnnlmError, match="two runs are named"):
        load_schedulers([str(tiny_run), str(tiny_run / "best")], device="cpu")
    assert main(["serve", str(tmp_path / "missing")]) == 2


def test_serve_refuses_bad_limits_in_one_line(tiny_run: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    for option in (["--threads", "0"], ["--max-streams", "0"], ["--chunk-rate", "-1"]):
        assert main(["serve", str(tiny_run), *option]) == 2
        err = capsys.readouterr().err
        assert option[0] in err and len(err.strip().splitlines()) == 1
