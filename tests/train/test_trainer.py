"""Training end to end on real text: it learns, resumes exactly, survives kill -9 while
checkpointing, clips by global norm, fine-tunes with new characters."""

from __future__ import annotations

import itertools
import json
import math
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rnnlm import runtime
from rnnlm.bench.crash import killed_run, logged_steps, max_difference
from rnnlm.errors import RnnlmError
from rnnlm.language_model import LanguageModel
from rnnlm.models.state import lm_loss
from rnnlm.train.trainer import Trainer, train
from tests.conftest import DATA, doc_config, tiny_config
from tests.train import resume_gap


def test_learns_shakespeare_in_200_steps(shakespeare_100k: Path, tmp_path: Path) -> None:
    config = tiny_config(shakespeare_100k, max_steps=200, eval_every=100, lr=4e-3)
    config.model.hidden, config.model.embedding = 256, 32
    config.data.batch_size, config.data.seq_len = 32, 64
    run = train(config, out=tmp_path / "run")
    best = json.loads((run / "best" / "state.json").read_text())["val"]
    assert best["val_bits_per_char"] < 3.3
    files = {p.name for p in run.iterdir()}
    assert files >= {"config.json", "tokenizer.json", "metrics.jsonl", "samples.txt",
                     "tensorboard", "best", "last"}
    assert any((run / "tensorboard").iterdir())
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert any("val_bits_per_char" in x for x in lines) and lines[-1]["step"] == 200
    assert (run / "samples.txt").read_text().count("=== step") == 2


@pytest.mark.parametrize("cell,activation", [("lstm", "tanh"), ("gru", "tanh"), ("rnn", "tanh"),
                                             ("rnn", "relu"), ("rnn", "softsign"),
                                             ("rnn", "relu6"), ("rnn", "elu"),
                                             ("rnn", "softplus"), ("rnn", "sigmoid")])
def test_every_cell_learns(cell: str, activation: str, shakespeare_100k: Path,
                           tmp_path: Path) -> None:
    config = tiny_config(shakespeare_100k, max_steps=150, eval_every=150, sample_length=0,
                         lr=5e-3)
    config.model.cell, config.model.activation = cell, activation
    config.model.hidden, config.data.batch_size = 128, 16
    run = train(config, out=tmp_path / "run")
    bpc = json.loads((run / "best" / "state.json").read_text())["val"]["val_bits_per_char"]
    assert bpc < 4.3  # a context-free (unigram) model of this text needs 4.78 bits/char


def test_resume_is_exact(shakespeare_100k: Path, tmp_path: Path) -> None:
    def config(steps: int):
        c = tiny_config(shakespeare_100k, max_steps=steps, eval_every=100, lr_schedule="cosine",
                        decay_steps=400)
        c.model.layers, c.model.dropout = 2, 0.2  # dropout: the RNG state must resume too
        return c

    assert resume_gap(config, 400, 200, tmp_path) <= 1e-6


AWD = dict(weight_drop=0.5, dropout_input=0.2, dropout_hidden=0.2, dropout_output=0.2,
           dropout_embedding=0.1, ar=2.0, tar=1.0)


def awd_config(corpus: Path, steps: int, documents: bool, **data: object):
    """A 2-layer tiny run with every AWD-LSTM regularizer on."""
    c = doc_config(corpus, steps, **data) if documents else tiny_config(
        corpus, max_steps=steps, eval_every=steps, sample_length=10)
    c.model.layers, c.train.decay_steps = 2, 30
    for key, value in AWD.items():
        setattr(c.model, key, value)
    return c


@pytest.mark.parametrize("cell,documents,pack", [("lstm", False, False), ("lstm", True, True),
                                                 ("gru", True, False), ("rnn", False, False)])
def test_resume_with_awd_regularizers_is_exact(cell: str, documents: bool, pack: bool,
                                               shakespeare_100k: Path, abstracts_file: Path,
                                               tmp_path: Path) -> None:
    """Weight drop, locked and word dropout draw from the resumed RNG; AR/TAR change nothing
    to it (the GRU and Elman cells: the hoisted kernels)."""
    def config(steps: int):
        corpus = abstracts_file if documents else shakespeare_100k
        extra = dict(chunk=64, pack=pack) if documents else {}
        c = awd_config(corpus, steps, documents, **extra)
        c.model.cell = cell
        return c

    assert resume_gap(config, 30, 15, tmp_path) <= 1e-6


