"""Training under torchrun (DDP, gloo, two CPU processes of one thread each): the same weights
as one process over the same global batch, validation equal to the one-process full pass,
exact resume (also from another number of processes), a killed rank that ends the job, and
the one-line error for more processes than columns."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from rnnlm.checkpoint import is_complete, recover
from rnnlm.config import RunConfig
from rnnlm.configfile import load_json
from rnnlm.data.batching import StreamBatches
from rnnlm.data.buckets import DocumentBatches
from rnnlm.data.corpora import load_corpus
from rnnlm.data.documents import cut_documents
from rnnlm.data.prepared import prepare_corpus
from rnnlm.data.tokens import DocumentIds, TokenArray
from rnnlm.errors import RnnlmError
from rnnlm.inference.scoring import WHOLE, Share, column_totals, document_totals
from rnnlm.inference.splits import select
from rnnlm.language_model import LanguageModel
from rnnlm.models import build_model
from rnnlm.models.state import IGNORE
from rnnlm.tokenizers import load_tokenizer
from rnnlm.train.distributed import World
from rnnlm.train.setup import batches
from rnnlm.train.trainer import train
from tests.conftest import ROOT, tiny_config

TINY = ["--layers", "1", "--hidden", "64", "--embedding", "16", "--dropout", "0",
        "--batch-size", "8", "--seq-len", "32", "--warmup-steps", "5", "--decay-steps", "20",
        "--eval-every", "10", "--sample-length", "20", "--device", "cpu", "--precision", "fp32"]
DOCS = ["--documents", "lines", "--val-fraction", "0.3", "--chunk", "128"]


def command(args: list[str], nproc: int = 2, nodes: list[str] | None = None) -> list[str]:
    """`torchrun ... -m rnnlm train ARGS` (one node, or `nodes`: rendezvous options)."""
    where = nodes or ["--standalone"]
    return [sys.executable, "-m", "torch.distributed.run", *where, "--nproc_per_node",
            str(nproc), "-m", "rnnlm", "train", *args]


def env() -> dict[str, str]:
    """This test session's environment (its corpus mirror and cache), one thread per rank."""
    return {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}


def torchrun(args: list[str], nproc: int = 2) -> subprocess.CompletedProcess[str]:
    """Run a torchrun job to its end; fail the test on a non-zero exit."""
    done = subprocess.run(command(args, nproc), env=env(), capture_output=True, text=True,
                          timeout=240)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done


def weights(run: Path) -> dict[str, torch.Tensor]:
    """The weights of a run's last/ checkpoint."""
    return load_file(str(run / "last" / "model.safetensors"))


def gap(a: Path, b: Path) -> float:
    """The largest weight difference between two runs' last/ checkpoints."""
    wa, wb = weights(a), weights(b)
    return max((wa[k] - wb[k]).abs().max().item() for k in wa)


def alone(run: Path, out: Path, steps: int | None = None) -> Path:
    """The same run in one process (its config.json), optionally with another budget."""
    config = load_json(run / "config.json")
    config.train.max_steps = steps or config.train.max_steps
    return train(config, out=out)


def val_scores(run: Path, which: str = "last") -> dict[str, float]:
    """The validation scores recorded in a checkpoint."""
    return json.loads((run / which / "state.json").read_text())["val"]


def full_pass(run: Path) -> dict[str, float]:
    """One process's full pass over the run's validation split with its last/ weights."""
    config: RunConfig = load_json(run / "config.json")
    val = select(load_corpus(config.data.corpus), config.data, "val")  # as `rnnlm eval` reads it
    result = LanguageModel.load(run, which="last", precision="fp32").score(val)
    return {"val_nats_per_token": result.nats_per_token,
            "val_bits_per_char": result.bits_per_char, "val_characters": result.characters}


@pytest.fixture(scope="module")
def stream_pair(shakespeare_100k: Path, tmp_path_factory: pytest.TempPathFactory
                ) -> tuple[Path, Path]:
    """20 steps on 2 processes, and the same run in one."""
    out = tmp_path_factory.mktemp("ddp")
    torchrun([str(shakespeare_100k), "--out", str(out / "ddp"), "--max-steps", "20", *TINY])
    return out / "ddp", alone(out / "ddp", out / "one")


def test_two_processes_train_the_weights_of_one(stream_pair: tuple[Path, Path]) -> None:
    ddp, one = stream_pair
    assert gap(ddp, one) <= 1e-5  # DDP sums the ranks' gradients in another order


def test_validation_is_the_one_process_full_pass(stream_pair: tuple[Path, Path]) -> None:
    ddp, _ = stream_pair
    assert val_scores(ddp) == full_pass(ddp)  # exactly: nats summed over ranks, not averaged


