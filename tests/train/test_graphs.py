"""The CUDA-graph training step: where it applies, its optimizer state on disk, and (on a GPU)
the same losses and weights as the eager step, through a resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from rnnlm.config import ModelConfig
from rnnlm.models import build_model
from rnnlm.train.graphs import can_graph
from rnnlm.train.optim import load_optimizer_state, optimizer_state
from tests.conftest import tiny_config
from tests.train import resume_gap

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_graphs_only_for_stream_rnn_training_on_a_gpu() -> None:
    rnn = build_model(ModelConfig(hidden=8, embedding=4, vocab_size=5))
    transformer = build_model(ModelConfig(cell="transformer", hidden=8, heads=2, block=8,
                                          embedding=8, vocab_size=5))
    gpu = torch.device("cuda")
    assert can_graph(rnn, gpu, stream=True)
    assert not can_graph(rnn, torch.device("cpu"), stream=True)
    assert not can_graph(rnn, gpu, stream=False)  # documents: shapes change per batch
    assert not can_graph(transformer, gpu, stream=True)  # no carried state


def test_tensor_learning_rate_is_saved_as_a_number() -> None:
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    opt.param_groups[0]["lr"] = torch.tensor(2e-3)  # as GraphedStep sets it
    tensors, meta = optimizer_state(opt)
    meta = json.loads(json.dumps(meta))  # what checkpoint.json holds
    assert meta["param_groups"][0]["lr"] == pytest.approx(2e-3)
    fresh = torch.optim.AdamW(torch.nn.Linear(3, 2).parameters(), lr=1e-3)
    load_optimizer_state(fresh, tensors, meta)
    assert fresh.param_groups[0]["lr"] == pytest.approx(2e-3)


@cuda
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_graph_equals_eager_and_resumes(cell: str, shakespeare_100k: Path,
                                        tmp_path: Path) -> None:
    from rnnlm.train.trainer import Trainer

    losses, weights = [], []
    for graph in (False, True):
        config = tiny_config(shakespeare_100k, device="cuda", cuda_graph=graph)
        config.model.cell = cell
        trainer = Trainer(config, tmp_path / f"run-{graph}", resuming=False)
        assert (trainer.graphed is not None) == graph
        losses.append([float(trainer.train_step(1e-3)[0]) for _ in range(12)])
        weights.append(torch.cat([p.detach().flatten() for p in trainer.model.parameters()]))
    assert losses[0] == pytest.approx(losses[1], abs=1e-5)
    torch.testing.assert_close(weights[1], weights[0], atol=1e-5, rtol=0)

    def config(steps: int):  # --decay-steps: the same schedule for both runs
        c = tiny_config(shakespeare_100k, device="cuda", max_steps=steps, eval_every=10,
                        decay_steps=30)
        c.model.cell = cell
        return c

    assert resume_gap(config, 30, 20, tmp_path) <= 1e-5
