"""Shared fixtures: real corpora from RNNLM_DATA, an isolated cache, no network, tiny runs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("RNNLM_DATA") or ROOT.parent / "shared" / "data").resolve()
if not (DATA / "tiny-shakespeare" / "input.txt").is_file():
    raise pytest.UsageError(f"the test corpora are not at {DATA}; set RNNLM_DATA to the shared "
                            f"data folder (the one holding tiny-shakespeare/)")

torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(scope="session", autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The whole session: mirrors from RNNLM_DATA only, a private cache, downloads off."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RNNLM_DATA", str(DATA))
        mp.setenv("RNNLM_HOME", str(tmp_path_factory.mktemp("rnnlm-home")))
        mp.setenv("RNNLM_OFFLINE", "1")
        yield


@pytest.fixture(scope="session")
def shakespeare() -> str:
    """The whole of tiny-shakespeare."""
    return (DATA / "tiny-shakespeare" / "input.txt").read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def shakespeare_100k(tmp_path_factory: pytest.TempPathFactory, shakespeare: str) -> Path:
    """The first 100 kB of tiny-shakespeare as a file."""
    path = tmp_path_factory.mktemp("corpus") / "shakespeare100k.txt"
    path.write_text(shakespeare[:100_000], encoding="utf-8")
    return path


def tiny_config(corpus: Path | str, **train: object):
    """A small, fast configuration (1×64 LSTM) for tests."""
    from rnnlm.config import DataConfig, ModelConfig, RunConfig, TrainConfig

    t = TrainConfig(max_steps=60, eval_every=30, sample_length=20, warmup_steps=10,
                    precision="fp32", device="cpu")
    for key, value in train.items():
        setattr(t, key, value)
    return RunConfig(model=ModelConfig(layers=1, hidden=64, embedding=16, dropout=0.0),
                     data=DataConfig(corpus=[str(corpus)], batch_size=8, seq_len=32), train=t)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, shakespeare_100k: Path) -> Path:
    """A trained 1×64 LSTM run on 100 kB of Shakespeare (shared, read-only)."""
    from rnnlm.train.trainer import train

    out = tmp_path_factory.mktemp("runs") / "tiny"
    config = tiny_config(shakespeare_100k, max_steps=300, eval_every=150, lr=5e-3)
    config.model.hidden, config.data.batch_size = 128, 16
    return train(config, out=out)


@pytest.fixture(scope="session")
def abstracts_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 300 real abstracts, one per line."""
    lines = (DATA / "arxiv-abstracts" / "abstracts.txt").read_text(encoding="utf-8")
    path = tmp_path_factory.mktemp("docs") / "abstracts300.txt"
    path.write_text("\n".join(lines.split("\n")[:300]) + "\n", encoding="utf-8")
    return path


def doc_config(corpus: Path, steps: int, **data: object):
    """A tiny documents-mode config."""
    config = tiny_config(corpus, max_steps=steps, eval_every=steps, sample_length=30, lr=5e-3)
    config.data.documents, config.data.val_fraction, config.data.batch_size = "lines", 0.05, 8
    for key, value in data.items():
        setattr(config.data, key, value)
    return config


@pytest.fixture(scope="session")
def doc_run(abstracts_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A documents-mode run trained for 40 steps."""
    from rnnlm.train.trainer import train

    return train(doc_config(abstracts_file, 40, chunk=256),
                 out=tmp_path_factory.mktemp("runs") / "docs")
