"""Checkpoints: atomic swaps and recovery, damage, foreign configs, and no unpickling."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from rnnlm.checkpoint import is_complete, load_model_dir, recover, resolve, save_checkpoint
from rnnlm.errors import RnnlmError
from rnnlm.language_model import LanguageModel


@pytest.fixture
def run(tiny_run: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny run."""
    return Path(shutil.copytree(tiny_run, tmp_path / "run"))


def test_resolve_prefers_best(run: Path) -> None:
    assert resolve(run) == run / "best"
    assert resolve(run, "last") == run / "last"
    assert resolve(run / "last" / "model.safetensors") == run / "last"


def test_save_replaces_atomically(run: Path) -> None:
    model, tok, config = load_model_dir(run / "best")
    save_checkpoint(run / "best", model, config, tok, {"step": 999})
    assert json.loads((run / "best" / "state.json").read_text())["step"] == 999
    assert sorted(p.name for p in run.iterdir() if "best" in p.name) == ["best"]


@pytest.mark.parametrize("left", ["partial only", "old only", "old and torn partial"])
def test_recover_after_a_crash_mid_swap(run: Path, left: str) -> None:
    last, partial, old = run / "last", run / "last.partial", run / "last.old"
    if left == "partial only":  # killed between the two renames
        last.rename(partial)
    elif left == "old only":  # killed after last → last.old, before partial → last
        last.rename(old)
    else:  # killed while writing the new copy
        last.rename(old)
        partial.mkdir()
        (partial / "model.safetensors").write_bytes(b"\x00" * 10)
    assert resolve(run, "last").name.startswith("last")  # readable even before recovery
    recover(last)
    assert is_complete(last) and not partial.exists() and not old.exists()
    LanguageModel.load(run, which="last")


def test_truncated_weights(run: Path) -> None:
    weights = run / "best" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(RnnlmError, match="corrupted or truncated"):
        LanguageModel.load(run)


def test_garbage_weights(run: Path) -> None:
    (run / "best" / "model.safetensors").write_bytes(b"\xff" * 64)
    with pytest.raises(RnnlmError, match="corrupted or truncated"):
        LanguageModel.load(run)


def test_damaged_state_json(run: Path) -> None:
    (run / "last" / "state.json").write_text("{not json")
    with pytest.raises(RnnlmError, match="corrupted or truncated .state.json"):
        from rnnlm.checkpoint import read_state

        read_state(run / "last")


def test_weights_from_another_config(run: Path) -> None:
    path = run / "best" / "config.json"
    config = json.loads(path.read_text())
    config["model"]["hidden"] = 96
    path.write_text(json.dumps(config))
    with pytest.raises(RnnlmError, match="does not fit its config.json .*different model"):
        LanguageModel.load(run)


@pytest.mark.parametrize("name", ["model.pt", "weights.bin", "checkpoint"])
def test_pickle_files_are_never_loaded(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    torch.save({"weight": torch.zeros(2)}, path)  # a zip of pickles
    with pytest.raises(RnnlmError, match="never unpickles"):
        LanguageModel.load(path)
    path.write_bytes(b"\x80\x04\x95" + b"\x00" * 20)  # a bare pickle stream
    with pytest.raises(RnnlmError, match="never unpickles"):
        LanguageModel.load(path)


def test_weights_are_device_independent(run: Path) -> None:
    from safetensors import safe_open

    with safe_open(str(run / "best" / "model.safetensors"), "pt") as f:
        assert all(f.get_tensor(k).device.type == "cpu" for k in f.keys())  # noqa: SIM118
    lm = LanguageModel.load(run, device="cpu")
    assert next(lm.model.parameters()).device.type == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_checkpoints_cross_between_cuda_and_cpu(run: Path, tmp_path: Path,
                                                shakespeare_100k: Path) -> None:
    from rnnlm.configfile import load_json
    from rnnlm.train.trainer import train
    from tests.conftest import tiny_config

    text = shakespeare_100k.read_text(encoding="utf-8")[-4000:]

    def nats(path: Path, device: str) -> float:
        return LanguageModel.load(path, device=device, precision="fp32").score(text).nats_per_token

    # written on the CPU, read on the GPU (cuDNN may use TF32: agree to 1e-2 nats/token)
    assert abs(nats(run, "cpu") - nats(run, "cuda")) < 1e-2
    # written on the GPU (bf16 training), read, scored and sampled on the CPU; resumed on the CPU
    gpu_run = train(tiny_config(shakespeare_100k, device="cuda", precision="bf16", max_steps=40,
                                eval_every=20), out=tmp_path / "gpu")
    assert abs(nats(gpu_run, "cuda") - nats(gpu_run, "cpu")) < 1e-2
    lm = LanguageModel.load(gpu_run, device="cpu")
    assert len(lm.sample("ROMEO:", length=50, seed=0)[0]) == 50
    config = load_json(gpu_run / "config.json")
    config.train.device, config.train.max_steps = "cpu", 60
    train(config, resume=gpu_run)
    assert json.loads((gpu_run / "last" / "state.json").read_text())["step"] == 60


OLD_RUNS = Path(__file__).parent / "fixtures" / "runs-e28f565"  # written by main at e28f565


@pytest.mark.parametrize("name", ["run-stream", "run-documents"])
def test_runs_written_before_the_reshaping_load_sample_evaluate_and_resume(
        name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A stream LSTM and a documents-mode GRU (--chunk, carried states in last/) from the
    earlier layout: the same val scores and seeded samples as then, and a resume."""
    from rnnlm.cli import main
    from rnnlm.verbs.evaluate import evaluate

    old = Path(shutil.copytree(OLD_RUNS, tmp_path / "old"))
    monkeypatch.chdir(old)  # the runs name their corpus by the relative path corpus.txt
    expected = json.loads((old / "expected.json").read_text(encoding="utf-8"))[name]
    result = evaluate(name, device="cpu")
    assert (result.tokens, result.characters) == (expected["val_tokens"],
                                                   expected["val_characters"])
    # float32 kernels may round differently on another CPU (2e-9 apart here for the GRU's);
    # a change of meaning (other tokens, states, weights) is far larger than 1e-6
    assert result.total_nats == pytest.approx(expected["val_total_nats"], rel=1e-6)
    assert main(["sample", name, "--seed", "3", "--length", "40", "--prime", "The ",
                 "--device", "cpu"]) == 0
    assert capsys.readouterr().out == expected["sample_seed3_length40_prime_The"]
    assert main(["train", "--resume", name, "--max-steps", "9"]) == 0
    assert "keeps it (--restart-schedule" in capsys.readouterr().out
    assert json.loads((old / name / "last" / "state.json").read_text())["step"] == 9
    assert json.loads((old / name / "config.json").read_text())["data"]["word_split"] == "words"
