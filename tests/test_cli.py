"""The `rnnlm` command: every bad input is one line on stderr with exit status 2 (never a
traceback); the verbs work end to end."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rnnlm.cli import main

TINY = ["--layers", "1", "--hidden", "32", "--embedding", "8", "--batch-size", "4",
        "--seq-len", "16", "--precision", "fp32", "--sample-length", "0"]


def fails(capsys: pytest.CaptureFixture[str], argv: list[str], match: str) -> None:
    """main(argv) exits 2 with exactly one stderr line containing `match`."""
    try:
        code = main(argv)
    except SystemExit as e:  # argparse errors
        code = e.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("rnnlm: error: "), err
    assert match in err, err
    assert "Traceback" not in err


def test_bad_corpus_inputs(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    fails(capsys, ["train", str(tmp_path / "missing.txt")], "no such file or directory")
    fails(capsys, ["train", "shakespear"], "did you mean 'shakespeare'")
    (tmp_path / "empty.txt").write_text("")
    fails(capsys, ["train", str(tmp_path / "empty.txt")], "is empty")
    (tmp_path / "bin.dat").write_bytes(b"abc\x00\x01")
    fails(capsys, ["train", str(tmp_path / "bin.dat")], "NUL byte at byte offset 3")
    (tmp_path / "latin.txt").write_bytes("naïve".encode("latin-1"))
    fails(capsys, ["train", str(tmp_path / "latin.txt")], "byte 0xef at byte offset 2")
    (tmp_path / "short.txt").write_text("a short text " * 10)
    fails(capsys, ["train", str(tmp_path / "short.txt"), "--out", str(tmp_path / "r")],
          "training text is too short")
    fails(capsys, ["train"], "no corpus given")


def test_offline_without_cache(capsys: pytest.CaptureFixture[str],
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RNNLM_DATA", "")
    fails(capsys, ["corpus", "get", "shakespeare"], "downloads are off")


@pytest.mark.parametrize("option,value,match", [
    ("--hidden", "0", "--hidden must be greater than 0"),
    ("--layers", "-2", "--layers must be greater than 0"),
    ("--lr", "0", "--lr must be greater than 0"),
    ("--lr", "-0.1", "--lr must be greater than 0"),
    ("--dropout", "1.5", "--dropout must be in [0, 1)"),
    ("--batch-size", "0", "--batch-size must be greater than 0"),
    ("--seq-len", "-1", "--seq-len must be greater than 0"),
    ("--cell", "transformerz", "invalid choice: 'transformerz'"),
    ("--activation", "swish", "invalid choice: 'swish'"),
    ("--max-time", "ten minutes", "cannot read the duration"),
    ("--hidden", "big", "invalid int value"),
    ("--weight-drop", "1", "--weight-drop must be in [0, 1)"),
    ("--ar", "-1", "--ar must be 0 or more"),
])
def test_bad_train_options(capsys: pytest.CaptureFixture[str], option: str, value: str,
                           match: str) -> None:
    fails(capsys, ["train", "shakespeare", option, value], match)


def test_train_sample_eval(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                           shakespeare_100k: Path) -> None:
    run = tmp_path / "run"
    assert main(["train", str(shakespeare_100k), "--out", str(run), "--max-steps", "20",
                 "--eval-every", "10", *TINY]) == 0
    assert "best val" in capsys.readouterr().out
    assert main(["sample", str(run), "--prime", "ROMEO:", "--length", "50", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ROMEO:") and len(out) == len("ROMEO:") + 50 + 1
    assert main(["sample", str(run), "--num", "3", "--length", "20", "--seed", "1"]) == 0
    assert capsys.readouterr().out.count("--- sample") == 3
    assert main(["sample", str(run), "--length", "300", "--seed", "1", "--stop", "e"]) == 0
    assert capsys.readouterr().out.rstrip("\n").endswith("e")
    assert main(["eval", str(run), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["tokens"] == 9_999 and 0 < result["bits_per_char"] < 8
    assert main(["eval", str(run)]) == 0
    assert "bits per character" in capsys.readouterr().out
    # Resuming may extend the budget but not change the model.
    fails(capsys, ["train", "--resume", str(run), "--hidden", "64"], "cannot change --hidden")
    assert main(["train", "--resume", str(run), "--max-steps", "30"]) == 0


def test_train_with_every_awd_regularizer(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                          shakespeare_100k: Path) -> None:
    run = tmp_path / "run"
    awd = ["--layers", "2", "--weight-drop", "0.5", "--dropout-input", "0.2", "--dropout-hidden",
           "0.2", "--dropout-output", "0.2", "--dropout-embedding", "0.1", "--ar", "2", "--tar",
           "1"]
    assert main(["train", str(shakespeare_100k), "--out", str(run), "--max-steps", "12",
                 "--eval-every", "6", *TINY, *awd]) == 0
    assert "best val" in capsys.readouterr().out
    model = json.loads((run / "config.json").read_text())["model"]
    assert (model["weight_drop"], model["dropout_hidden"], model["tar"]) == (0.5, 0.2, 1.0)
    assert main(["eval", str(run), "--json"]) == 0
    assert 0 < json.loads(capsys.readouterr().out)["bits_per_char"] < 8
    assert main(["sample", str(run), "--length", "20", "--seed", "1"]) == 0
    assert len(capsys.readouterr().out) == 21
    fails(capsys, ["train", str(shakespeare_100k), "--cell", "transformer", "--ar", "1"],
          "--ar regularizes the recurrent language model (lstm, gru, rnn), not --cell "
          "transformer")


def test_bad_sample_and_eval_inputs(capsys: pytest.CaptureFixture[str], tiny_run: Path,
                                    tmp_path: Path) -> None:
    fails(capsys, ["sample", str(tiny_run), "--prime", "Ωmega"], "outside the model's vocab")
    fails(capsys, ["sample", str(tiny_run), "--top-p", "0"], "--top-p must be in (0, 1]")
    fails(capsys, ["sample", str(tiny_run), "--top-p", "1.2"], "--top-p must be in (0, 1]")
    fails(capsys, ["sample", str(tiny_run), "--temperature", "0"], "--temperature must be")
    fails(capsys, ["sample", str(tmp_path / "nope")], "no such run or checkpoint")
    fails(capsys, ["eval", str(tiny_run), "--split", "test"], "no test split")
    pt = tmp_path / "model.pt"
    pt.write_bytes(b"PK\x03\x04")
    fails(capsys, ["sample", str(pt)], "never unpickles")
    broken = Path(shutil.copytree(tiny_run, tmp_path / "broken"))
    (broken / "best" / "model.safetensors").write_bytes(b"\x00" * 5)
    fails(capsys, ["sample", str(broken)], "corrupted or truncated")


def test_python_m_entry_point_has_no_traceback(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "rnnlm", "train", str(tmp_path / "x.txt")],
                          capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.startswith("rnnlm: error: no such file")
    assert done.stderr.count("\n") == 1


def test_toml_config_and_flags_on_top(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                      shakespeare_100k: Path) -> None:
    toml = tmp_path / "exp.toml"
    toml.write_text(f'[model]\ncell = "gru"\nhidden = 48\n[data]\ncorpus = ["{shakespeare_100k}"]\n'
                    f'batch_size = 4\nseq_len = 16\n[train]\nmax_steps = 4\neval_every = 4\n')
    run = tmp_path / "run"
    assert main(["train", "--config", str(toml), "--hidden", "40", "--out", str(run),
                 "--sample-length", "0"]) == 0
    saved = json.loads((run / "config.json").read_text())
    assert (saved["model"]["cell"], saved["model"]["hidden"]) == ("gru", 40)
    assert saved["train"]["precision"] in ("fp32", "bf16")  # resolved, not "auto"


@pytest.mark.parametrize("verb", ["train", "sample", "eval", "compare", "corpus", "ngram", "demo"])
def test_every_verb_prints_its_help(verb: str, capsys: pytest.CaptureFixture[str]) -> None:
    """--help works for every verb (argparse expands % in help texts, so they must be escaped)."""
    with pytest.raises(SystemExit) as exit_:
        main([verb, "--help"])
    assert exit_.value.code == 0
    assert "usage: rnnlm" in capsys.readouterr().out
