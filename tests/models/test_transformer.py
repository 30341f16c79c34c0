"""The causal transformer: causality, context carried as state, learning, the CLI verbs end to
end, and one-line errors for configurations that make no sense."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from rnnlm.checkpoint import load_model_dir
from rnnlm.cli import main
from rnnlm.config import DataConfig, ModelConfig, RunConfig
from rnnlm.errors import RnnlmError
from rnnlm.models import TransformerLanguageModel, build_model
from rnnlm.models.state import state_from_tensors, state_tensors
from rnnlm.train.trainer import Trainer
from tests.conftest import tiny_config
from tests.test_cli import fails

TINY = ["--cell", "transformer", "--layers", "2", "--hidden", "32", "--heads", "4",
        "--batch-size", "8", "--seq-len", "32", "--dropout", "0", "--precision", "fp32",
        "--sample-length", "0", "--device", "cpu"]


def model(block: int = 16, vocab: int = 11) -> TransformerLanguageModel:
    torch.manual_seed(0)
    config = RunConfig(model=ModelConfig(cell="transformer", layers=2, hidden=32, heads=4,
                                         dropout=0.0, vocab_size=vocab),
                       data=DataConfig(seq_len=block)).resolve()
    m = build_model(config.model)
    assert isinstance(m, TransformerLanguageModel)
    return m.eval()


def test_config_ties_and_sizes_the_block() -> None:
    m = model(block=16)
    assert (m.cfg.block, m.cfg.embedding, m.cfg.tie_weights) == (16, 32, True)
    assert m.head.weight is m.embed.weight


def test_causality() -> None:
    m = model()
    ids = torch.randint(0, 11, (2, 16))
    before, _ = m(ids)
    for t in (0, 7, 15):
        changed = ids.clone()
        changed[:, t] = (changed[:, t] + 1) % 11
        after, _ = m(changed)
        torch.testing.assert_close(after[:, :t], before[:, :t], rtol=0, atol=0)
        assert not torch.allclose(after[:, t:], before[:, t:])


def test_carried_context_equals_one_forward_within_the_block() -> None:
    m = model(block=16)
    ids = torch.randint(0, 11, (3, 16))
    whole, state = m(ids)
    assert state.shape == (1, 3, 15) and state.dtype == torch.int64
    parts, s = [], None
    for a, b in ((0, 5), (5, 6), (6, 12), (12, 16)):  # a single token, as generation does
        logits, s = m(ids[:, a:b], s)
        parts.append(logits)
    torch.testing.assert_close(torch.cat(parts, 1), whole, rtol=1e-5, atol=1e-5)
    assert torch.equal(s, state)


def test_cold_and_warm_rows_in_one_batch() -> None:
    """scoring.token_nats puts a cold column (an all-zero state) beside warm ones."""
    m = model(block=16)
    ids = torch.randint(0, 11, (3, 16))
    _, warm = m(ids[1:, :10])  # (1, 2, 15)
    state = torch.cat([torch.zeros_like(warm[:, :1]), warm], 1)  # row 0: cold
    logits, _ = m(ids[:, 10:], state)
    alone, _ = m(ids[:1, 10:])
    torch.testing.assert_close(logits[:1], alone, rtol=1e-5, atol=1e-5)
    context, _ = m(ids[1:])
    torch.testing.assert_close(logits[1:], context[:, 10:], rtol=1e-5, atol=1e-5)


def test_text_longer_than_the_block_is_read_in_windows() -> None:
    m = model(block=16)  # windows [0, 16), then 8 new positions with the 8 before them
    ids = torch.randint(0, 11, (2, 40))
    logits, state = m(ids)
    assert logits.shape == (2, 40, 11)
    direct, _ = m(ids[:, 8:21])  # position 20 is read in the window [8, 24)
    torch.testing.assert_close(logits[:, 20], direct[:, -1], rtol=1e-5, atol=1e-5)
    assert torch.equal(state[0], ids[:, -15:] + 1)


def test_right_padding_never_changes_real_positions() -> None:
    m = model()
    ids = torch.randint(0, 11, (2, 12))
    padded = ids.clone()
    padded[1, 7:] = 0
    a, _ = m(ids)
    b, _ = m(padded, lengths=torch.tensor([12, 7]))
    torch.testing.assert_close(b[1, :7], a[1, :7], rtol=0, atol=0)


def test_state_round_trips_as_ids() -> None:
    _, state = model()(torch.randint(0, 11, (2, 5)))
    tensors = state_tensors(state)
    assert tensors["state.0"].dtype == torch.int64
    assert torch.equal(state_from_tensors(tensors, torch.device("cpu")), state)


def test_training_lowers_the_loss(shakespeare_100k: Path, tmp_path: Path) -> None:
    config = tiny_config(shakespeare_100k, max_steps=200, eval_every=200, lr=6e-3)
    config.model = ModelConfig(cell="transformer", layers=2, hidden=64, heads=4, dropout=0.0)
    config.data.batch_size, config.data.seq_len = 16, 64
    trainer = Trainer(config, tmp_path, resuming=False)
    first, _ = trainer.train_step(1e-3)
    assert trainer.hidden is None  # independent windows: no carried context
    val = trainer.run()
    assert first.item() > 3.8  # about ln(vocabulary) at the start
    assert val["val_nats_per_token"] < 2.5, val


def test_train_eval_sample_resume_cli(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                      shakespeare_100k: Path) -> None:
    run = tmp_path / "run"
    assert main(["train", str(shakespeare_100k), "--out", str(run), "--max-steps", "20",
                 "--eval-every", "10", *TINY]) == 0
    assert "2×32 transformer" in capsys.readouterr().out
    _, _, config = load_model_dir(run / "best")
    assert (config.model.block, config.model.tie_weights) == (32, True)
    assert main(["eval", str(run), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["tokens"] == 9_999 and 0 < result["bits_per_char"] < 8
    assert main(["sample", str(run), "--prime", "ROMEO:", "--length", "80", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ROMEO:") and len(out) == len("ROMEO:") + 80 + 1
    assert main(["train", "--resume", str(run), "--max-steps", "30"]) == 0


def test_one_line_errors(capsys: pytest.CaptureFixture[str], shakespeare_100k: Path) -> None:
    corpus = str(shakespeare_100k)
    fails(capsys, ["train", corpus, *TINY, "--heads", "5"],
          "--hidden 32 is not divisible by --heads 5")
    fails(capsys, ["train", corpus, *TINY, "--block", "16"],
          "--seq-len 32 is longer than --block 16")
    fails(capsys, ["train", corpus, *TINY, "--block", "64"],
          "--block 64 is longer than --seq-len 32")
    with pytest.raises(RnnlmError, match="--chunk 64 is longer than --block 32"):
        RunConfig(model=ModelConfig(cell="transformer", block=32),
                  data=DataConfig(documents="lines", chunk=64)).resolve()


def test_documents_mode_with_pieces(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                    shakespeare_100k: Path) -> None:
    run = tmp_path / "docs"
    assert main(["train", str(shakespeare_100k), "--documents", "lines", "--chunk", "32",
                 "--out", str(run), "--max-steps", "10", "--eval-every", "10", *TINY]) == 0
    capsys.readouterr()
    assert main(["sample", str(run), "--documents", "2", "--length", "40", "--seed", "1"]) == 0
    assert capsys.readouterr().out.count("--- document") == 2
