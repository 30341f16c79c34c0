"""Fixtures of encoder–decoder runs: a few hundred real Tatoeba pairs, a 1×32 LSTM."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import DATA, tiny_config


@pytest.fixture(scope="session")
def pairs_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every 200th Tatoeba pair (714 pairs), as a tsv file."""
    lines = (DATA / "tatoeba-eng-fra" / "fra.txt").read_text(encoding="utf-8").split("\n")
    path = tmp_path_factory.mktemp("pairs") / "eng-fra.tsv"
    path.write_text("\n".join(lines[::200]) + "\n", encoding="utf-8")
    return path


def pairs_config(corpus: Path, **train: object):
    """A 1×32 LSTM encoder–decoder, char target side, word source side, 20 test pairs."""
    config = tiny_config(corpus, sample_length=1, warmup_steps=2, **train)
    config.model.hidden, config.model.embedding = 32, 16
    config.data.val_fraction, config.data.batch_size = 0.05, 16
    config.seq2seq.pairs, config.seq2seq.test_pairs = "tsv", 20
    config.seq2seq.source_tokenizer, config.seq2seq.source_vocab_size = "word", 500
    config.seq2seq.max_source_length = 40
    return config


@pytest.fixture(scope="session")
def pairs_run(pairs_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pairs run trained for 30 steps (shared, read-only)."""
    from rnnlm.train.trainer import train

    return train(pairs_config(pairs_file, max_steps=30, eval_every=15),
                 out=tmp_path_factory.mktemp("runs") / "pairs")


@pytest.fixture(scope="session")
def target_lm(pairs_run: Path, pairs_file: Path, tmp_path_factory: pytest.TempPathFactory
              ) -> Path:
    """A documents-mode LM of the target side with the decoder's tokenizer."""
    from rnnlm.train.trainer import train

    folder = tmp_path_factory.mktemp("targets")
    targets = folder / "fra.txt"
    targets.write_text("".join(line.split("\t")[1] + "\n" for line in
                               pairs_file.read_text().splitlines()), encoding="utf-8")
    config = tiny_config(targets, max_steps=10, eval_every=10, sample_length=0)
    config.data.documents, config.data.tokenizer_from = "lines", str(pairs_run)
    return train(config, out=folder / "lm")
