"""The min-cell LMs (--cell mingru, minlstm): the log-space scan equals the recurrence, a
window equals its pieces and its one-token steps from any carried state, padding leaves each
row's state at its last real token, gradients reach every weight, and the CLI verbs work end
to end with an exact resume (the ONNX refusal is tested in tests/export)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import torch

from rnnlm.cli import main
from rnnlm.config import ModelConfig, RunConfig
from rnnlm.inference.inspect import inspect_text
from rnnlm.language_model import LanguageModel
from rnnlm.models import MinRNNLanguageModel, build_model
from rnnlm.models.kernels.scan import CHUNK, scan
from rnnlm.models.minrnn import MinCell
from rnnlm.models.state import map_state, state_from_tensors, state_tensors
from rnnlm.serve.rows import ModelRows, rows_for
from rnnlm.train.trainer import train
from tests.conftest import doc_config, tiny_config
from tests.serve.conftest import running
from tests.train import resume_gap

CELLS = ("mingru", "minlstm")
TINY = ["--layers", "2", "--hidden", "32", "--batch-size", "8", "--seq-len", "32",
        "--dropout", "0", "--precision", "fp32", "--sample-length", "0", "--device", "cpu"]


def model(cell: str, vocab: int = 11, dtype: torch.dtype = torch.float64
          ) -> MinRNNLanguageModel:
    torch.manual_seed(0)
    config = RunConfig(model=ModelConfig(cell=cell, layers=2, hidden=16, dropout=0.0,
                                         vocab_size=vocab)).resolve()
    m = build_model(config.model)
    assert isinstance(m, MinRNNLanguageModel)
    return m.to(dtype).eval()


def random_state(m: MinRNNLanguageModel, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A carried state of any sign (the cells' h is positive from a cold start, but a state
    given from outside need not be)."""
    return map_state(torch.randn_like, m.zero_state(batch, torch.device("cpu")))


def close(a: torch.Tensor, b: torch.Tensor, tol: float = 1e-5) -> None:
    torch.testing.assert_close(a, b, rtol=0, atol=tol)


def test_scan_equals_the_recurrence_across_chunks() -> None:
    torch.manual_seed(0)
    b, t, d = 3, 2 * CHUNK + 7, 5
    log_a = -torch.rand(b, t, d, dtype=torch.float64) * 3  # a in (e^-3, 1]
    log_b = torch.randn(b, t, d, dtype=torch.float64)
    h0 = torch.randn(b, d, dtype=torch.float64)
    h0[0] = 0.0  # a cold row: log h0 would be -inf
    h0[1] = -h0[1].abs()  # a negative state
    h, expected = h0, []
    for k in range(t):
        h = log_a[:, k].exp() * h + log_b[:, k].exp()
        expected.append(h)
    close(scan(log_a, log_b, h0), torch.stack(expected, 1), 1e-10)


@pytest.mark.parametrize("cell", CELLS)
def test_scan_equals_the_cells_own_step(cell: str) -> None:
    """The log-space coefficients against the cell's equations in plain arithmetic."""
    torch.manual_seed(0)
    c = MinCell(cell, 6, 9).double()
    x, h0 = torch.randn(2, 40, 6, dtype=torch.float64), torch.randn(2, 9, dtype=torch.float64)
    h, expected = h0, []
    for k in range(40):
        h = c(x[:, k: k + 1], h)[:, 0]  # one token: the step
        expected.append(h)
    close(c(x, h0), torch.stack(expected, 1))


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("cold", [True, False])
def test_a_window_equals_its_pieces_and_its_steps(cell: str, cold: bool) -> None:
    m = model(cell)
    ids = torch.randint(0, 11, (3, 64))
    start = None if cold else random_state(m, 3)
    whole, state = m(ids, start)
    for width in (16, 1):  # 4 windows carrying the state; 64 one-token steps
        parts, s = [], start
        for a in range(0, 64, width):
            logits, s = m(ids[:, a: a + width], s)
            parts.append(logits)
        close(torch.cat(parts, 1), whole)
        for got, want in zip(s, state, strict=True):
            close(got, want)


def test_fp32_keeps_its_precision_over_a_long_window() -> None:
    """Chunks keep the logarithms small: one scan over 2,048 positions loses ~2e-4."""
    torch.manual_seed(0)
    log_a = -torch.rand(2, 2048, 64, dtype=torch.float64) * 1.5
    log_b = torch.randn(2, 2048, 64, dtype=torch.float64) - 1
    h0 = torch.rand(2, 64, dtype=torch.float64)
    exact = scan(log_a, log_b, h0)
    fp32 = scan(log_a.float(), log_b.float(), h0.float()).double()
    assert ((fp32 - exact).abs() / exact).max() < 2e-5


@pytest.mark.parametrize("cell", CELLS)
def test_padding_leaves_each_rows_state_after_its_last_real_token(cell: str) -> None:
    m = model(cell)
    ids = torch.randint(0, 11, (3, 12))
    start = random_state(m, 3)
    lengths = torch.tensor([12, 7, 2])  # 2: shorter than the convolution's k − 1 = 3 inputs
    padded = ids.clone()
    for row, n in enumerate(lengths.tolist()):
        padded[row, n:] = 0
    logits, state = m(padded, start, lengths)
    for row, n in enumerate(lengths.tolist()):
        one = map_state(lambda t, r=row: t[:, r: r + 1], start)
        alone, want = m(ids[row: row + 1, :n], one)
        close(logits[row: row + 1, :n], alone)
        for got, w in zip(state, want, strict=True):
            close(got[:, row: row + 1], w)


