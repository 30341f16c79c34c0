"""Fixtures of encoder–decoder runs: a few hundred real Tatoeba pairs, a 1×32 LSTM."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import DATA, tiny_config


@pytest.fixture(scope="session")
def pairs_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every 100th of the first 40,000 Tatoeba pairs (400 short ones), as a tsv file."""
    lines = (DATA / "tatoeba-eng-fra" / "fra.txt").read_text(encoding="utf-8").split("\n")
    path = tmp_path_factory.mktemp("pairs") / "eng-fra.tsv"
    path.write_text("\n".join(lines[:40_000:100]) + "\n", encoding="utf-8")
    return path


def pairs_config(corpus: Path, **train: object):
    """A 1×32 LSTM encoder–decoder, char target side, word source side, 10 test pairs."""
    config = tiny_config(corpus, sample_length=1, warmup_steps=2, **train)
    config.model.hidden, config.model.embedding = 32, 16
    config.data.val_fraction, config.data.batch_size = 0.05, 16
    config.seq2seq.pairs, config.seq2seq.test_pairs = "tsv", 10
    config.seq2seq.source_tokenizer, config.seq2seq.source_vocab_size = "word", 500
    config.seq2seq.max_source_length = 40
    return config


@pytest.fixture(scope="session")
def pairs_run(pairs_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pairs run trained for 12 steps (shared, read-only)."""
    from rnnlm.train.trainer import train

    return train(pairs_config(pairs_file, max_steps=12, eval_every=6),
                 out=tmp_path_factory.mktemp("runs") / "pairs")


@pytest.fixture(scope="session")
def targets_file(pairs_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The French side, one sentence per line."""
    path = tmp_path_factory.mktemp("targets") / "fra.txt"
    path.write_text("".join(line.split("\t")[1] + "\n" for line in
                            pairs_file.read_text().splitlines()), encoding="utf-8")
    return path


def lm(targets: Path, out: Path, tokenizer_from: Path | None, documents: str | None,
       tokenizer: str = "char") -> Path:
    """A 6-step language model of the target side."""
    from rnnlm.train.trainer import train

    config = tiny_config(targets, max_steps=6, eval_every=6, sample_length=0)
    config.data.tokenizer = tokenizer
    config.data.documents = documents
    config.data.tokenizer_from = str(tokenizer_from) if tokenizer_from else None
    return train(config, out=out)


@pytest.fixture(scope="session")
def target_lm(pairs_run: Path, targets_file: Path, tmp_path_factory: pytest.TempPathFactory
              ) -> Path:
    """A documents-mode LM of the target side with the decoder's tokenizer."""
    return lm(targets_file, tmp_path_factory.mktemp("lm") / "lm", pairs_run, "lines")


@pytest.fixture(scope="session")
def other_lm(targets_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A documents-mode LM with a tokenizer of its own (bytes)."""
    return lm(targets_file, tmp_path_factory.mktemp("lm") / "other", None, "lines", "byte")


@pytest.fixture(scope="session")
def stream_lm(targets_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stream-mode LM."""
    return lm(targets_file, tmp_path_factory.mktemp("lm") / "stream", None, None)