def test_the_reported_training_loss_is_the_cross_entropy_alone(shakespeare_100k: Path,
                                                               tmp_path: Path) -> None:
    """AR and TAR change the gradient, not the loss a step reports (nats per token)."""
    def first_step(ar: float, tar: float) -> tuple[float, float, float]:
        config = awd_config(shakespeare_100k, 10, documents=False)
        config.model.ar, config.model.tar = ar, tar
        trainer = Trainer(config, tmp_path / f"run{ar}", resuming=False)
        x, y, _ = trainer.batches.next()
        trainer.batches.seek(0, 0)
        torch.manual_seed(3)
        with torch.no_grad():  # the cross-entropy of the same (dropped) forward
            ce = float(lm_loss(trainer.model(x)[0], y))
        torch.manual_seed(3)
        loss, norm = trainer.train_step(lr=1e-3)
        return float(loss), float(norm), ce

    (loss, norm, ce), (loss_reg, norm_reg, ce_reg) = first_step(0.0, 0.0), first_step(50.0, 50.0)
    assert loss == pytest.approx(ce, rel=1e-6) and loss_reg == pytest.approx(ce_reg, rel=1e-6)
    assert loss == loss_reg and norm != norm_reg


def test_vocabulary_comes_from_the_training_split(tmp_path: Path, shakespeare: str) -> None:
    text = tmp_path / "t.txt"
    text.write_text(shakespeare[:30_000] + "Zoë ∑ü" * 500)  # only the val part has ë, ∑, ü
    config = tiny_config(text, max_steps=5, eval_every=5, sample_length=0)
    run = train(config, out=tmp_path / "run")
    tok = LanguageModel.load(run).tokenizer
    assert tok.unknown("ë∑ü") == sorted("ë∑ü")


def test_clipping_is_by_global_norm(shakespeare_100k: Path, tmp_path: Path) -> None:
    config = tiny_config(shakespeare_100k, optimizer="sgd", clip=0.01, warmup_steps=0)
    trainer = Trainer(config, tmp_path / "run", resuming=False)
    before = [p.detach().clone() for p in trainer.model.parameters()]
    x, y, _ = trainer.batches.next()
    trainer.batches.seek(0, 0)
    logits, _ = trainer.model(x)
    torch.nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten()).backward()
    grads = [p.grad.clone() for p in trainer.model.parameters()]
    _, norm = trainer.train_step(lr=1.0)  # first SGD-momentum step: update = -lr * clipped grad
    steps = [b - p.detach() for b, p in zip(before, trainer.model.parameters(), strict=True)]
    scale = 0.01 / float(norm)
    assert float(norm) > 0.01  # clipping was active
    for g, s in zip(grads, steps, strict=True):  # one common scale: the global norm
        torch.testing.assert_close(s, g * scale, rtol=1e-3, atol=1e-6)