@pytest.mark.parametrize("cell", CELLS)
def test_gradients_reach_every_weight(cell: str) -> None:
    m = model(cell, dtype=torch.float32).train()
    ids = torch.randint(0, 11, (4, 2 * CHUNK + 1))
    logits, _ = m(ids[:, :-1], random_state(m, 4))
    torch.nn.functional.cross_entropy(logits.flatten(0, 1), ids[:, 1:].flatten()).backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().max() > 0, name


def test_state_layout_and_options() -> None:
    m = model("minlstm")
    assert (m.cfg.embedding, m.inner) == (16, 24)  # embedding = hidden; 1.5 × 16 units
    _, state = m(torch.randint(0, 11, (5, 3)))
    assert [s.shape for s in state] == [(2, 5, 24), (2, 5, 3 * 16)]
    loaded = state_from_tensors(state_tensors(state), torch.device("cpu"))
    for got, want in zip(loaded, state, strict=True):
        close(got.double(), want, 1e-6)
    wider = RunConfig(model=ModelConfig(cell="mingru", hidden=8, expansion=2.0, conv_kernel=1,
                                        vocab_size=5)).resolve()
    m2 = build_model(wider.model)
    _, (h, buf) = m2(torch.randint(0, 5, (2, 4)))
    assert h.shape == (2, 2, 16) and buf.shape == (2, 2, 0)  # kernel 1: nothing carried


def test_serve_rows_step_the_model(tmp_path: Path) -> None:
    m = model("mingru")
    ids = torch.randint(0, 11, (2, 6))
    rows = rows_for(m, "fp32")
    assert isinstance(rows, ModelRows)
    for row in range(2):
        _, primed = m(ids[row: row + 1, :5])
        rows.add(primed, 1)
    step = rows.step(ids[:, 5])
    logits, _ = m(ids)
    close(step.double(), logits[:, 5].float().double(), 1e-6)


@pytest.mark.parametrize("cell", CELLS)
def test_train_eval_sample_inspect_resume_cli(cell: str, capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path, shakespeare_100k: Path) -> None:
    run = tmp_path / "run"
    assert main(["train", str(shakespeare_100k), "--cell", cell, "--out", str(run),
                 "--max-steps", "150", "--eval-every", "75", "--warmup-steps", "10", "--lr",
                 "1e-2", *TINY]) == 0
    assert f"2×32 {cell}" in capsys.readouterr().out
    assert main(["eval", str(run), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["tokens"] == 9_999 and result["bits_per_char"] < 4.0  # unigram: 4.78
    assert main(["sample", str(run), "--prime", "ROMEO:", "--length", "80", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ROMEO:") and len(out) == len("ROMEO:") + 80 + 1
    lm = LanguageModel.load(run, device="cpu")
    data = inspect_text(lm, "First Citizen:\nSpeak.\n", units=[(1, 47)], rank=3)
    assert data["hidden"] == 48 and len(data["units"][0]["values"]) == len(data["tokens"])
    assert min(data["units"][0]["values"]) > 0  # g(h̃) > 0: a cold h stays positive
    assert main(["train", "--resume", str(run), "--max-steps", "160"]) == 0


def test_documents_mode_with_pieces(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                    shakespeare_100k: Path) -> None:
    run = tmp_path / "docs"
    assert main(["train", str(shakespeare_100k), "--cell", "mingru", "--documents", "lines",
                 "--chunk", "16", "--pack", "--out", str(run), "--max-steps", "10",
                 "--eval-every", "10", *TINY]) == 0
    capsys.readouterr()
    assert main(["sample", str(run), "--documents", "2", "--length", "40", "--seed", "1"]) == 0
    assert capsys.readouterr().out.count("--- document") == 2


def test_resume_is_exact(shakespeare_100k: Path, tmp_path: Path) -> None:
    def config(steps: int):
        c = tiny_config(shakespeare_100k, max_steps=steps, eval_every=20, decay_steps=40)
        c.model = ModelConfig(cell="minlstm", layers=2, hidden=32, dropout=0.2)  # RNG too
        return c

    assert resume_gap(config, 40, 20, tmp_path) <= 1e-6


def test_resume_with_chunks_is_exact(abstracts_file: Path, tmp_path: Path) -> None:
    def config(steps: int):
        c = doc_config(abstracts_file, steps, chunk=32)
        c.model = ModelConfig(cell="mingru", layers=1, hidden=32, dropout=0.0)
        c.train.decay_steps, c.train.eval_every = 20, 10
        return c

    assert resume_gap(config, 20, 10, tmp_path) <= 1e-6


def test_served_completions_and_inspection(shakespeare_100k: Path, tmp_path: Path) -> None:
    """The server's generic rows run the model; its units are the cells' expansion × hidden."""
    config = tiny_config(shakespeare_100k, max_steps=10, eval_every=10, sample_length=0)
    config.model = ModelConfig(cell="mingru", layers=2, hidden=32, dropout=0.0)
    run = train(config, out=tmp_path / "min")
    with running([run]) as (url, _), httpx.Client(base_url=url, timeout=60) as http:
        r = http.post("/v1/completions", json={"model": "min", "prompt": ["ROMEO:", "A"],
                                               "max_tokens": 7, "n": 2, "seed": 1})
        assert r.status_code == 200, r.text
        choices = r.json()["choices"]
        assert len(choices) == 4 and all(c["text"] for c in choices)
        r = http.post("/v1/inspect", json={"model": "min", "text": "First Citizen:\n",
                                           "units": [[1, 47]], "rank": 2})
        assert r.status_code == 200, r.text
        assert r.json()["hidden"] == 48 and len(r.json()["units"][0]["values"]) == 15
        r = http.post("/v1/inspect", json={"model": "min", "text": "First Citizen:\n",
                                           "units": [[1, 48]]})
        assert r.status_code == 400 and "2 layer(s) of 48 units" in r.text
