"""rnnlm export --format onnx: each cell's step and sequence files give PyTorch's logits (fp32)
over 1,000 tokens in onnxruntime, a cell without an ONNX program is refused in one line, and
examples/onnx_sample.py samples an export with numpy and onnxruntime alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from rnnlm.checkpoint import save_checkpoint
from rnnlm.cli import main
from rnnlm.config import DataConfig, ModelConfig, RunConfig
from rnnlm.errors import RnnlmError
from rnnlm.export.onnx import SEQUENCE, SIDECAR, STEP, programs
from rnnlm.language_model import LanguageModel
from rnnlm.models import build_model
from rnnlm.tokenizers import build_tokenizer

ROOT = Path(__file__).resolve().parents[2]
TOKENS = 1000
CELLS = {  # name → model options: one- and two-layer stacks, embedding and one-hot input
    "lstm": dict(cell="lstm", layers=2, hidden=32, embedding=16),
    "gru": dict(cell="gru", layers=1, hidden=32, embedding=16),
    "elman-tanh": dict(cell="rnn", activation="tanh", layers=1, hidden=32, embedding=0),
    "elman-softsign": dict(cell="rnn", activation="softsign", layers=2, hidden=32,
                           embedding=16),
    "elman-crelu": dict(cell="rnn", activation="crelu", layers=2, hidden=32, embedding=16),
    "transformer": dict(cell="transformer", layers=2, hidden=32, heads=4, block=24),
}


def make_run(folder: Path, text: str, **model: object) -> Path:
    """A run folder holding an untrained char model, its weights redrawn from N(0, 0.3²) so
    that every logit depends on the context (the default inits give near-uniform logits),
    but for the recurrent matrices: at PyTorch's init their gain is under 1, so float
    rounding dies out over 1,000 steps instead of growing as in a chaotic network."""
    tok = build_tokenizer("char", text)
    config = RunConfig(model=ModelConfig(vocab_size=tok.vocab_size, dropout=0.0, **model),
                       data=DataConfig(corpus=["text.txt"], seq_len=24)).resolve()
    torch.manual_seed(0)
    net = build_model(config.model)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if "weight_hh" not in name:
                p.normal_(0.0, 0.3)
    save_checkpoint(folder / "best", net, config, tok, {"step": 0})
    return folder


@pytest.fixture(scope="module")
def text(shakespeare: str) -> str:
    """The text the tiny models' vocabulary comes from."""
    return shakespeare[:20_000]


@pytest.fixture(scope="module", params=list(CELLS))
def exported(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
             text: str) -> tuple[str, Path]:
    """(cell name, run folder) with the run exported by `rnnlm export` to RUN/onnx."""
    run = make_run(tmp_path_factory.mktemp(request.param), text, **CELLS[request.param])
    assert main(["export", str(run), "--format", "onnx"]) == 0
    return request.param, run


def start_state(name: str, model: torch.nn.Module, batch: int) -> list[torch.Tensor]:
    """A nonzero first state: random for an RNN; for the transformer, contexts of different
    lengths per row (the ragged case: empty slots on the left of the shorter one)."""
    g = torch.Generator().manual_seed(1)
    if name == "transformer":
        context = torch.randint(1, model.cfg.vocab_size + 1, (1, batch, model.block - 1),
                                generator=g)
        context[0, 0, :-5] = 0  # row 0: 5 ids of context, row 1: a full context
        return [context]
    pieces = 2 if model.cfg.cell == "lstm" else 1
    return [0.5 * torch.randn(model.cfg.layers, batch, model.cfg.hidden, generator=g)
            for _ in range(pieces)]


def torch_reference(model: torch.nn.Module, ids: torch.Tensor, state: list[torch.Tensor]
                    ) -> tuple[np.ndarray, np.ndarray]:
    """PyTorch's logits (B, T, V) for the whole sequence in one call, and for every token
    read one at a time after its own history, as generation steps the model: the same for an
    RNN; for the transformer, whose one call reads in windows of at least block // 2 tokens of
    context, every step is one row of a single model call on (ids (B·T, 1), the context each
    token is read after (1, B·T, C))."""
    first = state[0] if len(state) == 1 else tuple(state)
    with torch.no_grad():
        whole = model(ids, first)[0]  # (B, T, V)
        if model.cfg.cell != "transformer":
            return whole.numpy(), whole.numpy()
        batch, steps, width = *ids.shape, model.block - 1
        full = torch.cat([first[0], ids + 1], 1)  # (B, C + T), the state's id + 1 form
        contexts = full.unfold(1, width, 1)[:, :steps]  # (B, T, C): before each token
        stepped = model(ids.reshape(-1, 1), contexts.reshape(1, -1, width))[0]  # (B·T, 1, V)
    return whole.numpy(), stepped.reshape(batch, steps, -1).numpy()