def test_only_rank_0_writes(stream_pair: tuple[Path, Path]) -> None:
    ddp, one = stream_pair
    lines = [json.loads(x) for x in (ddp / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines if "val_nats_per_token" in x] == [10, 20]
    assert (ddp / "samples.txt").read_text().count("=== step") == 2
    assert {p.name for p in ddp.iterdir()} == {p.name for p in one.iterdir()}
    state = json.loads((ddp / "last" / "state.json").read_text())
    assert state["world_size"] == 2 and state["tokens_seen"] == 20 * 8 * 32  # global tokens
    hidden = load_file(str(ddp / "last" / "trainer.safetensors"))["state.0"]
    assert hidden.shape == (1, 8, 64)  # (L, B, H): every rank's columns


def test_resume_on_two_processes_from_one(stream_pair: tuple[Path, Path], tmp_path: Path
                                          ) -> None:
    ddp, _ = stream_pair
    half = alone(ddp, tmp_path / "half", steps=10)  # its hidden state: all 8 columns
    torchrun(["--resume", str(half), "--max-steps", "20"])
    assert gap(half, ddp) <= 1e-5


def test_documents_train_and_validate_as_one_process(abstracts_file: Path,
                                                     tmp_path: Path) -> None:
    corpus = tmp_path / "abstracts14.txt"  # 10 to train on: 16 steps an epoch, 4 to validate
    corpus.write_text("\n".join(abstracts_file.read_text().split("\n")[:14]) + "\n")
    ddp = tmp_path / "ddp"
    torchrun([str(corpus), "--out", str(ddp), "--max-steps", "20", *TINY, *DOCS])
    config: RunConfig = load_json(ddp / "config.json")
    tokenizer = load_tokenizer(ddp / "tokenizer.json")
    body = prepare_corpus(config.data, tokenizer).splits["train"]
    rank_0 = batches(config, tokenizer, body, torch.device("cpu"), block=World(0, 2).block(8))
    assert any(not rank_0.next()[0].keys for _ in range(20))  # steps where rank 0 had no rows
    assert gap(ddp, alone(ddp, tmp_path / "one")) <= 1e-5
    assert val_scores(ddp) == full_pass(ddp)


def rank_pid(parent: int, rank: int) -> int | None:
    """The pid of the worker of `rank` among the descendants of a torchrun process."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            status = (entry / "status").read_text()
        except OSError:
            continue
        ppid = int(next(ln for ln in status.splitlines() if ln.startswith("PPid:")).split()[1])
        if ppid == parent and f"RANK={rank}".encode() in environ:
            return int(entry.name)
    return None


def wait_for_checkpoint(run: Path, procs: list[subprocess.Popen[str]]) -> None:
    """Until rank 0 has written the run's first last/ checkpoint."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and all(p.poll() is None for p in procs):
        if is_complete(run / "last"):
            return
        time.sleep(0.05)
    pytest.fail("the run did not reach its first checkpoint")


def kill_rank_1(procs: list[subprocess.Popen[str]]) -> float:
    """kill -9 the worker of rank 1; returns when that was."""
    pid = next(p for p in (rank_pid(proc.pid, 1) for proc in procs) if p is not None)
    os.kill(pid, signal.SIGKILL)
    return time.monotonic()


def test_a_killed_rank_ends_the_job_and_the_run_resumes_exactly(shakespeare_100k: Path,
                                                               tmp_path: Path) -> None:
    run = tmp_path / "run"
    args = [str(shakespeare_100k), "--out", str(run), *TINY, "--max-steps", "100000",
            "--layers", "2", "--dropout", "0.2", "--decay-steps", "60", "--sample-length", "0"]
    job = subprocess.Popen(command(args), env=env(), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    wait_for_checkpoint(run, [job])
    killed = kill_rank_1([job])
    out, _ = job.communicate(timeout=60)
    assert time.monotonic() - killed < 30 and job.returncode != 0
    assert "rank      : 1" in out and "SIGKILL" in out  # torchrun names the dead rank
    recover(run / "last")  # rank 0 may have been stopped inside a checkpoint write
    assert is_complete(run / "last")
    step = json.loads((run / "last" / "state.json").read_text())["step"]
    end = str(step + 20)
    torchrun(["--resume", str(run), "--max-steps", end])  # dropout: each rank's RNG resumes
    whole = tmp_path / "whole"
    torchrun([*args[:2], str(whole), *args[3:], "--max-steps", end])
    assert gap(run, whole) <= 1e-6


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def test_a_rank_lost_on_another_node_is_a_one_line_error(shakespeare_100k: Path,
                                                         tmp_path: Path) -> None:
    run = tmp_path / "run"
    nodes = ["--nnodes", "2", "--rdzv_backend", "c10d", "--rdzv_id", "test",
             "--rdzv_endpoint", f"localhost:{free_port()}"]
    args = [str(shakespeare_100k), "--out", str(run), *TINY, "--max-steps", "100000"]
    agents = [subprocess.Popen(command(args, 1, nodes), env=env(), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    wait_for_checkpoint(run, agents)
    killed = kill_rank_1(agents)
    outs = [agent.communicate(timeout=60)[0] for agent in agents]
    assert time.monotonic() - killed < 30 and all(a.returncode != 0 for a in agents)
    said = [ln for out in outs for ln in out.splitlines() if "rnnlm: error: rank 0 of 2" in ln]
    assert len(said) == 1 and "another rank stopped during step" in said[0]
    assert f"--resume {run}" in said[0]


def test_more_processes_than_columns_is_a_one_line_error(shakespeare_100k: Path,
                                                         tmp_path: Path) -> None:
    done = subprocess.run(command([str(shakespeare_100k), "--out", str(tmp_path / "r"), *TINY,
                                   "--batch-size", "2"], nproc=3),
                          env=env(), capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    lines = [ln for ln in done.stderr.splitlines() if "rnnlm: error:" in ln]
    assert len(lines) == 1  # once per node, not once per rank
    assert lines[0].startswith("rnnlm: error: torchrun started 3 processes, more than the 2 "
                               "stream columns of --batch-size 2")
    assert "give --batch-size 3 (or a multiple), or start 1 or 2 processes" in lines[0]
    assert not (tmp_path / "r").exists()


def test_columns_that_do_not_split_evenly_are_refused() -> None:
    with pytest.raises(RnnlmError, match=r"--batch-size 10 does not split evenly over 4 "
                                         r"processes .* give --batch-size 12, or start 1, 2, "
                                         r"5 or 10 processes"):
        World(rank=1, size=4).check_rows(10, "stream")  # local rank 0 of its node
    World(rank=1, size=4).check_rows(8, "documents")


def test_ranks_read_their_blocks_of_the_same_columns() -> None:
    ids = torch.arange(5000)
    whole = StreamBatches(ids, 8, 16, seed=3)
    ranks = [StreamBatches(ids, 8, 16, 3, block=World(r, 4).block(8)) for r in range(4)]
    for _ in range(2 * whole.steps_per_epoch):  # into a second epoch (a new offset)
        x, y, start = whole.next()
        parts = [b.next() for b in ranks]
        assert torch.equal(torch.cat([p[0] for p in parts]), x)
        assert torch.equal(torch.cat([p[1] for p in parts]), y)
        assert all(p[2] == start for p in parts)


@pytest.mark.parametrize("chunk", [0, 5])
def test_ranks_read_their_rows_of_the_same_document_batches(chunk: int) -> None:
    rng = np.random.default_rng(0)
    seqs = [np.concatenate([[50], rng.integers(0, 50, int(n)), [51]])
            for n in rng.integers(1, 28, 37)]
    pieces = cut_documents(seqs, None, chunk)
    whole = DocumentBatches(pieces, 8, seed=1)
    ranks = [DocumentBatches(pieces, 8, 1, block=World(r, 2).block(8)) for r in range(2)]
    emptied = 0
    for _ in range(sum(1 for _ in whole.plan(0)) + 3):  # past an epoch's end
        batch, _ = whole.next()
        parts = [b.next()[0] for b in ranks]
        assert [k for p in parts for k in p.keys] == batch.keys
        assert all(p.tokens == int(batch.lengths.sum()) for p in parts)
        for p in parts:
            if not p.keys:  # an empty block: one row, nothing to learn from
                emptied += 1
                assert p.inputs.shape == (1, 1) and (p.targets == IGNORE).all()
    assert emptied or not chunk  # the chunked epoch ends with empty slots


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn", "transformer"])
def test_shares_of_a_pass_add_up_to_the_whole_exactly(cell: str, shakespeare: str) -> None:
    config = tiny_config("x")
    config.model.cell, config.model.heads = cell, 4
    config = config.resolve()
    config.model.vocab_size = 70
    model = build_model(config.model, torch.device("cpu"))
    ids = torch.as_tensor([ord(c) % 70 for c in shakespeare[:12_000]])
    # the transformer reads a document longer than its block in windows whose last one ends
    # at the batch's padded length, so only documents within the block score alike in any batch
    longest = config.model.block if cell == "transformer" else None
    seqs = [np.array([0, *(ord(c) % 70 for c in line[:longest]), 1])  # 0, 1: BOD, EOD
            for line in shakespeare[:6000].split("\n") if len(line) > 1]
    cpu = torch.device("cpu")
    # nn.LSTM's sums are bit for bit; rnnlm's own CPU GRU and Elman layers (one GEMM over every
    # (time, column) row) and the transformer's attention round float32 by the number of rows
    # on some CPUs (AVX-512 EPYC: ~1e-9 relative per unit), so they are held to 1e-8
    tol = 0.0 if cell == "lstm" else 1e-8
    for units in (lambda s: column_totals(model, TokenArray(ids.numpy()), cpu, share=s),
                  lambda s: document_totals(model, DocumentIds.from_seqs(seqs), cpu, share=s)):
        whole = units(WHOLE)  # (units,) float64 nats
        for size in (2, 3):
            parts = [units(Share(rank, size)) for rank in range(size)]  # zeros outside each
            assert all((p != 0).sum() < (whole != 0).sum() for p in parts)
            torch.testing.assert_close(sum(parts), whole, rtol=tol, atol=0.0)
            assert WHOLE.total(sum(parts)) == pytest.approx(WHOLE.total(whole), rel=tol)