def test_fine_tune_adds_new_characters(tiny_run: Path, tmp_path: Path, shakespeare: str,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    text = tmp_path / "french.txt"
    text.write_text(shakespeare[:60_000].replace("e", "é"))  # only é is new
    config = tiny_config(text, max_steps=10, eval_every=10, sample_length=0)
    config.init_from = str(tiny_run)
    run = train(config, out=tmp_path / "ft")
    assert "adding 1 new character(s): \\xe9" in capsys.readouterr().out
    lm = LanguageModel.load(run)
    old = LanguageModel.load(tiny_run)
    assert lm.tokenizer.vocab_size == old.tokenizer.vocab_size + 1
    assert lm.config.model.hidden == old.config.model.hidden
    assert lm.score("Thé quéén").unknown_tokens == 0


def test_run_directory_is_not_overwritten(tiny_run: Path) -> None:
    with pytest.raises(RnnlmError, match="already holds a run; continue it with --resume"):
        train(tiny_config("shakespeare"), out=tiny_run)


def test_corpus_shorter_than_one_batch(tmp_path: Path) -> None:
    text = tmp_path / "short.txt"
    text.write_text("To be or not to be. " * 10)
    with pytest.raises(RnnlmError, match="too short.*lower --batch-size or --seq-len"):
        train(tiny_config(text), out=tmp_path / "run")


def test_killed_anywhere_resumes_to_the_same_weights(shakespeare_100k: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """kill -9 a run (dropout on, a checkpoint every 3 steps) just after it starts, inside a
    checkpoint write and between writes, resuming after each: it ends with the weights of the
    uninterrupted run (trained beside it), and logs every validation step once, as that run
    does. One thread per process: two-thread ones crawl when another process takes a core."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    def command(run: Path) -> list[str]:
        return [sys.executable, "-m", "rnnlm", "train", str(shakespeare_100k), "--out", str(run),
                "--layers", "2", "--hidden", "128", "--embedding", "16", "--dropout", "0.2",
                "--batch-size", "8", "--seq-len", "32", "--eval-every", "3", "--max-steps", "36",
                "--sample-length", "10", "--precision", "fp32", "--device", "cpu"]

    whole, killed = tmp_path / "whole", tmp_path / "killed"
    uninterrupted = subprocess.Popen(command(whole), stdout=subprocess.DEVNULL)
    kills = killed_run(command(killed), killed, ["early", "write", "between"], random.Random(0),
                       tries=4)
    assert uninterrupted.wait() == 0
    assert {k.landed for k in kills} == {"early", "write", "between"}
    assert max_difference(whole, killed) <= 1e-6
    assert logged_steps(killed) == logged_steps(whole) == {
        key: list(range(3, 37, 3)) for key in ("metrics", "samples", "tensorboard")}


def test_resume_with_a_larger_budget_keeps_the_schedule(shakespeare_100k: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    """A finished 20-step cosine run resumed to 40 steps trains on at its lr floor (the
    schedule's horizon is its first budget); --restart-schedule starts a new cycle instead."""
    from rnnlm.cli import main

    config = tiny_config(shakespeare_100k, max_steps=20, eval_every=5, sample_length=0,
                         warmup_steps=0, min_lr_ratio=0.1, lr=1e-3)
    run = train(config, out=tmp_path / "run")
    restart = Path(shutil.copytree(run, tmp_path / "restart"))

    def lrs(path: Path) -> dict[int, float]:
        rows = [json.loads(x) for x in (path / "metrics.jsonl").read_text().splitlines()]
        return {r["step"]: r["lr"] for r in rows if "lr" in r and r["step"] > 20}

    assert main(["train", "--resume", str(run), "--max-steps", "40"]) == 0
    assert "resuming keeps it" in capsys.readouterr().out
    kept = lrs(run)
    assert kept and all(lr == pytest.approx(1e-4) for lr in kept.values())
    assert main(["train", "--resume", str(restart), "--max-steps", "40",
                 "--restart-schedule"]) == 0
    again = lrs(restart)  # the lr of step k's update, k - 1 steps into the 20-step cycle
    assert again[25] == pytest.approx(1e-4 + 9e-4 * 0.5 * (1 + math.cos(math.pi * 4 / 20)))
    assert again[40] == pytest.approx(1e-4 + 9e-4 * 0.5 * (1 + math.cos(math.pi * 19 / 20)))


def test_resume_with_chunks_is_exact(abstracts_file: Path, tmp_path: Path) -> None:
    def config(steps: int):
        c = doc_config(abstracts_file, steps, chunk=64)
        c.train.decay_steps, c.train.eval_every, c.model.dropout = 30, 15, 0.2
        return c

    assert resume_gap(config, 30, 15, tmp_path) <= 1e-6


def test_memory_stops_growing_on_batches_of_changing_shapes(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    """Whole abstracts (--chunk 0) make every batch another shape, which leaves freed blocks
    behind; the guard hands them back (tight bounds here, to see it in a few steps), so the
    memory held between steps stays under the bound set at the first step, and that bound
    never needs raising (it would, were the trims to give nothing back)."""
    monkeypatch.setattr(runtime, "HEADROOM", 1.2)
    monkeypatch.setattr(runtime, "SLACK", 128 * 2**20)
    config = doc_config(DATA / "arxiv-abstracts" / "abstracts.txt", 10**6, chunk=0,
                        batch_size=16)
    config.model.hidden, config.model.embedding = 256, 32
    trainer = Trainer(config, tmp_path / "run", resuming=False)
    guard = runtime.MemoryGuard()
    trainer.train_step(trainer.lr())
    guard.check()
    bound, held = guard.limit, []  # held: resident memory between steps
    for _ in range(60):
        trainer.train_step(trainer.lr())
        guard.check()
        held.append(runtime.resident_bytes())
    assert guard.trims > 0 and guard.limit == bound and max(held) <= bound


def test_one_steps_memory_is_bounded_whatever_the_document_lengths(tmp_path: Path,
                                                                   shakespeare: str) -> None:
    """Documents of 50,000 characters train in pieces of --seq-len tokens by default, so a
    step takes no more memory than with 2,000-character ones; whole (--chunk 0) it would."""
    from rnnlm.bench.machine import PeakMemory

    def step_mib(length: int, **data: object) -> float:
        text = shakespeare.replace("\n", " ")
        corpus = tmp_path / f"docs{length}.txt"
        corpus.write_text("".join(text[i * length: (i + 1) * length] + "\n" for i in range(8)),
                          encoding="utf-8")
        config = doc_config(corpus, 10**6, val_fraction=0.25, batch_size=4, **data)
        trainer = Trainer(config, tmp_path / f"run{length}{data}", resuming=False)
        trainer.train_step(trainer.lr())  # the optimizer's state exists from here on
        with PeakMemory(trainer.device).measure() as peak:
            trainer.train_step(trainer.lr())
        return peak.mib

    long, short = step_mib(50_000), step_mib(2_000)
    assert long <= 1.2 * short
    assert step_mib(50_000, chunk=0) > 10 * long


def test_variable_windows_scale_the_steps_lr(shakespeare_100k: Path, tmp_path: Path) -> None:
    """--variable-bptt: each step's lr is the schedule's × its window's length / --seq-len."""
    config = tiny_config(shakespeare_100k, optimizer="sgd", warmup_steps=0)
    config.data.variable_bptt = True
    trainer = Trainer(config, tmp_path / "run", resuming=False)
    lengths = []
    for _ in range(8):
        position = trainer.batches.position()
        lengths.append(trainer.batches.next()[0].shape[1])
        trainer.batches.seek(**position)
        trainer.train_step(lr=2.0)
        assert trainer.optimizer.param_groups[0]["lr"] == 2.0 * lengths[-1] / 32
    assert len(set(lengths)) > 1


def test_resume_with_variable_windows_is_exact(shakespeare_100k: Path, tmp_path: Path) -> None:
    """Stopped near the end of the first epoch (about 22 windows of 64 columns), resumed
    across it."""
    def config(steps: int):
        c = tiny_config(shakespeare_100k, max_steps=steps, eval_every=10, sample_length=0,
                        decay_steps=40)
        c.data.variable_bptt, c.data.batch_size, c.data.seq_len = True, 64, 64
        c.model.dropout = 0.2
        return c

    assert resume_gap(config, 40, 20, tmp_path) == 0.0


def test_an_overfitting_run_decays_and_ends_early(shakespeare: str, tmp_path: Path) -> None:
    """3 kB of training text and a 1×256 LSTM stop improving within 200 steps of a 2,000-step
    cosine: the first validation no better than the best starts the final decay, which makes
    a better model than any before it, and the run ends there with the best checkpoint kept."""
    corpus = tmp_path / "small.txt"
    corpus.write_text(shakespeare[:4_000], encoding="utf-8")
    config = tiny_config(corpus, max_steps=2_000, eval_every=10, sample_length=0, lr=3e-3,
                         lr_schedule="cosine", overfit_decay=0.5)
    config.model.hidden, config.data.val_fraction = 256, 0.25
    run = train(config, out=tmp_path / "run")
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    began = next(x["step"] for x in lines if "early_decay_from" in x)
    vals = [(x["step"], x["val_nats_per_token"]) for x in lines if "val_nats_per_token" in x]
    before = [v for step, v in vals if step < began]
    assert all(b < a for a, b in itertools.pairwise(before))  # each one the best
    assert dict(vals)[began] >= min(before)  # then the first one no better began the decay
    assert min(v for step, v in vals if step > began) < min(before)  # the decay paid
    assert lines[-1]["step"] == began + round(0.5 * began) < 500
    assert min(x["lr"] for x in lines if "lr" in x) == pytest.approx(3e-3 * 0.05, rel=0.2)
    best = json.loads((run / "best" / "state.json").read_text())["val"]
    assert best["val_nats_per_token"] == min(v for _, v in vals)
    with pytest.raises(RnnlmError, match="overfit-decay"):
        train(resume=run)