def test_logits_equal_pytorch_over_1000_tokens(exported: tuple[str, Path]) -> None:
    name, run = exported
    meta = json.loads((run / "onnx" / SIDECAR).read_text())
    model = LanguageModel.load(run, device="cpu", precision="fp32").model
    ids = torch.randint(0, model.cfg.vocab_size, (2, TOKENS),
                        generator=torch.Generator().manual_seed(2))
    state = start_state(name, model, 2)
    whole, stepped = torch_reference(model, ids, state)
    assert whole.std() > 0.25  # the logits move with the context: the comparison means something
    names = [s["name"] for s in meta["state"]]
    feed = dict(zip(names, [s.numpy() for s in state], strict=True))
    sequence = ort.InferenceSession(str(run / "onnx" / SEQUENCE))
    got = sequence.run(None, {"ids": ids.numpy(), **feed})[0]  # (B, T, V)
    assert np.abs(got - whole).max() < 1e-4
    step, carried, worst = ort.InferenceSession(str(run / "onnx" / STEP)), feed, 0.0
    for t in range(TOKENS):
        logits, *out = step.run(None, {"ids": ids[:, t].numpy(), **carried})
        carried = dict(zip(names, out, strict=True))
        worst = max(worst, float(np.abs(logits - stepped[:, t]).max()))
    assert worst < 1e-4


def test_sidecar_describes_the_state(exported: tuple[str, Path]) -> None:
    name, run = exported
    meta = json.loads((run / "onnx" / SIDECAR).read_text())
    cfg = CELLS[name]
    expected = ["context"] if name == "transformer" else (["h", "c"] if name == "lstm"
                                                          else ["h"])
    assert [s["name"] for s in meta["state"]] == expected
    if name != "transformer":
        assert meta["state"][0]["shape"] == [cfg["layers"], "batch", cfg["hidden"]]
    assert meta["checked"]["max_abs_logit_difference"] < 1e-4
    assert (run / "onnx" / "tokenizer.json").is_file()
    assert not list(run.glob("onnx.*"))  # no partial or old folder left behind


def test_a_cell_without_an_onnx_program_is_refused(tmp_path: Path, text: str) -> None:
    model = build_model(ModelConfig(cell="mingru", layers=1, hidden=8, embedding=8,
                                    vocab_size=10))
    with pytest.raises(RnnlmError, match="cannot export the mingru cell to ONNX") as e:
        programs(model)
    assert "\n" not in str(e.value)


def test_export_without_onnxruntime_names_the_extra(monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path, capsys) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails
    assert main(["export", str(tmp_path), "--format", "onnx"]) == 2
    assert "pip install 'rnnlm[onnx]'" in capsys.readouterr().err


@pytest.mark.parametrize("exported", ["lstm", "transformer"], indirect=True)  # one of each
def test_example_samples_without_torch(exported: tuple[str, Path], tmp_path: Path) -> None:
    _, run = exported
    blocker = tmp_path / "no_torch"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(
        "import sys\n"
        "class NoTorch:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('torch', 'rnnlm'):\n"
        "            raise ImportError(f'{name} is blocked in this test')\n"
        "sys.meta_path.insert(0, NoTorch())\n")
    env = {**os.environ, "PYTHONPATH": str(blocker)}
    command = [sys.executable, str(ROOT / "examples" / "onnx_sample.py"), str(run / "onnx"),
               "--prime", "ROMEO:", "--length", "80", "--temperature", "0.9", "--seed", "3"]
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("ROMEO:") and len(first.stdout) >= len("ROMEO:") + 80
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert again.stdout == first.stdout  # the seed fixes the sample
    probe = subprocess.run([sys.executable, "-c", "import torch"], env=env,
                           capture_output=True, text=True)
    assert probe.returncode != 0  # the blocker really blocks torch
